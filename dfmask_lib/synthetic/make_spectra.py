"""Rebuild ``spectra.csv``: the cited TOA spectra behind the synthetic scenes.

Run ``python -m dfmask_lib.synthetic.make_spectra`` to regenerate the table. Two kinds of rows:

* **Measured** (fresh snow, shadowed snow, glacier ice, rock/moraine): class means and standard
  deviations of the hand-classified Sentinel-2 points on Gulkana and Wolverine glaciers, Alaska,
  June-August 2021 (GitHub ``RaineyAbe/glacier-snow-cover-mapping``, MIT; Aberle et al.,
  "Automated snow cover detection on mountain glaciers using spaceborne imagery", 2023),
  obtained through the data registry (``glacier_points_alaska/``).
  Column trap of those files (verified): in the TOA file the column named ``B11`` holds B10
  (cirrus) and the one named ``B12`` holds B11; TOA B12 is absent. B12 is taken as TOA B11 times
  the class-mean B12/B11 ratio of the surface-reflectance (SR) file of the same points.
* **Measured temperate** (forest, cropland, sparse vegetation, bare soil; used only by
  ``SynthConfig(landscape="temperate"/"mixed")``): per-pixel means and standard deviations of real
  L1C TOA pixels of two unscored training-allowed sources in the data registry, classified by
  documented index rules (:func:`temperate_rows`):

  - eo-learn Slovenia example patch (``eolearn_slovenia/``, 101 x 100 px at 10 m, 5 frames of all
    13 bands). The arrays are TOA L1C: B10 (cirrus, absent from L2A) is present at ~0.001 and
    B01 > B02 > B03 over vegetation (Rayleigh path radiance). Frames 0 and 1 are hazy / cloud
    veiled (median B02 0.30 and 0.15) and are dropped by the clear-frame test; frames 2-4 are
    clear summer scenes. Pixels are split by the patch's own land-cover map
    (``mask_timeless/LULC.npy``, eo-learn codes 1 cultivated, 2 forest, 3 grassland, 4 shrubland,
    8 artificial) and NDVI > 0.5.
  - ALCD Toulouse L1C SAFE crop of 2024-01-20 (``alcd_toulouse_safe/``, 30 x 30 px at 10 m,
    winter farmland, read with :func:`dfmask_lib.reader.read_product`); the 2024-03-05 crop is
    fully clouded and fails the clear-frame test. Split by NDVI: 0.2-0.5 sparse vegetation,
    < 0.2 bare soil.

  Barbellino (``sen2r_barbellino/``) is not used: an alpine scene (rock, lake, snow) adds no
  temperate surface, and its 12-band file order is not documented in the file itself.
* **Literature** (everything else, and ``urban``): TOA reflectance read off published spectra,
  resampled by eye to the 13 bands. They are approximate, and each row's ``notes`` says so and how.

A ``shadow_ratio`` row (not a surface) gives, per band, the TOA brightness of shadowed snow
relative to sunlit snow from the same glacier points: the diffuse (skylight + path radiance)
share that remains in a shadow. The generator darkens cloud- and terrain-shadowed pixels with it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import MissingDataError
from ..scene import S2_BANDS

__all__ = ["SPECTRA_CSV", "glacier_point_rows", "temperate_rows", "literature_rows", "build_table",
           "main"]

SPECTRA_CSV = Path(__file__).with_name("spectra.csv")
GLACIER_DIR = "glacier_points_alaska"
GLACIER_SOURCE = (
    "Hand-classified S2 points, Gulkana+Wolverine glaciers, Alaska, Jun-Aug 2021 "
    "(RaineyAbe/glacier-snow-cover-mapping, commit 1a553490, MIT)"
)
#: Glacier-point class code -> surface name in the table.
GLACIER_CLASSES = {1: "fresh_snow", 2: "shadowed_snow", 3: "glacier_ice", 4: "rock_moraine"}
#: TOA file column -> true band (the README's verified column shift).
TOA_COLUMNS = {
    "B1": "B01", "B2": "B02", "B3": "B03", "B4": "B04", "B5": "B05", "B6": "B06", "B7": "B07",
    "B8": "B08", "B8A": "B8A", "B9": "B09", "B11": "B10", "B12": "B11",
}

# Literature rows: name -> (13 TOA values in S2_BANDS order, relative std, source, notes).
_LITERATURE: dict[str, tuple[tuple[float, ...], float, str, str]] = {
    "old_snow": (
        (0.70, 0.68, 0.66, 0.64, 0.60, 0.55, 0.50, 0.47, 0.44, 0.18, 0.002, 0.030, 0.025), 0.10,
        "Warren & Wiscombe 1980 J. Atmos. Sci. 37:2734 (impurities lower visible albedo); "
        "Dozier 1989 Remote Sens. Environ. 28:9 (grain growth lowers NIR/SWIR); "
        "Painter et al. 2012 GRL (dust radiative forcing in snow)",
        "approximate: aged, coarse-grained snow with light impurities, read off published albedo "
        "spectra, B09/B10 absorption scaled like the measured fresh-snow row; std = 10% of mean "
        "(generator's choice)",
    ),
    "blue_ice": (
        (0.64, 0.64, 0.58, 0.48, 0.38, 0.29, 0.25, 0.21, 0.17, 0.06, 0.001, 0.008, 0.007), 0.08,
        "Bintanja 1999 Rev. Geophys. 37:337 (Antarctic blue-ice areas, albedo ~0.55-0.65); "
        "Warren 1982 Rev. Geophys. 20:67 (ice absorption rises steeply beyond 600 nm)",
        "approximate: bubbly Antarctic blue ice, broadband albedo ~0.6, red/NIR drop from ice "
        "absorption; std = 8% of mean (generator's choice)",
    ),
    "tundra": (
        (0.13, 0.10, 0.09, 0.08, 0.11, 0.19, 0.23, 0.25, 0.26, 0.09, 0.002, 0.20, 0.11), 0.15,
        "USGS Spectral Library v7 (Kokaly et al. 2017, USGS Data Series 1035): lichen/moss/"
        "tundra vegetation spectra",
        "approximate: surface spectra resampled by eye to S2 bands with ~0.03-0.05 blue path "
        "radiance added for TOA; std = 15% of mean (generator's choice)",
    ),
    "open_water": (
        (0.13, 0.10, 0.070, 0.040, 0.030, 0.022, 0.020, 0.018, 0.016, 0.006, 0.001, 0.006, 0.004),
        0.12,
        "Vanhellemont & Ruddick 2018 Remote Sens. Environ. 216:586 (S2 TOA over clear water); "
        "Pahlevan et al. 2017 Remote Sens. Environ. 201:47",
        "approximate: clear deep lake/fjord, TOA dominated by Rayleigh path radiance in "
        "B01-B03; std = 12% of mean (generator's choice)",
    ),
    "turbid_meltwater": (
        (0.15, 0.14, 0.14, 0.12, 0.09, 0.050, 0.045, 0.040, 0.035, 0.012, 0.001, 0.008, 0.005),
        0.15,
        "no single spectrum: the shape of sediment-laden water (reflectance peak in green/red, "
        "low NIR) as in the S2 water literature, e.g. Pahlevan et al. 2017",
        "approximate: glacial-flour turbid water, high green/red, NIR still low; "
        "std = 15% of mean (generator's choice)",
    ),
    "sea_ice": (
        (0.72, 0.74, 0.72, 0.70, 0.66, 0.60, 0.55, 0.52, 0.50, 0.20, 0.002, 0.050, 0.040), 0.12,
        "Perovich 1996 CRREL Monograph 96-1 (optical properties of sea ice); "
        "Grenfell & Perovich 1984 J. Geophys. Res. 89:3573",
        "approximate: first-year white ice with thin snow cover; std = 12% of mean "
        "(generator's choice)",
    ),
    "lead": (
        (0.12, 0.09, 0.065, 0.037, 0.028, 0.020, 0.018, 0.016, 0.015, 0.005, 0.001, 0.005, 0.004),
        0.10,
        "as open_water (Vanhellemont & Ruddick 2018); leads: Perovich 1996",
        "approximate: open water and dark nilas in sea-ice leads; std = 10% of mean "
        "(generator's choice)",
    ),
    "urban": (
        (0.15, 0.13, 0.12, 0.12, 0.13, 0.15, 0.16, 0.17, 0.18, 0.08, 0.002, 0.21, 0.18), 0.20,
        "Herold et al. 2004 Remote Sens. Environ. 91:304 (spectra of urban materials: asphalt, "
        "concrete, roofs, flat and grey in VNIR); Zha et al. 2003 Int. J. Remote Sens. 24:583 "
        "(built-up areas: SWIR1 above NIR, the NDBI)",
        "approximate: mixed built-up 20 m pixel (roofs, roads, some greenery), TOA with the blue "
        "path radiance of the measured temperate rows (B01 ~0.15); B11 > B08 (NDBI ~ +0.1); "
        "std = 20% of mean (generator's choice: urban materials vary widely)",
    ),
    "cumulus": (
        (0.62, 0.60, 0.58, 0.58, 0.60, 0.62, 0.63, 0.64, 0.64, 0.35, 0.040, 0.42, 0.28), 0.12,
        "Hollstein et al. 2016 Remote Sens. 8:666 (class spectra of hand-labelled S2 cloud); "
        "Baetens et al. 2019 Remote Sens. 11:433",
        "approximate: optically thick water cloud at its full opacity; B10 for mid-level tops; "
        "std = 12% of mean (generator's choice)",
    ),
    "stratus": (
        (0.48, 0.46, 0.44, 0.43, 0.44, 0.45, 0.46, 0.46, 0.46, 0.26, 0.006, 0.32, 0.20), 0.10,
        "Hollstein et al. 2016 Remote Sens. 8:666; Baetens et al. 2019 Remote Sens. 11:433",
        "approximate: low stratus sheet; little B10 (water vapour above absorbs); "
        "std = 10% of mean (generator's choice)",
    ),
    "thin_cloud": (
        (0.55, 0.53, 0.51, 0.50, 0.51, 0.52, 0.52, 0.52, 0.52, 0.28, 0.020, 0.35, 0.22), 0.10,
        "Hollstein et al. 2016 Remote Sens. 8:666 (cloud class); Baetens et al. 2019",
        "approximate: spectrum of the cloud layer at full opacity; the generator blends it with "
        "the surface by opacity; std = 10% of mean (generator's choice)",
    ),
    "cirrus": (
        (0.35, 0.33, 0.32, 0.32, 0.32, 0.33, 0.33, 0.33, 0.33, 0.24, 0.20, 0.22, 0.14), 0.10,
        "Hollstein et al. 2016 Remote Sens. 8:666 (cirrus class); Gao et al. 1993 GRL 20:301 "
        "(1.38 um cirrus band); Baetens et al. 2019",
        "approximate: ice-cloud layer at full opacity, strong B10 (above the water vapour), "
        "lower SWIR from ice absorption; std = 10% of mean (generator's choice)",
    ),
}


def _glacier_file(kind: str) -> Path:
    """Path of a glacier-point CSV via the data registry (local mirror as a fallback)."""
    name = f"{GLACIER_DIR}/Sentinel-2_{kind}_training_data.csv"
    try:
        from ..registry import fetch  # the project's data registry
    except ImportError:
        fetch = None
    if fetch is not None:
        return Path(fetch(name))
    from ..paths import default_mirror

    mirror = default_mirror()
    if mirror is None or not (mirror / name).exists():
        raise MissingDataError(
            f"cannot find {name}: set DFMASK_DATA_MIRROR to the folder holding the shared data"
        )
    return mirror / name


def _read_columns(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return cols


def glacier_point_rows() -> list[dict[str, object]]:
    """Mean and std rows (TOA, S2_BANDS order) for the four glacier-point classes.

    Also returns the ``shadow_ratio`` row (shadowed-snow / sunlit-snow means, clipped to
    [0, 1]; 1 for B10 where surface signal is absorbed; B11/B12 take the B8A value because the
    measured SWIR ratio mixes a wetter material into the illumination effect).
    """
    toa = _read_columns(_glacier_file("TOA"))
    sr = _read_columns(_glacier_file("SR"))
    toa_cls = toa["class"].astype(int)
    if not np.array_equal(toa["geometry"], sr["geometry"]):
        raise MissingDataError("glacier TOA and SR files are not row-aligned; re-fetch them")
    rows: list[dict[str, object]] = []
    means: dict[str, np.ndarray] = {}
    for code, name in GLACIER_CLASSES.items():
        sel = toa_cls == code
        stack = {band: toa[col][sel].astype(float) for col, band in TOA_COLUMNS.items()}
        sr_b11 = sr["B11"][sel].astype(float)
        sr_b12 = sr["B12"][sel].astype(float)
        ok = np.isfinite(sr_b11) & np.isfinite(sr_b12)
        ratio = np.mean(sr_b12[ok]) / np.mean(sr_b11[ok])
        stack["B12"] = stack["B11"] * ratio
        mean = np.array([np.nanmean(stack[b]) for b in S2_BANDS])
        std = np.array([np.nanstd(stack[b]) for b in S2_BANDS])
        means[name] = mean
        notes = (f"n={int(sel.sum())} points; B10/B11 from the shifted TOA columns; "
                 f"B12 = TOA B11 x SR B12/B11 class-mean ratio {ratio:.3f}")
        rows.append({"name": name, "statistic": "mean", **_bands(mean),
                     "source": GLACIER_SOURCE, "notes": notes})
        rows.append({"name": name, "statistic": "std", **_bands(std),
                     "source": GLACIER_SOURCE, "notes": notes})
    ratio = np.clip(means["shadowed_snow"] / means["fresh_snow"], 0.0, 1.0)
    ratio[S2_BANDS.index("B10")] = 1.0
    b8a = ratio[S2_BANDS.index("B8A")]
    ratio[S2_BANDS.index("B11")] = b8a
    ratio[S2_BANDS.index("B12")] = b8a
    rows.append({
        "name": "shadow_ratio", "statistic": "ratio", **_bands(ratio), "source": GLACIER_SOURCE,
        "notes": ("shadowed_snow / fresh_snow TOA means (diffuse skylight + path radiance share "
                  "left in a shadow); B10 = 1 (surface signal absorbed); B11, B12 set to the "
                  "B8A value (measured SWIR ratio > 1: wetter snow in shade)"),
    })
    return rows


#: Clear-frame test of the temperate sources: a frame is used only if its 95th percentile of
#: B02 is below 0.15 and of B10 below 0.005 (cloud and haze raise both; clear vegetated land
#: has TOA B02 ~0.07-0.12 and B10 ~0.001-0.003 in these sources).
CLEAR_FRAME_B02, CLEAR_FRAME_B10 = 0.15, 0.005
#: Per-pixel cloud/haze screen inside a clear frame: B02 above it is not a clear surface.
CLEAR_PIXEL_B02 = 0.15
#: NDVI classes (the usual vegetation-index convention, e.g. Tucker 1979 Remote Sens. Environ.
#: 8:127; dense green canopy > 0.5, sparse 0.2-0.5, bare/built-up < 0.2).
NDVI_DENSE, NDVI_SPARSE = 0.5, 0.2
SLOVENIA_BANDS = "eolearn_slovenia/data/REFERENCE_SCENES_example_data_root_HEAD.npy"
SLOVENIA_LULC = "eolearn_slovenia/mask_timeless/LULC.npy"
SLOVENIA_SOURCE = ("eo-learn Slovenia example patch, real S2 L1C TOA, 10 m, clear frames 2-4 "
                   "(sentinel-hub/eo-learn example_data, HEAD 303e7585, MIT)")
TOULOUSE_SAFE = ("alcd_toulouse_safe/S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_"
                 "20240120T125244.SAFE")
TOULOUSE_SOURCE = ("ALCD Toulouse L1C SAFE crop, tile 31TCJ, 2024-01-20, 10 m, winter farmland "
                   "(CNES/ALCD tests/data, commit 548a9afb, GPL-3.0)")


def _clear_pixels(x: np.ndarray) -> np.ndarray:
    """(N, 13) TOA pixels -> bool: clear-frame test passed and pixel not cloud/haze bright."""
    b02, b10 = x[:, S2_BANDS.index("B02")], x[:, S2_BANDS.index("B10")]
    frame_ok = (np.percentile(b02, 95) < CLEAR_FRAME_B02
                and np.percentile(b10, 95) < CLEAR_FRAME_B10)
    return np.full(len(x), frame_ok) & (b02 < CLEAR_PIXEL_B02)


def _ndvi(x: np.ndarray) -> np.ndarray:
    nir, red = x[:, S2_BANDS.index("B08")], x[:, S2_BANDS.index("B04")]
    return (nir - red) / np.maximum(nir + red, 1e-6)


def temperate_pixels() -> dict[str, tuple[np.ndarray, str, str]]:
    """Surface name -> ((N, 13) TOA pixels, source, rule) of the measured temperate surfaces."""
    from ..reader import read_product
    from ..registry import fetch, fetch_dir

    cube = np.load(fetch(SLOVENIA_BANDS)).astype(np.float64)      # (T, H, W, 13)
    lulc = np.load(fetch(SLOVENIA_LULC))[..., 0]                    # (H, W)
    frames = [f.reshape(-1, 13) for f in cube]
    keep = [_clear_pixels(f) for f in frames]
    slo = np.concatenate([f[k] for f, k in zip(frames, keep)])
    slo_lulc = np.concatenate([lulc.ravel()[k] for k in keep])
    slo_ndvi = _ndvi(slo)
    used = [i for i, k in enumerate(keep) if k.any()]
    scene = read_product(fetch_dir(TOULOUSE_SAFE, progress=False), resolution=10,
                         progress=False)
    tls = scene.reflectance.reshape(len(S2_BANDS), -1).T.astype(np.float64)
    tls = tls[_clear_pixels(tls)]
    tls_ndvi = _ndvi(tls)
    frames_note = f"frames {used} pass the clear-frame test"
    return {
        "forest": (slo[(slo_lulc == 2) & (slo_ndvi > NDVI_DENSE)], SLOVENIA_SOURCE,
                   f"LULC 2 (forest) and NDVI > {NDVI_DENSE}; {frames_note}"),
        "cropland": (slo[np.isin(slo_lulc, [1, 3, 4]) & (slo_ndvi > NDVI_DENSE)],
                     SLOVENIA_SOURCE,
                     f"LULC 1/3/4 (cultivated, grassland, shrubland) and NDVI > {NDVI_DENSE}; "
                     f"{frames_note}"),
        "sparse_vegetation": (tls[(tls_ndvi >= NDVI_SPARSE) & (tls_ndvi <= NDVI_DENSE)],
                              TOULOUSE_SOURCE, f"{NDVI_SPARSE} <= NDVI <= {NDVI_DENSE}"),
        "bare_soil": (tls[tls_ndvi < NDVI_SPARSE], TOULOUSE_SOURCE, f"NDVI < {NDVI_SPARSE}"),
    }


def temperate_rows() -> list[dict[str, object]]:
    """Mean and std rows (TOA, S2_BANDS order) of the measured temperate surfaces."""
    rows: list[dict[str, object]] = []
    for name, (px, source, rule) in temperate_pixels().items():
        if len(px) < 10:
            raise MissingDataError(f"only {len(px)} clear {name} pixels in {source}; the data "
                                   "are not the registered files")
        mean = px.mean(axis=0)
        # Floor at 5 % of the mean: B10 and the few-pixel bare-soil row would otherwise carry
        # a spread below the sensor noise (generator's choice).
        std = np.maximum(px.std(axis=0), 0.05 * mean)
        notes = f"n={len(px)} clear pixels; {rule}; std floored at 5% of the mean"
        for stat, values in (("mean", mean), ("std", std)):
            rows.append({"name": name, "statistic": stat, **_bands(values), "source": source,
                         "notes": notes})
    return rows


def _bands(values: np.ndarray) -> dict[str, str]:
    return {b: f"{float(v):.4f}" for b, v in zip(S2_BANDS, values)}


def literature_rows() -> list[dict[str, object]]:
    """Mean and std rows of the surfaces and clouds taken from the literature."""
    rows: list[dict[str, object]] = []
    for name, (values, rel_std, source, notes) in _LITERATURE.items():
        mean = np.array(values)
        rows.append({"name": name, "statistic": "mean", **_bands(mean),
                     "source": source, "notes": notes})
        rows.append({"name": name, "statistic": "std", **_bands(mean * rel_std),
                     "source": source, "notes": notes})
    return rows


def build_table() -> str:
    """The whole table as CSV text (columns: name, statistic, 13 bands, source, notes)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["name", "statistic", *S2_BANDS, "source", "notes"],
                            lineterminator="\n")
    writer.writeheader()
    for row in glacier_point_rows() + temperate_rows() + literature_rows():
        writer.writerow(row)
    return out.getvalue()


def main(path: Path = SPECTRA_CSV) -> Path:
    """Write the table to ``path`` atomically; return it."""
    with atomic_path(path) as tmp:
        tmp.write_text(build_table())
    return path


if __name__ == "__main__":
    print(main())
