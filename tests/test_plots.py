"""Tests of dfmask_lib.plots: stretch numbers, class-map colours, confusion annotations."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from affine import Affine
from matplotlib.figure import Figure

from dfmask_lib.classes import SEN2COR_SCL
from dfmask_lib.errors import BandError, LabelError
from dfmask_lib.plots import (
    class_colormap, classmap_figure, confusion_figure, rgb_figure, stretch_rgb,
)
from dfmask_lib import plots
from dfmask_lib.scene import S2_BANDS, ProductMetadata, Scene


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_stretch_shared_range_numbers():
    rgb = np.stack([np.linspace(0, 1, 101, dtype=np.float32).reshape(1, 101)] * 3)
    out = stretch_rgb(rgb, percentiles=(10, 90))
    assert out.shape == (1, 101, 3) and out.dtype == np.float32
    assert out[0, 10, 0] == pytest.approx(0.0) and out[0, 90, 0] == pytest.approx(1.0)
    assert out[0, 50, 1] == pytest.approx(0.5)
    assert out[0, 0, 2] == 0.0 and out[0, 100, 2] == 1.0  # clipped


def test_stretch_per_channel_and_invalid_black():
    rgb = np.zeros((3, 2, 2), np.float32)
    rgb[0] = [[0.1, 0.2], [0.3, 9.0]]
    rgb[1] = [[0.1, 0.1], [0.5, 9.0]]
    rgb[2] = [[0.2, 0.2], [0.2, 9.0]]  # constant over valid pixels
    valid = np.array([[True, True], [True, False]])
    out = stretch_rgb(rgb, valid, percentiles=(0, 100), per_channel=True)
    np.testing.assert_allclose(out[..., 0], [[0.0, 0.5], [1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(out[..., 1], [[0.0, 0.0], [1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(out[..., 2], 0.0)  # no range: dark, not NaN
    shared = stretch_rgb(rgb, valid, percentiles=(0, 100))
    assert shared[0, 0, 2] == pytest.approx(0.25)  # (0.2 - 0.1) / (0.5 - 0.1)


@pytest.mark.parametrize(
    ("rgb", "valid", "pct"),
    [
        (np.zeros((4, 2, 2)), None, (2, 98)),
        (np.zeros((3, 2, 2)), np.ones((2, 3), bool), (2, 98)),
        (np.zeros((3, 2, 2)), np.ones((2, 2), np.uint8), (2, 98)),
        (np.zeros((3, 2, 2)), None, (50, 50)),
    ],
)
def test_stretch_bad_input(rgb, valid, pct):
    with pytest.raises(BandError):
        stretch_rgb(rgb, valid, pct)


def test_rgb_figure_from_scene_uses_red_green_blue():
    refl = np.zeros((13, 4, 5), np.float32)
    refl[S2_BANDS.index("B04")] = 0.9  # red only
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False
    refl[:, 0, 0] = 0
    scene = Scene(refl, S2_BANDS, valid, None, Affine.identity(), 30.0, 150.0,
                  ProductMetadata("synthetic"))
    fig = rgb_figure(scene, percentiles=(0, 100))
    assert isinstance(fig, Figure)
    img = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(img[1, 1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(img[0, 0], [0.0, 0.0, 0.0])


def test_classmap_colours_and_legend():
    classes = np.array([[0, 1, 2], [3, 4, 5]], np.uint8)
    fig = classmap_figure(classes, title="t")
    ax = fig.axes[0]
    rgba = ax.images[0].to_rgba(ax.images[0].get_array())
    np.testing.assert_array_equal((rgba[..., :3] * 255).round().astype(int)[1, 1], (85, 255, 255))
    np.testing.assert_array_equal((rgba[..., :3] * 255).round().astype(int)[0, 1], (139, 69, 19))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["0 no data", "1 clear land", "2 cloud", "3 cloud shadow",
                      "4 snow/ice", "5 water"]
    assert ax.get_title() == "t"


def test_classmap_recodes_through_table():
    scl = np.array([[11, 6, 9, 0]], np.uint8)
    fig = classmap_figure(scl, table=SEN2COR_SCL)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), [[4, 5, 2, 0]])
    with pytest.raises(LabelError):
        classmap_figure(np.array([[12]], np.uint8), table=SEN2COR_SCL)
    with pytest.raises(LabelError):
        classmap_figure(np.zeros((1, 2, 2), np.uint8))


def test_class_colormap_maps_codes_to_authors_colours():
    cmap, norm = class_colormap()
    assert tuple((np.array(cmap(norm(3))[:3]) * 255).round()) == (255, 0, 0)
    assert tuple((np.array(cmap(norm(5))[:3]) * 255).round()) == (38, 40, 210)


def test_confusion_figure_rows_and_annotations():
    cm = np.zeros((6, 6), np.int64)
    cm[1, 1], cm[1, 0] = 3, 1
    cm[4, 4] = 2
    fig = confusion_figure(cm)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert shown.shape == (5, 6)  # truth 1..5 x prediction 0..5
    assert shown[0, 1] == 0.75 and shown[0, 0] == 0.25 and shown[3, 4] == 1.0
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 30 and texts[:2] == ["0.25", "0.75"]
    counts = confusion_figure(cm, normalise=False)
    assert [t.get_text() for t in counts.axes[0].texts][:2] == ["1", "3"]
    with pytest.raises(LabelError):
        confusion_figure(np.ones((6, 6)))
    # once a matplotlib "FixedLocator" ValueError after half-drawing the figure
    with pytest.raises(LabelError, match="2 names for a 6 x 6"):
        confusion_figure(cm, class_names=["no data", "clear"])


def test_draws_into_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    assert classmap_figure(np.ones((2, 2), np.uint8), ax=a, legend=False) is fig
    assert rgb_figure(np.ones((3, 2, 2)), ax=b) is fig


def test_learning_curves_figure_draws_one_column_per_run() -> None:
    from dfmask_lib.errors import ConfigError
    from dfmask_lib.plots import learning_curves_figure

    rows = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_miou": 0.1 * e,
             **{f"iou_{c}": 0.05 * e for c in range(1, 6)}} for e in range(1, 6)]
    fig = learning_curves_figure({0: rows, 1: rows[:3]}, ma_window=2, best_epochs={0: 5},
                                 titles={0: "stage 0"})
    axes = fig.axes  # row-major: losses of runs 0 and 1, then their mIoU panels
    assert len(axes) == 4 and axes[0].get_title() == "stage 0" and axes[1].get_title() == "1"
    mean = axes[2].lines[1].get_ydata()  # the 2-epoch moving average of mIoU 0.1 .. 0.5
    np.testing.assert_allclose(mean, [0.1, 0.15, 0.25, 0.35, 0.45])
    assert axes[2].lines[-1].get_xdata()[0] == 5  # the kept epoch
    assert len(axes[3].lines[0].get_xdata()) == 3
    with pytest.raises(ConfigError):
        learning_curves_figure({})
    with pytest.raises(ConfigError, match="no epochs"):
        learning_curves_figure({"a": []})


def test_score_bars_figure_one_bar_per_method_and_none_for_nan() -> None:
    rows = [{"method": "a", "IoU cloud": 0.8, "IoU water": 0.5},
            {"method": "b", "IoU cloud": 0.6, "IoU water": float("nan")}]
    fig = plots.score_bars_figure(rows, ["IoU cloud", "IoU water"], title="t")
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == [0.0, 0.5, 0.6, 0.8]  # the NaN bar is drawn at 0 and marked "-"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cloud", "water"]
    assert [t.get_text() for t in ax.texts] == ["-"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(BandError, match="lack columns"):
        plots.score_bars_figure(rows, ["IoU snow/ice"])
    with pytest.raises(BandError, match="at least one row"):
        plots.score_bars_figure([], ["IoU cloud"])
    plt.close("all")


def test_disagreement_figure_codes_and_share() -> None:
    scored = np.array([[True, True], [True, False]])
    disagree = np.array([[True, False], [False, False]])
    fig = plots.disagreement_figure(disagree, scored)
    image = fig.axes[0].images[0].get_array()
    assert np.asarray(image).tolist() == [[2, 1], [1, 0]]
    assert fig.axes[0].get_title() == "methods disagree on 33.3 % of the scored pixels"
    with pytest.raises(BandError, match="bool"):
        plots.disagreement_figure(disagree.astype(int), scored)
    plt.close("all")


def test_transfer_curves_figure_one_line_per_variant_and_dashed_references() -> None:
    rows_a = [{"epoch": 2, "val_miou": 0.3, "ukis OA": 0.8}, {"epoch": 4, "val_miou": 0.5,
                                                              "ukis OA": float("nan")}]
    rows_b = [{"epoch": 2, "val_miou": 0.4, "ukis OA": 0.7}]
    fig = plots.transfer_curves_figure({"a": rows_a, "b": rows_b}, ("val_miou", "ukis OA"),
                                       references={"Fmask": {"ukis OA": 0.697}}, ncols=2)
    ax_val, ax_ukis = fig.axes[:2]
    assert ax_val.get_title() == "synthetic VALIDATION mIoU" and ax_ukis.get_title() == "ukis OA"
    assert [line.get_label() for line in ax_val.get_lines()] == ["a", "b"]
    lines = ax_ukis.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "Fmask"]
    assert lines[2].get_linestyle() == "--" and list(lines[2].get_ydata()) == [0.697, 0.697]
    assert np.isnan(lines[0].get_ydata()[1])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["a", "b", "Fmask"]
    plt.close(fig)
    with pytest.raises(BandError, match="lack columns"):
        plots.transfer_curves_figure({"a": rows_a}, ("glacier mean acc",))
    with pytest.raises(BandError, match="at least one curve"):
        plots.transfer_curves_figure({})


# --------------------------------------------------------------------------- legends, galleries

def _legends_inside(fig) -> list:
    """Every legend's extent, checked to lie inside the figure and its tight bounding box."""
    import io

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend()]
    tight = fig.get_tightbbox(renderer)  # inches, what savefig(bbox_inches="tight") keeps
    for legend in legends:
        box = legend.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= fig.bbox.width + 1 \
            and box.y1 <= fig.bbox.height + 1, f"legend {box} outside the figure {fig.bbox}"
        inches = box.transformed(fig.dpi_scale_trans.inverted())
        assert tight.x0 - 0.01 <= inches.x0 and inches.x1 <= tight.x1 + 0.01
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return legends


def _history(n: int = 5) -> list[dict]:
    return [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_miou": 0.1 * e,
             **{f"iou_{c}": 0.05 * e for c in range(1, 6)}} for e in range(1, n + 1)]


@pytest.mark.parametrize("runs", [1, 4])
def test_learning_curves_one_legend_below_in_class_colours(runs) -> None:
    from dfmask_lib.classes import CLASS_COLOURS

    fig = plots.learning_curves_figure({k: _history() for k in range(runs)}, ma_window=2,
                                       best_epochs={0: 5})
    assert len(fig.axes) == 2 * runs and len(fig.legends) == 1
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["validation mIoU", "2-epoch mean", "IoU clear land", "IoU cloud",
                     "IoU cloud shadow", "IoU snow/ice", "IoU water", "kept epoch"]
    shadow = [ln for ln in fig.axes[runs].lines if ln.get_label() == "IoU cloud shadow"][0]
    np.testing.assert_allclose(shadow.get_color(), np.array(CLASS_COLOURS[3]) / 255 * 0.85)
    legends = _legends_inside(fig)
    assert len(legends) == 2  # the figure legend and the loss legend of the first run
    if runs == 4:
        assert fig.legends[0]._ncols >= 4  # spread over the wide figure, not a tall column


def test_confusion_figure_labelled_colour_bar_and_readable_text() -> None:
    cm = np.arange(36, dtype=np.int64).reshape(6, 6)
    fig = confusion_figure(cm)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "fraction of the truth row (recall)"
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 8
    np.testing.assert_allclose(fig.axes[0].images[0].get_array().sum(axis=1), 1.0)
    assert confusion_figure(cm, normalise=False).axes[1].get_ylabel() == "pixels"


def test_score_bars_figure_widens_for_many_methods_and_keeps_the_legend() -> None:
    columns = [f"IoU {c}" for c in ("clear land", "cloud", "cloud shadow", "snow/ice", "water")]
    many = [{"method": f"method number {i}", **{c: 0.1 * i for c in columns}} for i in range(9)]
    few = many[:2]
    wide = plots.score_bars_figure(many, columns)
    narrow = plots.score_bars_figure(few, columns)
    assert wide.get_figwidth() >= 9 > narrow.get_figwidth()
    assert len(wide.axes[0].patches) == 45
    assert [t.get_text() for t in _legends_inside(wide)[0].get_texts()] == \
        [r["method"] for r in many]


def test_comparison_maps_figure_legend_inside() -> None:
    rgb = np.random.default_rng(0).random((3, 8, 8))
    fig = plots.comparison_maps_figure(rgb, np.ones((8, 8), np.uint8), {"a": np.ones((8, 8),
                                                                                    np.uint8)})
    assert len(_legends_inside(fig)) == 1


def _panel_rgb(ax) -> np.ndarray:
    image = ax.images[0]
    return (image.to_rgba(image.get_array())[..., :3] * 255).round().astype(int)


def test_panels_figure_grid_colours_and_legend() -> None:
    from dfmask_lib.classes import CLASS_COLOURS
    from dfmask_lib.plots import Panel, panels_figure

    rng = np.random.default_rng(0)
    rgb = rng.random((3, 4, 5)).astype(np.float32)
    valid = np.ones((4, 5), bool)
    valid[0, 0] = False
    classes = np.array([[0, 1, 2], [3, 4, 5]], np.uint8)
    mask = np.array([[True, False], [False, True]])
    scored = np.array([[True, True], [True, False]])
    long_title = "Deep F-Mask stage 3 on the synthetic test scene number twelve"
    fig = panels_figure([[Panel("rgb", rgb, long_title, valid=valid),
                          Panel("classes", classes, "c"), Panel("mask", mask, "m", valid=scored)],
                         [Panel("classes", classes[:1], "short row")]], suptitle="gallery")
    axes = fig.axes
    assert len(axes) == 6 and fig.get_suptitle() == "gallery"
    assert [a.axison or bool(a.images) for a in axes] == [True, True, True, True, False, False]
    np.testing.assert_allclose(axes[0].images[0].get_array(), stretch_rgb(rgb, valid, (2, 98)))
    assert [tuple(c) for c in _panel_rgb(axes[1]).reshape(-1, 3)] == \
        [CLASS_COLOURS[c] for c in range(6)]
    assert [tuple(c) for c in _panel_rgb(axes[2]).reshape(-1, 3)] == \
        [(217, 26, 26), (255, 255, 255), (255, 255, 255), (191, 191, 191)]
    title = axes[0].get_title()
    assert "\n" in title and title.replace("\n", " ") == long_title
    assert axes[1].get_title() == "c" and axes[3].get_title() == "short row"
    legends = _legends_inside(fig)
    assert len(legends) == 1 and len(fig.legends) == 1
    assert [t.get_text() for t in legends[0].get_texts()] == [
        "0 no data", "1 clear land", "2 cloud", "3 cloud shadow", "4 snow/ice", "5 water",
        "True (disagree)", "False (agree)", "not valid"]
    only_rgb = panels_figure([[Panel("rgb", rgb)]])
    assert not only_rgb.legends  # nothing to explain
    assert not panels_figure([[Panel("classes", classes)]], legend=False).legends


@pytest.mark.parametrize(
    ("rows", "error"),
    [
        ([], "ConfigError"),
        ([[None]], "ConfigError"),
        ([["rgb"]], "ConfigError"),
        ([[plots.Panel("rgb", np.zeros((4, 2, 2)))]], "BandError"),
        ([[plots.Panel("classes", np.full((2, 2), 6))]], "LabelError"),
        ([[plots.Panel("classes", np.zeros((2, 2), np.float32))]], "LabelError"),
        ([[plots.Panel("mask", np.zeros((2, 2), np.uint8))]], "BandError"),
        ([[plots.Panel("mask", np.zeros((2, 2), bool), valid=np.ones((2, 3), bool))]],
         "BandError"),
    ],
)
def test_panels_figure_bad_inputs(rows, error) -> None:
    from dfmask_lib import errors

    with pytest.raises(getattr(errors, error)):
        plots.panels_figure(rows)


def test_panel_unknown_kind() -> None:
    from dfmask_lib.errors import ConfigError

    with pytest.raises(ConfigError, match="kind"):
        plots.Panel("rgba", np.zeros((2, 2)))


def test_stage_progression_figure_lines_and_annotations() -> None:
    rows = [{"method": "Fmask", "OA": 0.8, "mIoU": 0.5},
            {"method": "supervised", "OA": 0.9, "mIoU": float("nan")},
            {"method": "stage 0", "OA": 0.95, "mIoU": 0.7}]
    fig = plots.stage_progression_figure(rows, title="progress")
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.lines] == ["OA", "mIoU"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.8, 0.9, 0.95])
    assert [t.get_text() for t in ax.texts] == ["0.800", "0.900", "0.950", "0.500", "0.700"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Fmask", "supervised", "stage 0"]
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_title() == "progress"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["OA", "mIoU"]
    one = plots.stage_progression_figure(rows, ("OA",), label="method")
    assert len(one.axes[0].lines) == 1
    with pytest.raises(BandError, match="lack columns"):
        plots.stage_progression_figure(rows, ("F1",))
    with pytest.raises(BandError, match="at least one row"):
        plots.stage_progression_figure([])


def test_tile_sized_images_are_drawn_subsampled(monkeypatch):
    # A panel cannot show more pixels than it has: tile-sized arrays are drawn with one regular
    # stride (here a 7 px limit), so a figure of full tiles costs no tile-sized copies.
    monkeypatch.setattr(plots, "DISPLAY_MAX_PX", 7)
    classes = np.arange(20 * 15).reshape(20, 15) % 6
    fig = plots.classmap_figure(classes, legend=False)
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (7, 5)  # stride 3
    np.testing.assert_array_equal(shown, classes[::3, ::3])
    rgb = np.random.default_rng(0).random((3, 20, 15)).astype(np.float32)
    fig = plots.rgb_figure(rgb)
    assert fig.axes[0].images[0].get_array().shape == (7, 5, 3)
    small = np.ones((6, 7), np.uint8)
    assert plots.for_display(small)[0] is small  # already small: the array itself
    plt.close("all")


def test_subsampling_never_hides_a_bad_code(monkeypatch):
    # The codes are checked on the whole map, before it is subsampled for drawing.
    monkeypatch.setattr(plots, "DISPLAY_MAX_PX", 7)
    classes = np.zeros((20, 15), np.uint8)
    classes[1, 1] = 9  # not on the stride-3 grid that is drawn
    with pytest.raises(LabelError, match="9"):
        plots.panels_figure([[plots.Panel("classes", classes, "bad")]])
    with pytest.raises(LabelError):
        plots.classmap_figure(classes)
    plt.close("all")
