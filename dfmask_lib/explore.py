"""Explore an experiment's class maps in JupyterLab: scene, method, overlay opacity, classes.

:func:`overlay` is the pure core (an RGB quicklook with a class map painted over it);
:func:`experiment_maps` finds what an experiment folder holds; :func:`explorer` builds the
ipywidgets interface that ``notebooks/explore.py`` shows. The book's static pages use the
kernel-free :func:`dfmask_lib.display.interactive_maps` instead.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .classes import CLASS_CODES, CLASS_COLOURS, CLASS_NAMES
from .errors import LabelError

__all__ = ["SceneMaps", "overlay", "experiment_maps", "explorer"]

#: File name of a predicted class map: ``<product stem>_DFMASK_CLASSES.tif`` (dfmask predict).
PREDICTION_SUFFIX = "_DFMASK_CLASSES.tif"


def overlay(rgb: np.ndarray, classes: np.ndarray, opacity: float = 0.5,
            shown: Sequence[int] = CLASS_CODES) -> np.ndarray:
    """Paint ``classes`` over ``rgb`` in the authors' colours.

    Args:
        rgb: float (H, W, 3) in [0, 1] (e.g. :func:`dfmask_lib.plots.stretch_rgb`).
        classes: integer (H, W) project codes 0-5.
        opacity: 0 (RGB only) .. 1 (classes only).
        shown: the classes painted; other pixels show the RGB.

    Returns:
        uint8 (H, W, 3).

    Raises:
        LabelError: shapes differ, codes outside 0-5, or opacity outside [0, 1].
    """
    rgb, classes = np.asarray(rgb, dtype=np.float32), np.asarray(classes)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or classes.shape != rgb.shape[:2]:
        raise LabelError(f"overlay needs rgb (H, W, 3) and classes (H, W) on one grid, got "
                         f"{rgb.shape} and {classes.shape}")
    if classes.size and (classes.min() < 0 or classes.max() > max(CLASS_CODES)):
        raise LabelError(f"class codes must be 0-{max(CLASS_CODES)}, got {classes.min()}-"
                         f"{classes.max()}")
    if not 0.0 <= opacity <= 1.0:
        raise LabelError(f"opacity must be in [0, 1], got {opacity}")
    colours = np.array([CLASS_COLOURS[c] for c in CLASS_CODES], dtype=np.float32) / 255
    paint = np.isin(classes, list(shown))[..., None]
    mixed = (1 - opacity) * rgb + opacity * colours[classes]
    return (np.clip(np.where(paint, mixed, rgb), 0, 1) * 255 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class SceneMaps:
    """One product and its class maps: method name -> GeoTIFF path (``truth`` if labelled)."""

    product: Path
    maps: Mapping[str, Path] = field(default_factory=dict)


def experiment_maps(scenes_dir: str | os.PathLike,
                    predictions_dir: str | os.PathLike | None = None) -> list[SceneMaps]:
    """The products of ``scenes_dir`` with every class map found for them.

    Maps: ``truth`` (``*LABELS.tif`` in the product), ``Fmask`` (``*FMASK.tif``) and, per
    subfolder of ``predictions_dir``, the method's ``<stem>_DFMASK_CLASSES.tif``.

    Raises:
        MissingDataError: no products in ``scenes_dir`` (from :func:`find_products`).
    """
    from .products import find_products

    products = find_products(scenes_dir)  # raises MissingDataError when there are none
    methods = sorted(p for p in Path(predictions_dir).iterdir() if p.is_dir()) \
        if predictions_dir and Path(predictions_dir).is_dir() else []
    out = []
    for product in products:
        maps: dict[str, Path] = {}
        for kind, label in (("LABELS", "truth"), ("FMASK", "Fmask")):
            found = sorted(product.glob(f"GRANULE/*/IMG_DATA/*{kind}.tif"))
            if found:
                maps[label] = found[0]
        stem = product.name.removesuffix(".SAFE")
        for m in methods:
            path = m / f"{stem}{PREDICTION_SUFFIX}"
            if path.is_file():
                maps[m.name.replace("_", " ")] = path
        out.append(SceneMaps(product, maps))
    return out


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def explorer(scenes_dir: str | os.PathLike, predictions_dir: str | os.PathLike | None = None,
             *, stretch: tuple[float, float] = (2.0, 98.0)):
    """An ipywidgets box: scene and map pickers, an opacity slider and class toggles.

    Returns:
        ``ipywidgets.VBox`` (display it in JupyterLab); its ``.render()`` attribute redraws.
    """
    import ipywidgets as widgets

    from .classes import FMASK, recode
    from .plots import RGB_BANDS, stretch_rgb
    from .reader import read_labels, read_product

    scenes = experiment_maps(scenes_dir, predictions_dir)
    by_name = {s.product.name: s for s in scenes}
    scene_pick = widgets.Dropdown(options=list(by_name), description="scene")
    method_pick = widgets.Dropdown(description="map")
    opacity = widgets.FloatSlider(value=0.5, min=0, max=1, step=0.05, description="opacity")
    toggles = {c: widgets.Checkbox(value=True, description=f"{c} {CLASS_NAMES[c]}", indent=False)
               for c in CLASS_CODES}
    image = widgets.Image(format="png")
    status = widgets.HTML()
    cache: dict[str, object] = {}

    def load(name: str):
        if name not in cache:
            scene = read_product(by_name[name].product, bands=RGB_BANDS, progress=False)
            cache[name] = stretch_rgb(scene.bands(RGB_BANDS), scene.valid, stretch)
        return cache[name]

    def pick_scene(*_):
        options = list(by_name[scene_pick.value].maps) or ["(no maps)"]
        keep = method_pick.value if method_pick.value in options else options[0]
        method_pick.unobserve(render, names="value")
        method_pick.options = options
        method_pick.value = keep
        method_pick.observe(render, names="value")
        render()

    def render(*_):
        entry = by_name[scene_pick.value]
        rgb = load(scene_pick.value)
        path = entry.maps.get(method_pick.value)
        if path is None:
            image.value, status.value = _png((rgb * 255).astype(np.uint8)), "no class map"
            return
        classes = read_labels(path)[0]
        if method_pick.value == "Fmask":
            classes = recode(classes, FMASK)
        shown = [c for c, t in toggles.items() if t.value]
        image.value = _png(overlay(rgb, classes, opacity.value, shown))
        counts = np.bincount(classes.ravel(), minlength=len(CLASS_CODES))
        status.value = " | ".join(f"{CLASS_NAMES[c]}: {100 * counts[c] / classes.size:.1f} %"
                                  for c in CLASS_CODES)

    scene_pick.observe(pick_scene, names="value")
    method_pick.observe(render, names="value")
    for w in (opacity, *toggles.values()):
        w.observe(render, names="value")
    box = widgets.VBox([widgets.HBox([scene_pick, method_pick, opacity]),
                        widgets.HBox(list(toggles.values())), image, status])
    box.render = render
    box.controls = {"scene": scene_pick, "map": method_pick, "opacity": opacity, **{
        f"class {c}": t for c, t in toggles.items()}}
    pick_scene()
    return box
