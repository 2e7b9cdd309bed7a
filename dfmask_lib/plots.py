"""Shared figures: RGB quicklooks, class maps in the authors' colours, confusion matrices.

Every function draws into a new figure (or into ``ax`` when given) and returns the
:class:`matplotlib.figure.Figure`; nothing is shown or saved here, so notebooks and
scripts decide (``fig.savefig(...)``). Compute lives elsewhere: these functions only
draw arrays they are given. Colours are the authors' (Nambiar et al. 2022, Remote
Sens. 14:1825), from :data:`dfmask_lib.classes.CLASS_COLOURS`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .classes import CLASS_CODES, CLASS_COLOURS, CLASS_NAMES, PROJECT, MappingTable, recode
from .errors import BandError, ConfigError, LabelError

__all__ = ["RGB_BANDS", "stretch_rgb", "rgb_figure", "class_colormap", "classmap_figure",
           "class_legend_handles", "confusion_figure", "learning_curves_figure",
           "score_bars_figure", "disagreement_figure", "comparison_maps_figure",
           "DISPLAY_MAX_PX", "for_display"]

#: True-colour bands (red, green, blue) of Sentinel-2 MSI.
RGB_BANDS: tuple[str, str, str] = ("B04", "B03", "B02")

#: Images are drawn with at most this many pixels along their longer side. A panel is a few
#: hundred screen pixels wide, so matplotlib shows a full 5490 px tile subsampled anyway; drawn
#: at full size, a figure of eight tile-sized panels peaked at 3.1 GB (0.6 GB of it the arrays).
DISPLAY_MAX_PX = 1500


def for_display(*arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """The arrays (each (..., H, W), one H and W) subsampled by one regular stride so that
    the longer side is at most :data:`DISPLAY_MAX_PX` (nearest neighbour, as the panels are
    drawn); unchanged when already that small. None stays None."""
    shape = next(np.shape(a)[-2:] for a in arrays if a is not None)
    step = -(-max(shape) // DISPLAY_MAX_PX)
    if step <= 1:
        return list(arrays)
    return [None if a is None else np.asarray(a)[..., ::step, ::step] for a in arrays]


def _legend_columns(width: float, labels: Sequence[str], fontsize: float | None = None) -> int:
    """Legend columns that fit a figure ``width`` inches wide (handle + text per entry)."""
    import matplotlib

    size = fontsize or 0.85 * matplotlib.rcParams["font.size"]
    longest = max((len(str(t)) for t in labels), default=1)
    entry = 0.45 + longest * 0.55 * size / 72  # inches: handle, padding and text
    return int(max(1, min(len(labels), width // entry)))


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def stretch_rgb(
    rgb: np.ndarray,
    valid: np.ndarray | None = None,
    percentiles: tuple[float, float] = (2.0, 98.0),
    per_channel: bool = False,
) -> np.ndarray:
    """Percentile-stretch a (3, H, W) image to a displayable (H, W, 3) float32 in [0, 1].

    Args:
        rgb: float (3, H, W) reflectance, red, green, blue in that order.
        valid: bool (H, W) pixels to take the percentiles over and to show; others are
            black. None = all pixels.
        percentiles: (low, high) percentiles mapped to 0 and 1.
        per_channel: stretch each channel on its own (boosts contrast, shifts colours);
            the default shares one range so snow and cloud stay white.

    Raises:
        BandError: wrong shape, or ``valid`` not a bool (H, W) mask.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise BandError(f"rgb must be (3, H, W) red, green, blue; got shape {rgb.shape}")
    if valid is None:
        valid = np.ones(rgb.shape[1:], dtype=bool)
    valid = np.asarray(valid)
    if valid.shape != rgb.shape[1:] or valid.dtype != bool:
        raise BandError(f"valid must be bool {rgb.shape[1:]}, got {valid.dtype} {valid.shape}")
    lo_p, hi_p = percentiles
    if not 0 <= lo_p < hi_p <= 100:
        raise BandError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    out = np.zeros(rgb.shape, dtype=np.float32)
    if valid.any():
        pixels = rgb[:, valid].astype(np.float64)  # (3, n)
        if per_channel:
            lo, hi = np.percentile(pixels, [lo_p, hi_p], axis=1)  # (3,) each
        else:
            lo, hi = np.percentile(pixels, [lo_p, hi_p])
            lo, hi = np.full(3, lo), np.full(3, hi)
        span = np.where(hi > lo, hi - lo, 1.0)
        out = ((rgb - lo[:, None, None]) / span[:, None, None]).astype(np.float32)
        np.clip(out, 0.0, 1.0, out=out)
        out[:, ~valid] = 0.0
    return np.moveaxis(out, 0, -1)


def rgb_figure(
    image: Any,
    valid: np.ndarray | None = None,
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """True-colour quicklook with a percentile stretch (:func:`stretch_rgb`).

    Args:
        image: a :class:`~dfmask_lib.scene.Scene` (B04, B03, B02 and its valid mask are used)
            or a float (3, H, W) red, green, blue array.
        valid: bool (H, W) mask for an array; ignored for a Scene.
        percentiles, title, ax: display options; ``ax`` to draw into an existing axes.

    A tile-sized image is drawn subsampled (:func:`for_display`), and its stretch is taken
    over the pixels drawn.
    """
    if hasattr(image, "bands") and hasattr(image, "valid"):
        valid = image.valid
        image = image.bands(RGB_BANDS)
    image, valid = for_display(image, valid)
    fig, ax = _axes(ax, (5, 5))
    ax.imshow(stretch_rgb(image, valid, percentiles), interpolation="nearest")
    ax.set_title(title or f"RGB (B04, B03, B02), {percentiles[0]:g}-{percentiles[1]:g} % stretch")
    ax.set_axis_off()
    return fig


def class_colormap() -> tuple[ListedColormap, BoundaryNorm]:
    """A colormap and norm that paint project codes 0-5 in the authors' colours."""
    cmap = ListedColormap([np.array(CLASS_COLOURS[c]) / 255 for c in CLASS_CODES], name="dfmask")
    norm = BoundaryNorm(np.arange(len(CLASS_CODES) + 1) - 0.5, cmap.N)
    return cmap, norm


def classmap_figure(
    classes: np.ndarray,
    *,
    table: MappingTable = PROJECT,
    title: str | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """A class map in the authors' colours, with a legend of the project classes.

    Args:
        classes: integer (H, W) class map in the codes of ``table`` (project codes 0-5 by
            default; e.g. ``table=SEN2COR_SCL`` recodes an SCL on the fly).
        table: the codes' mapping table; the map is shown in project classes.
        title, legend, ax: display options.

    Raises:
        LabelError: not 2-D, or codes outside ``table``.
    """
    classes = np.asarray(classes)
    if classes.ndim != 2:
        raise LabelError(f"class map must be (H, W), got shape {classes.shape}")
    project = for_display(recode(classes, table))[0]  # every code checked, then subsampled
    cmap, norm = class_colormap()
    fig, ax = _axes(ax, (6, 5))
    ax.imshow(project, cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_title(title or f"classes ({table.name} table)")
    ax.set_axis_off()
    if legend:
        ax.legend(handles=class_legend_handles(), loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, fontsize="small")
    return fig


def class_legend_handles() -> list[Patch]:
    """Legend patches of the project classes 0-5 in the authors' colours (for ``fig.legend``)."""
    return [Patch(facecolor=np.array(CLASS_COLOURS[c]) / 255, edgecolor="0.5",
                  label=f"{c} {CLASS_NAMES[c]}") for c in CLASS_CODES]


def confusion_figure(
    cm: np.ndarray,
    *,
    normalise: bool = True,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A confusion matrix (rows = truth 1..n-1, columns = prediction 0..n-1).

    Row 0 (unlabelled truth) is never counted and is not drawn; column 0 is kept
    because a predicted "no data" on a labelled pixel is an error.

    Args:
        cm: square non-negative integer matrix from :func:`dfmask_lib.metrics.confusion_matrix`.
        normalise: colour and annotate by row fraction (recall view); counts otherwise.
        class_names: names of codes 0..n-1; the project's names by default.
        title, ax: display options.

    Raises:
        LabelError: if ``cm`` is not a square non-negative integer matrix, or
            ``class_names`` does not have one name per code.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] < 2 \
            or not np.issubdtype(cm.dtype, np.integer) or (cm < 0).any():
        raise LabelError(f"confusion matrix must be square non-negative integer, got "
                         f"{cm.dtype} {cm.shape}")
    n = cm.shape[0]
    names = list(class_names) if class_names is not None else \
        [CLASS_NAMES.get(c, str(c)) for c in range(n)]
    if len(names) != n:
        raise LabelError(f"class_names has {len(names)} names for a {n} x {n} matrix; "
                         f"give one name per code 0..{n - 1}")
    shown = cm[1:].astype(np.float64)
    if normalise:
        rows = shown.sum(axis=1, keepdims=True)
        shown = np.divide(shown, rows, out=np.zeros_like(shown), where=rows > 0)
    fig, ax = _axes(ax, (6.5, 5))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    fig.colorbar(im, ax=ax, shrink=0.8,
                 label="fraction of the truth row (recall)" if normalise else "pixels")
    size = 8.0 if n <= 7 else 6.5  # 8 pt stays readable in a 6 x 6 matrix at book size
    for (i, j), v in np.ndenumerate(shown):
        text = f"{v:.2f}" if normalise else f"{int(v)}"
        ax.text(j, i, text, ha="center", va="center", fontsize=size,
                color="white" if v > (0.5 if normalise else shown.max() / 2) else "black")
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n - 1), names[1:])
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    ax.set_title(title or "confusion matrix")
    return fig


def learning_curves_figure(
    histories: Mapping[Any, Sequence[Mapping[str, float]]],
    *,
    ma_window: int = 10,
    best_epochs: Mapping[Any, int] | None = None,
    titles: Mapping[Any, str] | None = None,
) -> Figure:
    """Training curves of one or more runs, one column each.

    Top row: training and validation loss; bottom row: validation mIoU, its ``ma_window``-epoch
    moving average (what early stopping watches, Nambiar et al. 2022) and the per-class IoU.

    Args:
        histories: run name -> rows of a training log (``log.json``: ``epoch``, ``train_loss``,
            ``val_loss``, ``val_miou``, ``iou_1`` ... ``iou_5``), e.g.
            :func:`dfmask_lib.selftrain.histories`.
        ma_window: moving-average window (10 in the paper).
        best_epochs: run name -> the kept (best) epoch, marked with a dotted line.
        titles: run name -> column title (default ``str(name)``).

    Raises:
        ConfigError: no runs, or a run without epochs.
    """
    from .train import moving_average  # imports torch: only when curves are drawn

    if not histories:
        raise ConfigError("learning_curves_figure needs at least one run's history")
    names = list(histories)
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 6.4), squeeze=False,
                             sharex="col", layout="constrained")
    for j, name in enumerate(names):
        rows = list(histories[name])
        if not rows:
            raise ConfigError(f"run {name!r} has no epochs to plot")
        ep = [r["epoch"] for r in rows]
        top, bottom = axes[0, j], axes[1, j]
        top.plot(ep, [r["train_loss"] for r in rows], label="training")
        top.plot(ep, [r["val_loss"] for r in rows], label="validation")
        top.set(title=(titles or {}).get(name, str(name)), ylabel="weighted cross-entropy")
        miou = [r["val_miou"] for r in rows]
        bottom.plot(ep, miou, color="k", label="validation mIoU")
        bottom.plot(ep, moving_average(miou, ma_window), color="k", ls="--",
                    label=f"{ma_window}-epoch mean")
        for c in CLASS_CODES[1:]:
            bottom.plot(ep, [r.get(f"iou_{c}", np.nan) for r in rows], lw=0.8, alpha=0.7,
                        color=np.array(CLASS_COLOURS[c]) / 255 * 0.85, label=f"IoU {CLASS_NAMES[c]}")
        if best_epochs and name in best_epochs:
            bottom.axvline(best_epochs[name], color="0.5", ls=":", label="kept epoch")
        bottom.set(xlabel="epoch", ylabel="IoU", ylim=(0, 1))
    axes[0, 0].legend(fontsize="small", frameon=False)
    # one legend for every mIoU panel, below the grid, so that it is never clipped and
    # never squeezes a single run's column (dict: unique labels, first-seen order)
    handles = {}
    for ax in axes[1]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=_legend_columns(fig.get_figwidth(), list(handles)), frameon=False,
               fontsize="small")
    return fig


def score_bars_figure(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    label: str = "method",
    title: str | None = None,
    ylabel: str = "IoU",
    ax: Axes | None = None,
) -> Figure:
    """Grouped bars: one group per column (e.g. ``"IoU cloud"``), one bar per row (method).

    Args:
        rows: table rows (e.g. :meth:`dfmask_lib.compare.Comparison.table`), each with
            ``label`` and the ``columns``; NaN (a class a method does not claim) draws no bar.
        columns: the row keys to draw, in order; their text after the first word names the
            group (``"IoU cloud"`` -> ``cloud``).
        label, title, ylabel, ax: display options.

    Raises:
        BandError: no rows, or a column missing from a row.
    """
    if not rows:
        raise BandError("score_bars_figure needs at least one row")
    missing = [c for c in columns if any(c not in r for r in rows)]
    if missing:
        raise BandError(f"rows lack columns {missing}")
    n = len(rows)
    # about 0.14 in per bar and 0.35 in between groups, plus the legend at the right
    longest = max(len(str(r[label])) for r in rows)
    fig_width = len(columns) * (0.35 + 0.14 * n) + 1.2 + 0.07 * min(longest, 30)
    fig, ax = _axes(ax, (float(np.clip(fig_width, 6.0, 16.0)), 4.2))
    width = 0.8 / n
    x = np.arange(len(columns))
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(n, 2)))
    for i, row in enumerate(rows):
        values = np.array([float(row[c]) for c in columns])
        ax.bar(x - 0.4 + width * (i + 0.5), np.nan_to_num(values, nan=0.0), width,
               label=str(row[label]), color=colours[i],
               alpha=1.0, edgecolor="none")
        for xi, v in zip(x, values):
            if np.isnan(v):  # mark "not scored" so that a missing bar is not read as 0
                ax.text(xi - 0.4 + width * (i + 0.5), 0.01, "-", ha="center", va="bottom",
                        fontsize="x-small", color="0.4")
    ax.set_xticks(x, [c.split(" ", 1)[1] if " " in c else c for c in columns])
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def disagreement_figure(
    disagree: np.ndarray,
    scored: np.ndarray,
    *,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Where methods disagree: red = disagree, white = agree, grey = not scored.

    Args:
        disagree, scored: bool (H, W) (e.g. :meth:`dfmask_lib.compare.SceneResult.disagreement`
            and ``SceneResult.scored``).

    Raises:
        BandError: not two bool maps of one shape.
    """
    disagree, scored = np.asarray(disagree), np.asarray(scored)
    if disagree.ndim != 2 or disagree.shape != scored.shape or disagree.dtype != bool \
            or scored.dtype != bool:
        raise BandError(f"disagree and scored must be bool (H, W) of one shape, got "
                        f"{disagree.dtype} {disagree.shape} and {scored.dtype} {scored.shape}")
    shown, shown_scored = for_display(disagree, scored)
    codes = np.where(shown_scored, np.where(shown, 2, 1), 0)
    cmap = ListedColormap([(0.75, 0.75, 0.75), (1.0, 1.0, 1.0), (0.85, 0.1, 0.1)])
    fig, ax = _axes(ax, (5, 5))
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="nearest")
    share = float(disagree[scored].mean()) if scored.any() else float("nan")
    ax.set_title(title or f"methods disagree on {100 * share:.1f} % of the scored pixels")
    ax.set_axis_off()
    return fig


def comparison_maps_figure(
    image: Any,
    truth: np.ndarray | None,
    maps: Mapping[str, np.ndarray],
    *,
    disagree: np.ndarray | None = None,
    scored: np.ndarray | None = None,
    title: str = "",
    percentiles: tuple[float, float] = (2.0, 98.0),
    columns: int = 4,
) -> Figure:
    """Methods side by side: RGB, the reference, each method's class map, where they disagree.

    Args:
        image: what :func:`rgb_figure` takes (a Scene with B04 B03 B02).
        truth: uint8 (H, W) reference in project codes, or None (no panel).
        maps: panel title -> uint8 (H, W) project codes (e.g. a
            :class:`dfmask_lib.compare.SceneResult`'s ``maps`` keyed by label).
        disagree, scored: bool (H, W) for a last :func:`disagreement_figure` panel, or None.
        title: the RGB panel's title. percentiles: its stretch. columns: panels per row.
    """
    panels = 1 + (truth is not None) + len(maps) + (disagree is not None)
    rows = (panels + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=(2.6 * columns, 2.6 * rows),
                             layout="constrained")
    flat = list(axes.flat)
    rgb_figure(image, percentiles=percentiles, title=title or None, ax=flat[0])
    k = 1
    if truth is not None:
        classmap_figure(truth, title="reference", legend=False, ax=flat[k])
        k += 1
    for name, classes in maps.items():
        classmap_figure(classes, title=name, legend=False, ax=flat[k])
        k += 1
    if disagree is not None:
        disagreement_figure(disagree, scored if scored is not None
                            else np.ones(disagree.shape, bool), ax=flat[k])
        k += 1
    for ax in flat[k:]:
        ax.set_axis_off()
    handles = class_legend_handles()
    fig.legend(handles=handles, loc="outside lower center", frameon=False,
               ncol=_legend_columns(fig.get_figwidth(), [h.get_label() for h in handles]))
    return fig



# --------------------------------------------------------------------------- per-class spectra
# (issue 11: dfmask_lib.spectra rows; one block, appended)

__all__ += ["spectra_figure"]


def spectra_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    classes: Sequence[int] | None = None,
    sources: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    ncols: int = 3,
    panel_size: tuple[float, float] = (4.2, 3.2),
    title: str | None = None,
) -> Figure:
    """Median TOA spectrum with its 25-75 % band, per class and source: one panel per class.

    Args:
        rows: :mod:`dfmask_lib.spectra` rows (``source``, ``class``, ``class_name``, ``n``,
            ``<band> median`` / ``q25`` / ``q75``).
        classes: project codes to draw, one panel each, in this order (default: those in
            ``rows``, ascending). sources: sources to draw (default all, in first-seen order).
        bands: x-axis bands (default every S2 band some drawn row has a value for).
        ncols: panels per row. panel_size: inches per panel. title: figure title.

    Returns:
        The Figure. Each line is one row, labelled ``source [class_name] (n)``; a source that
        lacks a band has a gap there. Colours are by source, so a source keeps its colour
        across panels.

    Raises:
        LabelError: no rows to draw.
    """
    from .scene import S2_BANDS

    if classes is None:
        classes = sorted({int(r["class"]) for r in rows})
    all_sources = list(dict.fromkeys(str(r["source"]) for r in rows))
    sources = all_sources if sources is None else list(sources)
    drawn = [r for r in rows if int(r["class"]) in set(classes) and r["source"] in sources]
    if not drawn:
        raise LabelError("spectra_figure: no rows of the given classes and sources to draw")
    if bands is None:
        bands = [b for b in S2_BANDS
                 if any(np.isfinite(float(r.get(f"{b} median", np.nan))) for r in drawn)]
    x = np.arange(len(bands))
    colours = plt.get_cmap("tab10")
    colour = {s: colours(i % 10) for i, s in enumerate(sources)}
    ncols = max(1, min(ncols, len(classes)))
    nrows = int(np.ceil(len(classes) / ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True, layout="constrained",
                             figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    for ax, code in zip(axes.flat, classes):
        mine = [r for r in drawn if int(r["class"]) == code]
        styles = ["-", "--", ":", "-."]
        seen: dict[str, int] = {}
        for r in mine:
            med, q25, q75 = (np.array([float(r.get(f"{b} {s}", np.nan)) for b in bands])
                             for s in ("median", "q25", "q75"))
            k = seen.get(r["source"], 0)
            seen[r["source"]] = k + 1
            sub = f" [{r['class_name']}]" if r["class_name"] != CLASS_NAMES.get(code) else ""
            ax.plot(x, med, styles[k % len(styles)], marker=".", color=colour[r["source"]],
                    label=f"{r['source']}{sub} ({int(r['n'])})")
            ax.fill_between(x, q25, q75, color=colour[r["source"]], alpha=0.15, linewidth=0)
        ax.set_title(f"{code} {CLASS_NAMES.get(code, '')}")
        ax.set_xticks(x, bands, rotation=90, fontsize=7)
        ax.set_ylabel("TOA reflectance")
        ax.grid(alpha=0.3)
        if mine:
            ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[len(classes):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def transfer_curves_figure(
    curves: Mapping[str, Sequence[Mapping[str, Any]]],
    columns: Sequence[str] = ("val_miou", "polar TEST OA", "ukis OA", "ukis cloud IoU",
                              "Betsiboka cloud IoU", "glacier mean acc"),
    *,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    ncols: int = 3,
    panel_size: tuple[float, float] = (4.0, 3.0),
    title: str | None = None,
) -> Figure:
    """Scores against training epoch, one panel per column, one line per variant.

    Args:
        curves: variant label -> rows with ``epoch`` and the ``columns`` (the ``curve`` of a
            :mod:`dfmask_lib.transfer` record); NaN values leave gaps.
        columns: the row keys to draw, one panel each (``val_miou``: synthetic validation mIoU).
        references: label -> row of fixed scores drawn as dashed horizontal lines (e.g. Fmask).
        ncols, panel_size, title: layout.

    Raises:
        BandError: no curves, or a column missing from every row of every curve.
    """
    if not curves or not any(curves.values()):
        raise BandError("transfer_curves_figure needs at least one curve with rows")
    missing = [c for c in columns if not any(c in r for rows in curves.values() for r in rows)]
    if missing:
        raise BandError(f"curves lack columns {missing}")
    nrows = -(-len(columns) // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    colours = plt.get_cmap("tab10")(np.arange(len(curves)) % 10)
    names = {"val_miou": "synthetic VALIDATION mIoU"}
    for ax, col in zip(axes.flat, columns):
        for colour, (label, rows) in zip(colours, curves.items()):
            epochs = [r["epoch"] for r in rows]
            values = [np.nan if r.get(col) is None else float(r[col]) for r in rows]
            ax.plot(epochs, values, "o-", ms=3, color=colour, label=label)
        for k, (label, row) in enumerate((references or {}).items()):
            if row.get(col) is not None and not np.isnan(float(row[col])):
                ax.axhline(float(row[col]), ls="--", lw=1, color=str(0.2 + 0.25 * k),
                           label=label)
        ax.set(title=names.get(col, col), xlabel="epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(columns):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[1:len(columns)]:  # references may appear in later panels only
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4),
               frameon=False, fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- galleries
# (panels_figure replaces notebook loops of rgb/classmap panels that forgot the legend)

__all__ += ["Panel", "panels_figure", "stage_progression_figure"]

#: Colours of a "mask" panel: not valid (grey), False (white), True (red), as in
#: :func:`disagreement_figure`.
MASK_COLOURS: tuple[tuple[float, float, float], ...] = (
    (0.75, 0.75, 0.75), (1.0, 1.0, 1.0), (0.85, 0.1, 0.1))
PANEL_KINDS: tuple[str, ...] = ("rgb", "classes", "mask")


@dataclass(frozen=True, eq=False)
class Panel:
    """One image panel of :func:`panels_figure`.

    Attributes:
        kind: ``"rgb"``: float (3, H, W) red, green, blue reflectance, stretched with
            :func:`stretch_rgb`; ``"classes"``: integer (H, W) project codes 0-5, in the
            authors' colours; ``"mask"``: bool (H, W) (e.g. where methods disagree), red where
            True, white where False.
        data: the array.
        title: panel title (wrapped to the panel's width, never cut).
        valid: optional bool (H, W): pixels to stretch over and show (``"rgb"``, others
            black) or to score (``"mask"``, others grey). Ignored for ``"classes"``.

    Raises:
        ConfigError: an unknown ``kind``.
    """

    kind: str
    data: np.ndarray
    title: str = ""
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in PANEL_KINDS:
            raise ConfigError(f"panel kind must be one of {PANEL_KINDS}, got {self.kind!r}")


def _draw_panel(ax: Axes, panel: Panel, percentiles: tuple[float, float],
                title_chars: int) -> None:
    data = np.asarray(panel.data)
    if panel.kind == "rgb":
        ax.imshow(stretch_rgb(*for_display(data, panel.valid), percentiles),
                  interpolation="nearest")
    elif panel.kind == "classes":
        if data.ndim != 2 or not np.issubdtype(data.dtype, np.integer):
            raise LabelError(f"a classes panel needs an integer (H, W) map, got "
                             f"{data.dtype} {data.shape}")
        bad = np.unique(data[(data < 0) | (data > max(CLASS_CODES))])
        if bad.size:
            raise LabelError(f"classes panel {panel.title!r} holds codes {bad[:10].tolist()} "
                             f"outside 0-5; recode it with dfmask_lib.classes.recode")
        cmap, norm = class_colormap()
        ax.imshow(for_display(data)[0], cmap=cmap, norm=norm, interpolation="nearest")
    else:
        valid = np.ones(data.shape, bool) if panel.valid is None else np.asarray(panel.valid)
        if data.ndim != 2 or data.dtype != bool or valid.shape != data.shape \
                or valid.dtype != bool:
            raise BandError(f"a mask panel needs bool (H, W) data and valid of one shape, got "
                            f"{data.dtype} {data.shape} and {valid.dtype} {valid.shape}")
        data, valid = for_display(data, valid)
        codes = np.where(valid, np.where(data, 2, 1), 0)
        ax.imshow(codes, cmap=ListedColormap(MASK_COLOURS), vmin=-0.5, vmax=2.5,
                  interpolation="nearest")
    if panel.title:
        ax.set_title(textwrap.fill(panel.title, title_chars), fontsize="small")
    ax.set_axis_off()


def panels_figure(
    rows: Sequence[Sequence[Panel | None]],
    *,
    legend: bool = True,
    panel_size: float = 3.0,
    percentiles: tuple[float, float] = (2.0, 98.0),
    suptitle: str | None = None,
) -> Figure:
    """A gallery: a grid of image panels with one legend below it.

    Args:
        rows: rows of :class:`Panel` (None = a blank cell); rows may differ in length, the
            grid is as wide as the longest and the cells left over are switched off.
        legend: draw one legend below the grid: the project classes if any ``"classes"``
            panel, and the mask colours (True / False / not valid) if any ``"mask"`` panel.
        panel_size: inches per panel (width and height).
        percentiles: the stretch of ``"rgb"`` panels (:func:`stretch_rgb`).
        suptitle: optional figure title.

    Returns:
        The Figure; its axes are row-major, one per grid cell.

    Raises:
        ConfigError: no panels, a cell that is not a Panel, or ``panel_size`` <= 0.
        BandError, LabelError: a panel's data does not fit its kind.
    """
    rows = [list(r) for r in rows]
    ncols = max((len(r) for r in rows), default=0)
    panels = [p for r in rows for p in r if p is not None]
    if not panels:
        raise ConfigError("panels_figure needs at least one panel")
    wrong = [type(p).__name__ for p in panels if not isinstance(p, Panel)]
    if wrong:
        raise ConfigError(f"panels_figure cells must be Panel or None, got {wrong[0]}")
    if not panel_size > 0:
        raise ConfigError(f"panel_size must be positive inches, got {panel_size!r}")
    kinds = {p.kind for p in panels}
    handles: list[Patch] = []
    if legend and "classes" in kinds:
        handles += class_legend_handles()
    if legend and "mask" in kinds:
        handles += [Patch(facecolor=c, edgecolor="0.5", label=t)
                    for c, t in zip(MASK_COLOURS[::-1], ("True (disagree)", "False (agree)",
                                                         "not valid"))]
    width = panel_size * ncols
    height = panel_size * len(rows) + (0.35 * (1 + len(handles) // max(
        1, _legend_columns(width, [h.get_label() for h in handles]))) if handles else 0)
    fig, axes = plt.subplots(len(rows), ncols, squeeze=False, figsize=(width, height),
                             layout="constrained")
    title_chars = max(12, int(panel_size * 72 / (0.55 * 0.85 * plt.rcParams["font.size"])))
    for i, row in enumerate(rows):
        for j in range(ncols):
            panel = row[j] if j < len(row) else None
            if panel is None:
                axes[i, j].set_axis_off()
            else:
                _draw_panel(axes[i, j], panel, percentiles, title_chars)
    if handles:
        labels = [h.get_label() for h in handles]
        fig.legend(handles=handles, loc="outside lower center", frameon=False,
                   ncol=_legend_columns(width, labels), fontsize="small")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def stage_progression_figure(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] = ("OA", "mIoU"),
    *,
    label: str = "method",
    title: str | None = None,
) -> Figure:
    """Scores across steps in order (e.g. Fmask, supervised, stage 0 .. 3): one line per metric.

    Args:
        rows: table rows in the order to draw, each with ``label`` and the ``metrics`` (values
            in [0, 1]; NaN leaves a gap and no annotation).
        metrics: row keys, one line each, annotated with 3 decimals.
        label: the row key of the x tick labels.
        title: optional axes title.

    Raises:
        BandError: no rows or metrics, or a key missing from a row.
    """
    if not rows:
        raise BandError("stage_progression_figure needs at least one row")
    if not metrics:
        raise BandError("stage_progression_figure needs at least one metric")
    missing = [c for c in [label, *metrics] if any(c not in r for r in rows)]
    if missing:
        raise BandError(f"rows lack columns {missing}")
    x = np.arange(len(rows))
    names = [str(r[label]) for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(rows) + 1.5), 3.6), layout="constrained")
    for k, metric in enumerate(metrics):
        values = np.array([float(r[metric]) for r in rows])
        (line,) = ax.plot(x, values, marker="o", label=metric)
        for xi, v in zip(x, values):
            if np.isfinite(v):
                # alternate above / below so that two close metrics do not overprint
                below = v > 0.92 or k % 2 == 1
                ax.annotate(f"{v:.3f}", (xi, v), xytext=(0, -11 if below else 6),
                            textcoords="offset points", ha="center", fontsize="x-small",
                            color=line.get_color())
    rotate = max(len(n) for n in names) > 10
    ax.set_xticks(x, names, rotation=25 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return fig
