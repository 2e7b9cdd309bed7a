"""The real-data check suite: every method on the bundled real data, one row per method.

Issue 11: scores on synthetic scenes say little about real L1C. :func:`run_real_checks` runs
the methods through :mod:`dfmask_lib.compare` (the same pixels for every method, each on the
classes it claims) on

* ``ukis`` / ``ukis-20m``: the ukis-csmask chip (farmland with cumulus, curated 4-class
  reference, no snow) at 10 m and averaged to 20 m: OA, per-class IoU, and the share of the
  reference's cloud missed, and called clear land (issue 11's symptom; methods claiming it);
* ``18svg``: cloud-free 18SVG: the false cloud fraction (%);
* ``betsiboka``: cloud IoU against s2cloudless's mask (agreement with s2cloudless, not truth);
* ``glacier``: the hand-classified Alaska glacier points (:func:`glacier_mosaic`): each point's
  13-band TOA spectrum fills a uniform square patch, the patches are laid out as one mosaic
  scene (one method call for all 5,761 points), and the point's class is the method's class of
  its patch's centre pixel. Scored per point class (snow, shadowed snow, glacier ice: snow/ice
  is right; rock/debris: clear land is right) as the share of the points right (NaN for a
  method that does not claim the right class), plus the share called cloud. **Caveats**: a
  point has no spatial context; a method that uses it sees the mosaic -- the neighbouring
  patches (laid out by point class, then by green reflectance, so neighbours are similar
  points, as on a glacier), Fmask's scene-wide thresholds and SCSI computed over the mosaic,
  shadow matching between patches -- so contextual methods behave as on an artificial field.
  With :data:`GLACIER_PATCH` 16 px a network's receptive field spans several patches.
  Beside the methods, the **Fmask per-pixel tests** (the project's own functions) are applied
  to each point: potential snow (Zhu & Woodcock 2012 eq. 20,
  :func:`dfmask_lib.fmask.masks.potential_snow`), the basic cloud test (ZW12 eqs. 1-4,
  :func:`~dfmask_lib.fmask.masks.basic_cloud_test`) and the water test (ZW12 eq. 5,
  :func:`~dfmask_lib.fmask.masks.water_test`); the potential snow test enters the table as a
  row of its own (a point passes as snow/ice, fails as clear land).

:class:`RealChecks` holds the comparisons and :meth:`RealChecks.table`: one row per method,
columns :data:`COLUMNS`; ``to_csv`` / ``to_json`` write it atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from .atomic import ResultFiles
from .classes import CLEAR, CLOUD, NODATA
from .compare import Comparison, SceneInput, compare_inputs, compare_scene
from .errors import ConfigError
from .peers.methods import Method, parse_methods
from .scene import S2_BANDS, Scene

__all__ = ["CHECKS", "CHECK_DATA", "COLUMNS", "GLACIER_PATCH", "GLACIER_RESOLUTION", "FMASK_TESTS",
           "GlacierChecks", "RealChecks", "glacier_mosaic", "fmask_point_tests",
           "glacier_checks", "run_real_checks"]

log = logging.getLogger(__name__)

#: The checks, in table order.
CHECKS: tuple[str, ...] = ("ukis", "ukis-20m", "18svg", "betsiboka", "glacier")
#: The bundled dataset (:data:`dfmask_lib.realdata.BUNDLED`) of each scene check.
CHECK_DATA: Mapping[str, str] = MappingProxyType({
    "ukis": "ukis-chip", "ukis-20m": "ukis-chip-20m", "18svg": "18svg", "betsiboka": "betsiboka"})
#: Side of a glacier point's uniform patch, px: the centre pixel lies 8 px from other patches
#: (Fmask's 3 px cloud / snow buffers cannot reach it); 5,761 points make a 1.5 Mpx mosaic.
GLACIER_PATCH = 16
#: Pixel size of the mosaic, metres (the paper's and Fmask's grid).
GLACIER_RESOLUTION = 20.0
#: The Fmask per-pixel tests applied to the glacier points, name -> what it is.
FMASK_TESTS: Mapping[str, str] = MappingProxyType({
    "potential snow": "NDSI > 0.15 and B8A > 0.11 and B03 > 0.10 (Zhu & Woodcock 2012 eq. 20)",
    "basic cloud": "potential cloud pixel, spectral part (Zhu & Woodcock 2012 eqs. 1-4)",
    "water": "(NDVI < 0.01 and B8A < 0.11) or (0 < NDVI < 0.1 and B8A < 0.05) (ZW12 eq. 5)",
})
_POINT_COLUMN = {1: "snow", 2: "shadowed snow", 3: "glacier ice", 4: "rock"}
_SNOW_ROW = "Fmask potential snow test (ZW12 eq. 20), per point"

#: The table's columns, in order.
COLUMNS: tuple[str, ...] = (
    "method", "ukis OA", "ukis cloud IoU", "ukis shadow IoU", "ukis water IoU",
    "ukis land IoU", "ukis cloud missed %", "ukis cloud called land %", "ukis scored on", "ukis-20m OA",
    "ukis-20m cloud IoU", "18SVG false cloud %", "Betsiboka cloud IoU",
    *(f"glacier {v} acc" for v in _POINT_COLUMN.values()), "glacier mean acc",
    "glacier called cloud %", "skipped")


# --------------------------------------------------------------------------- the glacier points


def glacier_mosaic(reflectance: np.ndarray, point_class: np.ndarray, *,
                   patch: int = GLACIER_PATCH, resolution: float = GLACIER_RESOLUTION,
                   sun: tuple[float, float] | None = None
                   ) -> tuple[Scene, np.ndarray, np.ndarray]:
    """One scene of uniform patches, one per point.

    Args:
        reflectance: float32 (N, 13) TOA in S2_BANDS order. point_class: int (N,) (used only
            for the layout: by class, then by B03, so that neighbouring patches are similar).
        patch: side of each patch, px (>= 1). resolution: pixel size, m.
        sun: (zenith, azimuth) degrees; default the Alaska mid-July sun
            (:data:`dfmask_lib.realdata.GLACIER_SUN`).

    Returns:
        (scene of ceil(sqrt(N)) x ... patches -- slots beyond N hold 0, no data --,
        int64 (N, 2) the row, col of each point's centre pixel, int64 (N,) the layout order).

    Raises:
        ConfigError: a bad patch size or array shape.
    """
    from .fmask.product import array_scene

    refl = np.asarray(reflectance, dtype=np.float32)
    if refl.ndim != 2 or refl.shape[1] != len(S2_BANDS):
        raise ConfigError(f"reflectance must be (N, 13) in S2 band order, got {refl.shape}")
    if not isinstance(patch, (int, np.integer)) or patch < 1:
        raise ConfigError(f"patch must be a positive number of pixels, got {patch!r}")
    n = refl.shape[0]
    order = np.lexsort((refl[:, S2_BANDS.index("B03")], np.asarray(point_class)))
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    image = np.zeros((len(S2_BANDS), rows * patch, cols * patch), dtype=np.float32)
    centres = np.zeros((n, 2), dtype=np.int64)
    for slot, i in enumerate(order):
        r, c = divmod(slot, cols)
        image[:, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch] = refl[i][:, None, None]
        centres[i] = (r * patch + patch // 2, c * patch + patch // 2)
    if sun is None:
        from .realdata import GLACIER_SUN
        from .synthetic.splits import sun_position

        sun = sun_position(GLACIER_SUN[0], int(GLACIER_SUN[1]), GLACIER_SUN[2])
    scene = array_scene(image, resolution=resolution, sun_zenith=sun[0], sun_azimuth=sun[1],
                        source="glacier points mosaic")
    return scene, centres, order


def fmask_point_tests(reflectance: np.ndarray) -> dict[str, np.ndarray]:
    """The Fmask per-pixel tests (:data:`FMASK_TESTS`) of each point: name -> bool (N,).

    Args:
        reflectance: float32 (N, 13) TOA in S2_BANDS order. NIR is B8A, as in
            :func:`dfmask_lib.fmask.run_fmask`; no saturation flags (points have none).
    """
    from .fmask import indices, masks

    refl = np.asarray(reflectance, dtype=np.float32)
    band = {b: refl[None, :, i] for i, b in enumerate(S2_BANDS)}  # (1, N): a 1-row image
    green, nir, red = band["B03"], band["B8A"], band["B04"]
    ndsi, ndvi = indices.ndsi(green, band["B11"]), indices.ndvi(red, nir)
    white = indices.whiteness(band["B02"], green, red)
    hot = indices.hot(band["B02"], red)
    return {"potential snow": masks.potential_snow(ndsi, nir, green)[0],
            "basic cloud": masks.basic_cloud_test(band["B12"], ndsi, ndvi, white, hot, nir,
                                                  band["B11"])[0],
            "water": masks.water_test(ndvi, nir)[0]}


@dataclass(frozen=True, eq=False)
class GlacierChecks:
    """The glacier-point check.

    Attributes:
        point_class: int64 (N,) source classes 1-4. expected: uint8 (N,) project codes.
        predictions: method name -> uint8 (N,) its class of each point (0: no answer).
        claims: method name -> the classes it claims. skipped: method name -> reason.
        tests: :func:`fmask_point_tests` of the points. comparison: the mosaic comparison.
        patch: the patch side used.
    """

    point_class: np.ndarray
    expected: np.ndarray
    predictions: Mapping[str, np.ndarray]
    claims: Mapping[str, frozenset[int]]
    skipped: Mapping[str, str]
    tests: Mapping[str, np.ndarray]
    comparison: Comparison
    patch: int

    def accuracy(self, name: str) -> dict[str, float]:
        """Per point class (:data:`_POINT_COLUMN` names) the share of the answered points the
        method got right (NaN when it does not claim the right class or answered none), their
        mean (``mean``), and ``called cloud``: the share of all answered points called cloud."""
        pred, claims = self.predictions[name], self.claims[name]
        out: dict[str, float] = {}
        for code, col in _POINT_COLUMN.items():
            sel = (self.point_class == code) & (pred != NODATA)
            right = int(self.expected[self.point_class == code][0]) if (
                self.point_class == code).any() else NODATA
            out[col] = float(np.mean(pred[sel] == right)) if sel.any() and right in claims \
                else float("nan")
        vals = [v for v in out.values() if np.isfinite(v)]
        out["mean"] = float(np.mean(vals)) if len(vals) == len(_POINT_COLUMN) else float("nan")
        answered = pred != NODATA
        out["called cloud"] = float(np.mean(pred[answered] == CLOUD)) if answered.any() \
            else float("nan")
        return out

    def test_rows(self) -> list[dict[str, Any]]:
        """Per Fmask test: its definition and the share of each point class that passes it."""
        rows = []
        for test, passed in self.tests.items():
            row: dict[str, Any] = {"test": test, "definition": FMASK_TESTS[test]}
            for code, col in _POINT_COLUMN.items():
                sel = self.point_class == code
                row[f"{col} pass %"] = 100 * float(passed[sel].mean()) if sel.any() \
                    else float("nan")
            rows.append(row)
        return rows

    def snow_test_accuracy(self) -> dict[str, float]:
        """The potential snow test as a classifier: snow classes right when it passes, rock
        right when it fails; keys as :meth:`accuracy` (``called cloud`` NaN)."""
        snow = self.tests["potential snow"]
        out: dict[str, float] = {}
        for code, col in _POINT_COLUMN.items():
            sel = self.point_class == code
            hit = snow[sel] if code != 4 else ~snow[sel]
            out[col] = float(hit.mean()) if sel.any() else float("nan")
        out["mean"] = float(np.mean([out[c] for c in _POINT_COLUMN.values()]))
        out["called cloud"] = float("nan")
        return out


def glacier_checks(methods: Sequence[Any], *, patch: int = GLACIER_PATCH,
                   repeats: int = 1) -> GlacierChecks:
    """The glacier-point check of ``methods`` (see the module docstring)."""
    from .realdata import glacier_points

    methods = [Method.wrap(m) for m in methods]
    pts = glacier_points()
    scene, centres, _ = glacier_mosaic(pts.reflectance, pts.point_class, patch=patch)
    truth = np.zeros(scene.shape, dtype=np.uint8)
    half = patch // 2
    for (r, c), code in zip(centres, pts.classes):
        truth[r - half:r - half + patch, c - half:c - half + patch] = code
    truth[~scene.valid] = NODATA
    comparison = compare_scene(scene, truth, methods, repeats=repeats, name="glacier",
                               keep_maps=True)
    result = comparison.scenes["glacier"]
    preds = {n: m[centres[:, 0], centres[:, 1]].astype(np.uint8) for n, m in result.maps.items()}
    skipped = {n: m.skipped for n, m in result.methods.items() if m.skipped}
    return GlacierChecks(pts.point_class, pts.classes, MappingProxyType(preds),
                         MappingProxyType({m.name: m.claims for m in methods}),
                         MappingProxyType(skipped), MappingProxyType(
                             fmask_point_tests(pts.reflectance)), comparison, patch)


# --------------------------------------------------------------------------- the suite


@dataclass(frozen=True, eq=False)
class RealChecks(ResultFiles):
    """The suite's results.

    Attributes:
        methods: (name, label) of each method, in order.
        comparisons: check name -> its :class:`~dfmask_lib.compare.Comparison` (ukis,
            ukis-20m, 18svg, betsiboka; those run).
        glacier: the glacier-point check, or None when not run.
    """

    methods: tuple[tuple[str, str], ...]
    comparisons: Mapping[str, Comparison]
    glacier: GlacierChecks | None = None
    checks: tuple[str, ...] = field(default=CHECKS)

    def _method(self, check: str, name: str):
        comp = self.comparisons.get(check)
        return None if comp is None else comp.scenes[check].methods[name]

    def row(self, name: str, label: str) -> dict[str, Any]:
        """The table row of one method (NaN where a check did not run or does not apply)."""
        nan = float("nan")
        row: dict[str, Any] = {c: nan for c in COLUMNS}
        row.update({"method": label, "ukis scored on": "-", "skipped": ""})
        skips = []
        for check in ("ukis", "ukis-20m", "18svg", "betsiboka"):
            m = self._method(check, name)
            if m is None:
                continue
            if m.skipped:
                skips.append(f"{check}: {m.skipped}")
                continue
            s, c = m.scores, m.cloud
            if check == "ukis":
                row["ukis OA"] = s.oa if s else nan
                row["ukis scored on"] = m.scored_on or "-"
                iou = m.row()
                for col, key in (("ukis cloud IoU", "cloud"), ("ukis shadow IoU", "cloud shadow"),
                                 ("ukis water IoU", "water"), ("ukis land IoU", "clear land")):
                    row[col] = iou[f"IoU {key}"]
                cm = m.confusion
                if cm is not None and cm[CLOUD].sum():
                    cloud = int(cm[CLOUD].sum())
                    row["ukis cloud missed %"] = 100 * (1 - int(cm[CLOUD, CLOUD]) / cloud)
                    if CLEAR in m.claims:
                        row["ukis cloud called land %"] = 100 * int(cm[CLOUD, CLEAR]) / cloud
            elif check == "ukis-20m":
                row["ukis-20m OA"] = s.oa if s else nan
                row["ukis-20m cloud IoU"] = c.iou[CLOUD] if c else nan
            elif check == "18svg":
                row["18SVG false cloud %"] = 100 * m.cloud_share
            else:
                row["Betsiboka cloud IoU"] = c.iou[CLOUD] if c else nan
        if self.glacier is not None:
            if name in self.glacier.skipped:
                skips.append(f"glacier: {self.glacier.skipped[name]}")
            else:
                self._glacier_into(row, self.glacier.accuracy(name))
        row["skipped"] = "; ".join(skips)
        return row

    @staticmethod
    def _glacier_into(row: dict[str, Any], acc: Mapping[str, float]) -> None:
        for col in _POINT_COLUMN.values():
            row[f"glacier {col} acc"] = acc[col]
        row["glacier mean acc"] = acc["mean"]
        row["glacier called cloud %"] = 100 * acc["called cloud"]

    def ran(self, name: str) -> bool:
        """Whether method ``name`` ran on at least one check."""
        scene_checks = [self._method(c, name) for c in self.comparisons]
        if any(m is not None and not m.skipped for m in scene_checks):
            return True
        return self.glacier is not None and name not in self.glacier.skipped

    def table(self, *, ran_only: bool = False) -> list[dict[str, Any]]:
        """One row per method (columns :data:`COLUMNS`; with ``ran_only`` only the methods that
        ran on some check), then, when the glacier check ran, the row of the Fmask potential
        snow test on the points."""
        rows = [self.row(n, label) for n, label in self.methods
                if not ran_only or self.ran(n)]
        if self.glacier is not None:
            row: dict[str, Any] = {c: float("nan") for c in COLUMNS}
            row.update({"method": _SNOW_ROW, "ukis scored on": "-", "skipped": ""})
            self._glacier_into(row, self.glacier.snow_test_accuracy())
            rows.append(row)
        return rows

    def fmask_tests(self) -> list[dict[str, Any]]:
        """The Fmask per-pixel tests on the glacier points (:meth:`GlacierChecks.test_rows`);
        empty without the glacier check."""
        return [] if self.glacier is None else self.glacier.test_rows()

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: the checks, the table, the Fmask point tests, each
        comparison (:meth:`Comparison.to_dict`)."""
        out = {"checks": list(self.checks), "table": self.table(),
               "fmask_point_tests": self.fmask_tests(),
               "comparisons": {k: v.to_dict() for k, v in self.comparisons.items()}}
        if self.glacier is not None:
            out["glacier"] = {"patch_px": self.glacier.patch,
                              "resolution_m": GLACIER_RESOLUTION,
                              "comparison": self.glacier.comparison.to_dict()}
        return out



def _inputs(checks: Sequence[str]) -> list[SceneInput]:
    from .realdata import BUNDLED

    return [SceneInput(c, BUNDLED[CHECK_DATA[c]].load, BUNDLED[CHECK_DATA[c]].claims)
            for c in checks if c in CHECK_DATA]


def run_real_checks(methods: Any, *, repeats: int = 1,
                    checks: Sequence[str] = CHECKS,
                    glacier_patch: int = GLACIER_PATCH, keep_maps: bool = False) -> RealChecks:
    """Run the real-data checks (the module docstring) for ``methods``.

    Args:
        methods: Methods, Peers, DfmaskModels, or a ``--methods`` spec string
            (:func:`dfmask_lib.compare.parse_methods`).
        repeats: timing rounds per scene (the scores do not depend on it).
        checks: a subset of :data:`CHECKS`, e.g. ``("ukis", "glacier")``.
        glacier_patch: the glacier points' patch side, px.
        keep_maps: keep each method's class map in the comparisons (for figures and
            :func:`dfmask_lib.spectra.error_sources`).

    Returns:
        :class:`RealChecks`; methods that cannot run on a check are skipped there with their
        reason (the row's ``skipped``), never a failure.

    Raises:
        ConfigError: an unknown check, no methods. MissingDataError: real data unavailable.
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown or not checks:
        raise ConfigError(f"unknown checks {unknown}; choose from {', '.join(CHECKS)}")
    methods = parse_methods(methods) if isinstance(methods, str) else [Method.wrap(m)
                                                                       for m in methods]
    if not methods:
        raise ConfigError("no methods given; pass Methods or a spec like 'fmask,hollstein'")
    comparisons: dict[str, Comparison] = {}
    for item in _inputs(checks):
        comp = compare_inputs([item], methods, repeats=repeats, keep_maps=keep_maps)
        comparisons[item.name] = comp
    glacier = glacier_checks(methods, patch=glacier_patch, repeats=repeats) \
        if "glacier" in checks else None
    return RealChecks(tuple((m.name, m.label) for m in methods), MappingProxyType(comparisons),
                      glacier, tuple(checks))
