"""Tests of dfmask_lib.display: palette PNGs, one image per figure, HTML tables, offline views."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from dfmask_lib import display
from dfmask_lib.classes import CLASS_COLOURS
from dfmask_lib.errors import BandError, ConfigError, LabelError
from dfmask_lib.metrics import format_table

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
VOID = {"img", "input", "br", "hr", "meta", "link", "col", "area", "base", "source", "wbr"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class _Checker(HTMLParser):
    """Collects tags, ids, src/href values and script bodies; checks that tags nest."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._script: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.append(a["id"])
        self.links += [a[k] for k in ("src", "href") if k in a]
        if tag == "script":
            self._script = a
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        if self._script is not None:
            self.scripts.append((self._script, data))
            self._script = None


def _parse(text: str) -> _Checker:
    p = _Checker()
    p.feed(text)
    p.close()
    assert p.stack == [], f"unclosed tags {p.stack}"
    return p


# --------------------------------------------------------------------------- figures

def _gallery() -> plt.Figure:
    rgb = np.random.default_rng(0).random((64, 64, 3))
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(rgb)
    ax.set_title("noise")
    return fig


def test_png_bytes_palette_and_size() -> None:
    fig = _gallery()
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=80, bbox_inches="tight")
    data = display.png_bytes(fig, dpi=80, max_colours=16)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "P"
        assert len(im.getcolors(256)) <= 16
        assert im.size == Image.open(full).size  # same tight bounding box
    assert len(data) < len(full.getvalue())


def test_png_bytes_keeps_the_smaller_png() -> None:
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_axis_off()  # a blank white figure: the palette cannot be much smaller, never larger
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=50, bbox_inches="tight")
    assert len(display.png_bytes(fig, dpi=50)) <= len(full.getvalue())


@pytest.mark.parametrize("kw", [{"dpi": 0}, {"max_colours": 1}, {"max_colours": 300},
                                {"max_colours": 2.5}])
def test_png_bytes_bad_options(kw) -> None:
    with pytest.raises(ConfigError):
        display.png_bytes(_gallery(), **{"dpi": 50, **kw})
    with pytest.raises(ConfigError):
        display.setup_notebook(**kw)


def test_setup_notebook_outside_ipython_sets_rcparams(monkeypatch) -> None:
    import matplotlib

    monkeypatch.setattr(matplotlib, "rcParams", matplotlib.RcParams(matplotlib.rcParams))
    display.setup_notebook(dpi=72)
    assert matplotlib.rcParams["figure.dpi"] == 72 and matplotlib.rcParams["savefig.dpi"] == 72
    assert matplotlib.rcParams["font.size"] <= 10


def test_setup_notebook_one_palette_png_per_figure_in_an_executed_notebook(monkeypatch,
                                                                           tmp_path) -> None:
    """Each figure appears once, however the cell shows it, as a palette PNG."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel picks the inline backend
    cells = [
        "from dfmask_lib.display import setup_notebook\nsetup_notebook(dpi=40)\n"
        "import numpy as np\nimport matplotlib.pyplot as plt\nfrom dfmask_lib import plots",
        "fig, ax = plt.subplots()\nax.imshow(np.random.default_rng(0).random((20, 20, 3)))",
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nfig",  # the cell's value and still open
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nplt.show()",
        "plots.classmap_figure(np.zeros((4, 4), np.uint8))",
        "fig1, _ = plt.subplots()\nfig2, _ = plt.subplots()",  # two figures, two images
        "import matplotlib, matplotlib_inline\nprint(matplotlib.get_backend())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    pngs = [[o["data"]["image/png"] for o in c.outputs if "image/png" in o.get("data", {})]
            for c in nb.cells]
    assert [len(p) for p in pngs] == [0, 1, 1, 1, 1, 2, 0]
    assert "inline" in nb.cells[-1].outputs[0]["text"]
    for png in sum(pngs, []):
        with Image.open(io.BytesIO(base64.b64decode(png))) as im:
            assert im.mode == "P"


# --------------------------------------------------------------------------- tables

ROWS = [{"method": "Fmask <4>", "OA": 0.91234, "pixels": 1200, "zenith": 31.25, "x": None},
        {"method": "stage 0", "OA": float("nan"), "pixels": 7, "zenith": 2.0, "x": 1.5}]


def test_table_html_cells_and_alignment() -> None:
    t = display.Table(ROWS, digits=2, formats={"zenith": ".1f"}, caption="a & b")
    p = _parse(t._repr_html_())
    assert p.tags[0] == ("table", {"class": "dfmask-table", "style": p.tags[0][1]["style"]})
    text = t._repr_html_()
    cells = re.findall(r"<td[^>]*text-align:(\w+)\">(.*?)</td>", text)
    assert cells[:5] == [("left", "Fmask &lt;4&gt;"), ("right", "0.91"), ("right", "1200"),
                         ("right", "31.2"), ("right", "\u2013")]
    assert cells[5:] == [("left", "stage 0"), ("right", "\u2013"), ("right", "7"),
                         ("right", "2.0"), ("right", "1.50")]
    assert re.findall(r"<th [^>]*>(.*?)</th>", text) == ["method", "OA", "pixels", "zenith", "x"]
    assert "<caption" in text and "a &amp; b" in text


def test_table_text_is_format_table() -> None:
    t = display.Table(ROWS, digits=3)
    assert str(t) == repr(t) == format_table(ROWS, digits=3)
    assert str(display.Table(ROWS, caption="c")).splitlines()[0] == "c"


def test_table_bad_rows() -> None:
    with pytest.raises(ConfigError, match="same keys"):
        display.Table([{"a": 1}, {"b": 2}])
    with pytest.raises(ConfigError, match="formats"):
        display.Table([{"a": 1}], formats={"b": "d"})


def test_show_table_prints_outside_ipython(capsys) -> None:
    assert display.show_table(ROWS, digits=1) is None  # a cell's last line shows it once
    assert capsys.readouterr().out.strip() == format_table(ROWS, digits=1).strip()


# --------------------------------------------------------------------------- interactive maps

def _maps_inputs(h=5, w=7):
    rng = np.random.default_rng(1)
    rgb = rng.random((3, h, w)).astype(np.float32)
    truth = rng.integers(0, 6, (h, w)).astype(np.uint8)
    maps = {"Fmask": rng.integers(0, 6, (h, w)).astype(np.uint8),
            "dfmask <b>": rng.integers(0, 6, (h, w)).astype(np.int64)}
    return rgb, truth, maps


def _payload(view: display.HTMLView) -> dict:
    p = _parse(view.html)
    data = [body for attrs, body in p.scripts if attrs.get("type") == "application/json"]
    assert len(data) == 1
    return json.loads(data[0])


def test_interactive_maps_html_and_embedded_data() -> None:
    rgb, truth, maps = _maps_inputs()
    view = display.interactive_maps(rgb, maps, truth=truth, title="scene <1>")
    p = _parse(view.html)
    assert view._repr_html_() == view.html and p.ids[0] == view.id
    assert all(not link.startswith(("http", "//")) for link in p.links)
    assert "http" not in view.html and "<link" not in view.html
    img = [a for t, a in p.tags if t == "img"]
    assert len(img) == 1 and img[0]["src"].startswith("data:image/png;base64,")
    png = base64.b64decode(img[0]["src"].split(",", 1)[1])
    shown = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    np.testing.assert_array_equal(shown, np.round(np.moveaxis(rgb, 0, -1) * 255))
    payload = _payload(view)
    assert (payload["height"], payload["width"], payload["step"]) == (5, 7, 1)
    assert [m["name"] for m in payload["maps"]] == ["truth", "Fmask", "dfmask <b>"]
    decoded = [np.frombuffer(base64.b64decode(m["data"]), np.uint8).reshape(5, 7)
               for m in payload["maps"]]
    for got, want in zip(decoded, [truth, *maps.values()]):
        np.testing.assert_array_equal(got, want)
    assert payload["colours"][2] == list(CLASS_COLOURS[2])
    radios = [a for t, a in p.tags if t == "input" and a.get("type") == "radio"]
    assert [r["value"] for r in radios] == ["0", "1", "2"] and "checked" in radios[0]
    boxes = [a for t, a in p.tags if t == "input" and a.get("type") == "checkbox"]
    assert [b["value"] for b in boxes] == ["0", "1", "2", "3", "4", "5"]
    assert "#8b4513" in view.html  # clear land swatch, the authors' (139, 69, 19)
    assert "scene &lt;1&gt;" in view.html and "dfmask &lt;b&gt;" in view.html


def test_interactive_maps_downsamples_and_accepts_display_rgb() -> None:
    rgb8 = np.zeros((40, 90, 3), np.uint8)
    rgb8[..., 1] = 200
    classes = (np.arange(40 * 90).reshape(40, 90) % 6).astype(np.uint8)
    view = display.interactive_maps(rgb8, {"a": classes}, max_size=30)
    payload = _payload(view)
    assert payload["step"] == 3 and (payload["height"], payload["width"]) == (14, 30)
    got = np.frombuffer(base64.b64decode(payload["maps"][0]["data"]), np.uint8)
    np.testing.assert_array_equal(got.reshape(14, 30), classes[::3, ::3])  # nearest, no mixing
    from dfmask_lib.plots import stretch_rgb

    hw3 = stretch_rgb(np.random.default_rng(0).random((3, 4, 6)))  # (H, W, 3) float
    assert _payload(display.interactive_maps(hw3, {"a": np.ones((4, 6), np.uint8)}))["width"] == 6


def test_interactive_views_have_unique_ids() -> None:
    rgb, truth, maps = _maps_inputs()
    a, b = (display.interactive_maps(rgb, maps) for _ in range(2))
    ids_a, ids_b = set(_parse(a.html).ids), set(_parse(b.html).ids)
    assert ids_a and not ids_a & ids_b
    rows = [{"method": "m", "IoU cloud": 0.5}]
    c, d = (display.interactive_bars(rows, ["IoU cloud"]) for _ in range(2))
    assert c.id != d.id and not set(_parse(c.html).ids) & set(_parse(d.html).ids)
    for view in (a, c):  # every element id belongs to its view
        assert all(i.startswith(view.id) for i in _parse(view.html).ids)


@pytest.mark.parametrize(
    ("rgb", "maps", "truth", "error"),
    [
        (np.zeros((4, 5, 5)), {"a": np.zeros((5, 5), np.uint8)}, None, BandError),
        (np.full((3, 5, 5), 2.0), {"a": np.zeros((5, 5), np.uint8)}, None, BandError),
        (np.zeros((5, 5, 3), np.int32), {"a": np.zeros((5, 5), np.uint8)}, None, BandError),
        (np.zeros((3, 5, 5)), {}, None, LabelError),
        (np.zeros((3, 5, 5)), {"a": np.zeros((5, 4), np.uint8)}, None, LabelError),
        (np.zeros((3, 5, 5)), {"a": np.full((5, 5), 6, np.uint8)}, None, LabelError),
        (np.zeros((3, 5, 5)), {"a": np.zeros((5, 5), np.float32)}, None, LabelError),
        (np.zeros((3, 5, 5)), {"a": np.zeros((5, 5), np.uint8)}, np.full((5, 5), -1), LabelError),
    ],
)
def test_interactive_maps_bad_inputs(rgb, maps, truth, error) -> None:
    with pytest.raises(error):
        display.interactive_maps(rgb, maps, truth=truth)


# --------------------------------------------------------------------------- interactive bars

def test_interactive_bars_svg_values_and_legend() -> None:
    rows = [{"method": "Fmask", "IoU cloud": 0.8, "IoU water": float("nan")},
            {"method": "dfmask", "IoU cloud": 0.6, "IoU water": 0.25}]
    view = display.interactive_bars(rows, ["IoU cloud", "IoU water"], title="t")
    p = _parse(view.html)
    assert "http" not in view.html
    bars = [a for t, a in p.tags if t == "rect" and "dfm-bar" in a.get("class", "")]
    assert [(b["data-method"], b["data-column"], float(b["data-value"])) for b in bars] == [
        ("0", "0", 0.8), ("1", "0", 0.6), ("1", "1", 0.25)]  # no bar for the NaN
    assert bars[0]["data-label"] == "Fmask, IoU cloud: 0.800"
    assert float(bars[0]["height"]) == pytest.approx(2 * float(bars[1]["height"]) * 0.8 / 1.2,
                                                     abs=0.2)
    boxes = [a for t, a in p.tags if t == "input" and a.get("type") == "checkbox"]
    assert [b["value"] for b in boxes] == ["0", "1"]
    assert ">Fmask</label>" in view.html and ">cloud</text>" in view.html
    assert len(p.scripts) == 1


@pytest.mark.parametrize(
    ("rows", "columns", "match"),
    [
        ([], ["IoU cloud"], "at least one row"),
        ([{"method": "a", "IoU cloud": 0.5}], [], "at least one column"),
        ([{"method": "a", "IoU cloud": 0.5}], ["IoU water"], "lack columns"),
        ([{"name": "a", "IoU cloud": 0.5}], ["IoU cloud"], "lack columns"),
        ([{"method": "a", "IoU cloud": "high"}], ["IoU cloud"], "numbers"),
        ([{"method": "a", "IoU cloud": float("inf")}], ["IoU cloud"], "finite"),
    ],
)
def test_interactive_bars_bad_inputs(rows, columns, match) -> None:
    with pytest.raises(BandError, match=match):
        display.interactive_bars(rows, columns)


# --------------------------------------------------------------------------- the inline scripts

#: A minimal DOM stand-in for node: runs a view's script, fires events, prints what it drew.
MOCK_DOM = r"""
// minimal DOM stand-in: runs a view's script, fires events, prints what it drew
const fs = require("fs");
const [payloadJson, script, kind] = [fs.readFileSync(process.argv[2], "utf8"),
  fs.readFileSync(process.argv[3], "utf8"), process.argv[4]];
function el(props) {
  const handlers = {};
  return Object.assign({style: {}, addEventListener: (t, f) => { handlers[t] = f; },
    fire: (t, ev) => handlers[t] && handlers[t](ev || {}),
    getAttribute(k) { return this.attrs[k]; }, attrs: {}}, props);
}
global.atob = (s) => Buffer.from(s, "base64").toString("latin1");
const out = {};
let root;
if (kind === "maps") {
  const payload = JSON.parse(payloadJson);
  const n = payload.maps.length;
  const radios = [...Array(n).keys()].map(i => el({value: String(i), checked: i === 0}));
  const classes = [0, 1, 2, 3, 4, 5].map(c => el({value: String(c), checked: c !== 0}));
  const range = el({value: "0.5"});
  const ctx = {createImageData: (w, h) => ({data: new Uint8ClampedArray(4 * w * h)}),
               putImageData: (img) => { out.pixels = Array.from(img.data); }};
  const canvas = el({getContext: () => ctx,
                     getBoundingClientRect: () => ({left: 0, top: 0, width: payload.width * 2,
                                                    height: payload.height * 2})});
  const info = el({textContent: ""});
  root = el({id: "R", querySelector(sel) {
      if (sel === "canvas") return canvas;
      if (sel === ".dfm-info") return info;
      if (sel === "input[type=range]") return range;
      if (sel.includes(":checked")) return radios.find(r => r.checked) || null;
      throw new Error("selector " + sel);
    }, querySelectorAll(sel) {
      if (sel === "input.dfm-class") return classes;
      if (sel === "input") return [...radios, ...classes, range];
      throw new Error("selector " + sel);
    }});
  global.document = {getElementById: (id) =>
    id.endsWith("-data") ? {textContent: payloadJson} : root};
  eval(script);
  out.first = out.pixels;
  radios[0].checked = false; radios[n - 1].checked = true; classes[2].checked = false;
  radios[n - 1].fire("change");
  out.second = out.pixels;
  canvas.fire("mousemove", {clientX: 2 * 1 + 1, clientY: 2 * 2 + 1});  // row 2, col 1
  out.hover = info.textContent;
} else {
  const boxes = [el({value: "0", checked: true}), el({value: "1", checked: true})];
  const bars = [el({attrs: {"data-label": "A"}}), el({attrs: {"data-label": "B"}})];
  const info = el({textContent: ""});
  root = el({querySelector: (s) => info, querySelectorAll(sel) {
      if (sel === "input.dfm-method") return boxes;
      if (sel === "rect.dfm-bar") return bars;
      if (sel === "[data-method='0']") return [bars[0]];
      throw new Error("selector " + sel);
    }});
  global.document = {getElementById: () => root};
  eval(script);
  bars[1].fire("mouseenter"); out.hover = info.textContent;
  boxes[0].checked = false; boxes[0].fire("change"); out.hidden = bars[0].style.display;
}
console.log(JSON.stringify(out));
"""


def _run_script(view: display.HTMLView, kind: str, tmp_path: Path) -> dict:
    p = _parse(view.html)
    data = [b for a, b in p.scripts if a.get("type") == "application/json"] or ["{}"]
    code = [b for a, b in p.scripts if not a.get("type")]
    assert len(code) == 1
    files = [tmp_path / n for n in ("mock.js", "data.json", "view.js")]
    for f, text in zip(files, [MOCK_DOM, data[0], code[0]]):
        f.write_text(text)
    done = subprocess.run([NODE, *map(str, files), kind], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_interactive_maps_script_draws_switches_and_hovers(tmp_path) -> None:
    truth = np.array([[1, 1, 2, 2, 5, 5], [1, 1, 2, 2, 5, 5],
                      [3, 3, 4, 4, 0, 0], [3, 3, 4, 4, 0, 0]], np.uint8)
    fmask = np.full((4, 6), 2, np.uint8)
    view = display.interactive_maps(np.zeros((4, 6, 3), np.uint8), {"Fmask": fmask},
                                    truth=truth, max_size=3)  # every 2nd pixel: 2 x 3
    out = _run_script(view, "maps", tmp_path)
    first = np.array(out["first"]).reshape(2, 3, 4)  # truth overlaid, class 0 hidden
    np.testing.assert_array_equal(first[0, 0], [*CLASS_COLOURS[1], 128])
    np.testing.assert_array_equal(first[1, 1], [*CLASS_COLOURS[4], 128])
    assert first[1, 2, 3] == 0
    second = np.array(out["second"]).reshape(2, 3, 4)  # Fmask overlaid, cloud unticked
    np.testing.assert_array_equal(second[..., :3], np.broadcast_to(CLASS_COLOURS[2], (2, 3, 3)))
    assert (second[..., 3] == 0).all()
    assert out["hover"] == "row 2, col 2: truth = snow/ice; Fmask = cloud"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_interactive_bars_script_hovers_and_toggles(tmp_path) -> None:
    rows = [{"method": "a", "IoU cloud": 0.5}, {"method": "b", "IoU cloud": 0.25}]
    out = _run_script(display.interactive_bars(rows, ["IoU cloud"]), "bars", tmp_path)
    assert out == {"hover": "B", "hidden": "none"}


def test_setup_notebook_turns_warnings_into_one_line_notes(capsys):
    import warnings

    from dfmask_lib.display import setup_notebook

    old = warnings.showwarning
    try:
        setup_notebook()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = warnings.showwarning  # keep ours inside the context
            warnings.warn("classes absent: ['cloud shadow']", UserWarning)
        out = capsys.readouterr()
        assert out.out == "note: classes absent: ['cloud shadow']\n" and "UserWarning" not in out.err
    finally:
        warnings.showwarning = old


def test_table_max_columns_stacks_tables_repeating_the_first_column():
    from dfmask_lib.display import Table

    rows = [{"method": "a", **{f"c{i}": float(i) for i in range(5)}}]
    one = Table(rows)._repr_html_()
    assert one.count("<table") == 1
    split = Table(rows, max_columns=3, caption="cap")._repr_html_()
    assert split.count("<table") == 3 and split.count(">method</th>") == 3
    assert split.count("<caption") == 1 and ">c4</th>" in split
    with pytest.raises(ConfigError, match="max_columns"):
        Table(rows, max_columns=1)


def test_table_cells_carry_their_column_name_for_phones():
    from dfmask_lib.display import Table

    out = Table([{"a <b>": 1.5, "name": "x"}])._repr_html_()
    assert 'data-label="a &lt;b&gt;"' in out and 'data-label="name"' in out
