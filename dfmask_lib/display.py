"""Notebook display helpers: compact figures, HTML tables and offline interactive views.

The book is executed by papermill and rendered to static HTML (jupyter-book, myst-nb) that is
read with no kernel and no network. Everything here therefore produces self-contained outputs:
figures as palette PNGs (:func:`setup_notebook`, :func:`png_bytes`), tables as plain HTML
(:class:`Table`), and interactive views whose data, script and style are inline
(:func:`interactive_maps`, :func:`interactive_bars`). matplotlib, Pillow and IPython are
imported only when a function needs them.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import uuid
from typing import Any, Mapping, Sequence

import numpy as np

from .classes import CLASS_CODES, CLASS_COLOURS, CLASS_NAMES
from .errors import BandError, ConfigError, LabelError

__all__ = ["setup_notebook", "show_note", "png_bytes", "Table", "show_table", "HTMLView",
           "interactive_maps", "interactive_bars"]

#: rcParams of the book's figures: small, even text (the HTML page scales images down).
BOOK_RC: Mapping[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8.5,
    "figure.titlesize": 10.5,
}


# --------------------------------------------------------------------------- figures

def _check_png_options(dpi: Any, max_colours: Any) -> None:
    """Raise ConfigError unless ``dpi`` > 0 and ``max_colours`` is an integer in 2..256."""
    if not (isinstance(dpi, (int, float)) and dpi > 0):
        raise ConfigError(f"dpi must be a positive number, got {dpi!r}")
    if not (isinstance(max_colours, int) and 2 <= max_colours <= 256):
        raise ConfigError(f"max_colours must be an integer in 2..256, got {max_colours!r}")


def png_bytes(fig: Any, *, dpi: float = 96, max_colours: int = 256) -> bytes:
    """A matplotlib Figure as PNG bytes, quantised to an adaptive palette when that is smaller.

    Args:
        fig: a :class:`matplotlib.figure.Figure`.
        dpi: resolution of the rendering (dots per inch), > 0.
        max_colours: palette size, 2..256. The palette PNG is kept only when it is smaller than
            the full-colour one (line plots with few colours gain little; RGB galleries a lot).

    Returns:
        PNG file bytes, rendered with ``bbox_inches="tight"`` so that outside legends and
        titles are kept.

    Raises:
        ConfigError: ``dpi`` not positive or ``max_colours`` outside 2..256.
    """
    from PIL import Image

    _check_png_options(dpi, max_colours)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    full = buf.getvalue()
    with Image.open(io.BytesIO(full)) as im:
        im.load()
        if im.mode == "RGBA" and im.getchannel("A").getextrema() == (255, 255):
            im = im.convert("RGB")  # opaque: median cut on RGB gives the better palette
        if im.mode == "RGB":
            pal = im.quantize(colors=max_colours, method=Image.Quantize.MEDIANCUT)
        else:  # transparent figures: only octree quantises RGBA
            pal = im.convert("RGBA").quantize(colors=max_colours,
                                              method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        pal.save(out, format="PNG", optimize=True)
    small = out.getvalue()
    return small if len(small) < len(full) else full


def _png_formatter(dpi: float, max_colours: int):
    def render(fig: Any) -> str:
        data = png_bytes(fig, dpi=dpi, max_colours=max_colours)
        import sys

        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            # once shown, the inline backend must not show it again at the end of the cell
            pyplot.close(fig)
        return base64.b64encode(data).decode("ascii")

    return render


def show_note(message: Warning | str, category: type[Warning], filename: str, lineno: int,
              file: Any = None, line: str | None = None) -> None:
    """A :func:`warnings.showwarning` for the book: ``note: <message>`` on stdout."""
    print(f"note: {message}")


def setup_notebook(*, dpi: float = 96, max_colours: int = 256) -> None:
    """Set up a book notebook's figures; call once, in its first code cell.

    Sets matplotlib's rcParams (``figure.dpi`` and ``savefig.dpi`` = ``dpi``, the small even
    text of :data:`BOOK_RC`) and, inside IPython, makes every matplotlib Figure display as one
    palette PNG from :func:`png_bytes`, replacing the inline backend's own PNG (and any SVG,
    PDF or JPEG) formatter. A figure is closed once displayed, so a figure that is both the
    cell's value and still open at the end of the cell appears once. Outside IPython only the
    rcParams are set. Warnings are printed as one-line notes (:func:`show_note`), not as a
    file name, a line number and a line of source on the page's stderr.

    Raises:
        ConfigError: ``dpi`` not positive or ``max_colours`` outside 2..256.
    """
    _check_png_options(dpi, max_colours)
    import matplotlib
    import warnings

    matplotlib.rcParams.update({**BOOK_RC, "figure.dpi": dpi, "savefig.dpi": dpi})
    warnings.showwarning = show_note
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    if matplotlib.get_backend(auto_select=False) in (
            "inline", "module://matplotlib_inline.backend_inline"):
        # Loading the backend selects its figure formats once; do it now, before ours is set,
        # or the first plt.subplots() would put the backend's PNG formatter back.
        import importlib

        importlib.import_module("matplotlib_inline.backend_inline")
    from matplotlib.figure import Figure

    for formatter in shell.display_formatter.formatters.values():
        formatter.pop(Figure, None)
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, _png_formatter(dpi, max_colours))


# --------------------------------------------------------------------------- tables

#: Columns of one HTML table before :class:`Table` stacks it (fits a phone's width).
MAX_COLUMNS = 7


class Table:
    """Rows of dicts (same keys) shown as a compact HTML table in a notebook.

    Args:
        rows: sequence of mappings with the same keys, in the same order (e.g.
            :func:`dfmask_lib.metrics.scores_table`).
        digits: decimals of float cells.
        formats: column -> format spec (``{"offset": "d", "zenith": ".1f"}``) for numbers.
        caption: optional caption above the table.
        max_columns: in HTML, a table with more columns is shown as several stacked tables
            of at most this many columns, each repeating the first column, so that it fits a
            phone's width (:data:`MAX_COLUMNS` by default); None = always one table.

    ``str()`` and ``repr()`` give :func:`dfmask_lib.metrics.format_table` text. In HTML, numbers
    are right-aligned, NaN and None are an en dash and strings are escaped.

    Raises:
        ConfigError: rows with different keys, ``formats`` naming unknown columns, or a
            negative ``digits``.
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]], *, digits: int = 3,
                 formats: Mapping[str, str] | None = None, caption: str | None = None,
                 max_columns: int | None = -1) -> None:
        rows = [dict(r) for r in rows]
        keys = list(rows[0]) if rows else []
        odd = [i for i, r in enumerate(rows) if list(r) != keys]
        if odd:
            raise ConfigError(f"table rows must have the same keys as row 0 ({keys}); "
                              f"row {odd[0]} has {list(rows[odd[0]])}")
        formats = dict(formats or {})
        unknown = sorted(set(formats) - set(keys))
        if unknown:
            raise ConfigError(f"formats name columns {unknown} that the rows do not have")
        if not isinstance(digits, int) or digits < 0:
            raise ConfigError(f"digits must be a non-negative integer, got {digits!r}")
        if max_columns == -1:
            max_columns = MAX_COLUMNS
        if max_columns is not None and (not isinstance(max_columns, int) or max_columns < 2):
            raise ConfigError(f"max_columns must be an integer >= 2 or None, got {max_columns!r}")
        self.max_columns = max_columns
        self.rows, self.keys, self.digits = rows, keys, digits
        self.formats, self.caption = formats, caption

    def _cell(self, key: str, v: Any) -> tuple[str, bool]:
        """(text, is_number) of one cell."""
        if v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)):
            return "\u2013", True
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v)), False
        if isinstance(v, (int, float, np.integer, np.floating)):
            spec = self.formats.get(key)
            if spec is None:
                spec = "d" if isinstance(v, (int, np.integer)) else f".{self.digits}f"
            try:
                return format(v, spec), True
            except ValueError:  # "d" on a float: fall back to the float format
                return format(float(v), f".{self.digits}f"), True
        return str(v), False

    def _repr_html_(self) -> str:
        width = self.max_columns
        if width is None or len(self.keys) <= width:
            return self._html(self.keys, self.caption)
        first, rest = self.keys[:1], self.keys[1:]
        chunks = [first + rest[i:i + width - 1] for i in range(0, len(rest), width - 1)]
        return "".join(self._html(keys, self.caption if i == 0 else None)
                       for i, keys in enumerate(chunks))

    def _html(self, keys: Sequence[str], caption: str | None) -> str:
        """One HTML table of the columns ``keys``."""
        parts = ['<table class="dfmask-table" style="border-collapse:collapse;'
                 'font-size:0.85em;margin:0.5em 0">']
        if caption:
            parts.append(f'<caption style="caption-side:top;text-align:left;'
                         f'font-weight:bold">{html.escape(caption)}</caption>')
        th = 'style="padding:2px 8px;border-bottom:1px solid #888;text-align:{}"'
        numeric = {k: all(self._cell(k, r[k])[1] for r in self.rows) for k in keys}
        parts.append("<thead><tr>" + "".join(
            f'<th {th.format("right" if numeric[k] else "left")}>{html.escape(str(k))}</th>'
            for k in keys) + "</tr></thead><tbody>")
        for r in self.rows:
            cells = []
            for k in keys:
                text, is_num = self._cell(k, r[k])
                align = "right" if is_num else "left"
                # data-label: the column's name, shown beside the value when a phone's
                # stylesheet stacks the cells of a row (book/_static/dfmask.css)
                cells.append(f'<td data-label="{html.escape(str(k), quote=True)}" '
                             f'style="padding:1px 8px;text-align:{align}">'
                             f'{html.escape(text)}</td>')
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)

    def __str__(self) -> str:
        from .metrics import format_table

        text = format_table(self.rows, digits=self.digits)
        return f"{self.caption}\n{text}" if self.caption else text

    __repr__ = __str__


def show_table(rows: Sequence[Mapping[str, Any]], **kw: Any) -> None:
    """Display ``Table(rows, **kw)`` in IPython, print it as text elsewhere.

    Returns None, so that a ``show_table(...)`` ending a cell is not shown a second time.
    """
    table = Table(rows, **kw)
    shell = None
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        pass
    if shell is not None:
        from IPython.display import display

        display(table)
    else:
        print(table)


# --------------------------------------------------------------------------- interactive views

class HTMLView:
    """A self-contained HTML fragment (inline data, script and style) for notebook output.

    Attributes:
        html: the fragment; ``_repr_html_`` returns it.
        id: the unique id of its root element (every element id inside starts with it).
    """

    def __init__(self, html_text: str, element_id: str) -> None:
        self.html, self.id = html_text, element_id

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<HTMLView {self.id}: {len(self.html)} characters of HTML>"


_counter = itertools.count()


def _new_id(kind: str) -> str:
    # a counter for readability, a random part so that ids differ across kernels and pages
    return f"dfmask-{kind}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


def _json_script(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(obj, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def _png_data_uri(rgb8: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _display_rgb(rgb: Any) -> np.ndarray:
    """uint8 (H, W, 3) from float (H, W, 3) or (3, H, W) in [0, 1], or uint8 (H, W, 3)."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        if rgb.ndim != 3 or rgb.shape[-1] != 3:
            raise BandError(f"uint8 rgb must be (H, W, 3), got shape {rgb.shape}")
        return rgb
    if not np.issubdtype(rgb.dtype, np.floating) or rgb.ndim != 3 or 3 not in (
            rgb.shape[0], rgb.shape[-1]):
        raise BandError(f"rgb must be float (3, H, W) or (H, W, 3) in [0, 1] or uint8 (H, W, 3), "
                        f"got {rgb.dtype} {rgb.shape}")
    if rgb.shape[-1] != 3:  # (3, H, W); (H, W, 3) wins when both fit, as stretch_rgb returns it
        rgb = np.moveaxis(rgb, 0, -1)
    if not np.isfinite(rgb).all() or rgb.min() < 0 or rgb.max() > 1:
        raise BandError("float rgb must be finite and in [0, 1]; stretch reflectance first "
                        "with dfmask_lib.plots.stretch_rgb")
    return np.round(rgb * 255).astype(np.uint8)


def _class_map(name: str, a: Any, shape: tuple[int, int]) -> np.ndarray:
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.integer) or a.shape != shape:
        raise LabelError(f"class map {name!r} must be integer {shape} like the rgb, "
                         f"got {a.dtype} {a.shape}")
    bad = np.unique(a[(a < 0) | (a > max(CLASS_CODES))])
    if bad.size:
        raise LabelError(f"class map {name!r} holds codes {bad[:10].tolist()} outside the "
                         f"project codes 0-5; recode it with dfmask_lib.classes.recode")
    return a.astype(np.uint8)


_MAPS_CSS = """
#{id} {{font-family:sans-serif;font-size:13px;margin:0.5em 0}}
#{id} .dfm-row {{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}}
#{id} .dfm-stack {{position:relative;line-height:0}}
#{id} .dfm-stack img, #{id} .dfm-stack canvas {{image-rendering:pixelated;
  width:{dw}px;height:{dh}px}}
#{id} .dfm-stack canvas {{position:absolute;left:0;top:0;cursor:crosshair}}
#{id} fieldset {{border:1px solid #ccc;margin:0 0 6px 0;padding:2px 8px}}
#{id} label {{display:block;white-space:nowrap}}
#{id} .dfm-sw {{display:inline-block;width:11px;height:11px;border:1px solid #777;
  vertical-align:middle;margin:0 4px}}
#{id} .dfm-info {{min-height:1.3em;margin-top:4px;font-family:monospace}}
"""

_MAPS_JS = """
(function () {
  var root = document.getElementById(%(id)s);
  var data = JSON.parse(document.getElementById(%(id)s + "-data").textContent);
  var w = data.width, h = data.height, f = data.step;
  var maps = data.maps.map(function (m) {
    var s = atob(m.data), a = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
    return {name: m.name, codes: a};
  });
  var canvas = root.querySelector("canvas"), ctx = canvas.getContext("2d");
  var img = ctx.createImageData(w, h), info = root.querySelector(".dfm-info");
  function current() {
    var r = root.querySelector("input[name='" + root.id + "-map']:checked");
    return r ? parseInt(r.value, 10) : 0;
  }
  function draw() {
    var on = {}, alpha = parseFloat(root.querySelector("input[type=range]").value);
    root.querySelectorAll("input.dfm-class").forEach(function (c) {
      on[c.value] = c.checked;
    });
    var codes = maps[current()].codes, px = img.data;
    for (var i = 0; i < w * h; i++) {
      var c = codes[i], rgb = data.colours[c];
      px[4 * i] = rgb[0]; px[4 * i + 1] = rgb[1]; px[4 * i + 2] = rgb[2];
      px[4 * i + 3] = on[c] ? Math.round(255 * alpha) : 0;
    }
    ctx.putImageData(img, 0, 0);
  }
  root.querySelectorAll("input").forEach(function (el) {
    el.addEventListener("input", draw); el.addEventListener("change", draw);
  });
  canvas.addEventListener("mousemove", function (ev) {
    var b = canvas.getBoundingClientRect();
    var c = Math.min(w - 1, Math.floor((ev.clientX - b.left) / b.width * w));
    var r = Math.min(h - 1, Math.floor((ev.clientY - b.top) / b.height * h));
    if (r < 0 || c < 0) return;
    info.textContent = "row " + r * f + ", col " + c * f + ": " + maps.map(function (m) {
      return m.name + " = " + data.names[m.codes[r * w + c]];
    }).join("; ");
  });
  canvas.addEventListener("mouseleave", function () { info.textContent = data.hint; });
  info.textContent = data.hint;
  draw();
})();
"""


def interactive_maps(
    rgb: Any,
    maps: Mapping[str, Any],
    *,
    truth: Any | None = None,
    max_size: int = 256,
    title: str | None = None,
) -> HTMLView:
    """An RGB image with a switchable class-map overlay, for a static HTML page (no kernel).

    Radio buttons choose the overlaid map (the reference first, when given), checkboxes
    toggle each class 0-5 (the authors' colours), a slider sets the opacity, and hovering a
    pixel lists every map's class there, in full-resolution row and column.

    Args:
        rgb: display-ready image: float (H, W, 3) in [0, 1] (what
            :func:`dfmask_lib.plots.stretch_rgb` returns), float (3, H, W) in [0, 1], or uint8
            (H, W, 3). When a float array fits both, it is read as (H, W, 3).
        maps: method name -> integer (H, W) class map in project codes 0-5 (at least one).
        truth: optional integer (H, W) reference in project codes, shown as ``truth``.
        max_size: longest side in pixels of the embedded arrays; larger inputs are sampled
            every ``ceil(max(H, W) / max_size)`` pixels (class maps by nearest pixel, the RGB
            by box averaging).
        title: optional heading.

    Returns:
        An :class:`HTMLView`; the RGB is a PNG data URI, the class maps base64 uint8 rows in a
        ``<script type="application/json">`` element.

    Raises:
        BandError: ``rgb`` of the wrong dtype, shape or range.
        LabelError: no maps, or a map that is not integer (H, W) in codes 0-5.
        ConfigError: ``max_size`` < 1.
    """
    from PIL import Image

    image = _display_rgb(rgb)
    shape = image.shape[:2]
    if not maps:
        raise LabelError("interactive_maps needs at least one class map")
    if not isinstance(max_size, int) or max_size < 1:
        raise ConfigError(f"max_size must be a positive integer, got {max_size!r}")
    named = ([("truth", _class_map("truth", truth, shape))] if truth is not None else [])
    named += [(str(k), _class_map(str(k), v, shape)) for k, v in maps.items()]
    step = max(1, math.ceil(max(shape) / max_size))
    small = [(k, np.ascontiguousarray(v[::step, ::step])) for k, v in named]
    h, w = small[0][1].shape
    if step > 1:
        image = np.asarray(Image.fromarray(image).resize((w, h), Image.BOX))
    zoom = max(1, 384 // max(h, w))  # small chips are shown larger, pixel by pixel
    eid = _new_id("maps")
    payload = {
        "width": w, "height": h, "step": step,
        "names": [CLASS_NAMES[c] for c in CLASS_CODES],
        "colours": [list(CLASS_COLOURS[c]) for c in CLASS_CODES],
        "hint": f"hover the image for the classes (image {shape[0]} x {shape[1]} px"
                + (f", shown every {step} px)" if step > 1 else ")"),
        "maps": [{"name": k, "data": base64.b64encode(v.tobytes()).decode("ascii")}
                 for k, v in small],
    }
    radios = "".join(
        f'<label><input type="radio" name="{eid}-map" value="{i}"'
        f'{" checked" if i == 0 else ""}> {html.escape(k)}</label>'
        for i, (k, _) in enumerate(small))
    boxes = "".join(
        f'<label><input type="checkbox" class="dfm-class" value="{c}"'
        f'{"" if c == 0 else " checked"}><span class="dfm-sw" style="background:'
        f'{_hex(CLASS_COLOURS[c])}"></span>{c} {html.escape(CLASS_NAMES[c])}</label>'
        for c in CLASS_CODES)
    css = _MAPS_CSS.format(id=eid, dw=w * zoom, dh=h * zoom)
    head = f"<div style=\"font-weight:bold\">{html.escape(title)}</div>" if title else ""
    text = (
        f'<div id="{eid}" class="dfmask-maps"><style>{css}</style>{head}'
        f'<div class="dfm-row"><div><div class="dfm-stack">'
        f'<img id="{eid}-rgb" alt="RGB" src="{_png_data_uri(image)}">'
        f'<canvas id="{eid}-overlay" width="{w}" height="{h}"></canvas></div>'
        f'<div class="dfm-info" id="{eid}-info"></div></div>'
        f'<div><fieldset><legend>overlay</legend>{radios}</fieldset>'
        f'<fieldset><legend>classes</legend>{boxes}</fieldset>'
        f'<label>opacity <input type="range" id="{eid}-opacity" min="0" max="1" step="0.05" '
        f'value="0.6"></label></div></div>'
        f'<script type="application/json" id="{eid}-data">{_json_script(payload)}</script>'
        f'<script>{_MAPS_JS % {"id": json.dumps(eid)}}</script></div>'
    )
    return HTMLView(text, eid)


_BARS_JS = """
(function () {
  var root = document.getElementById(%(id)s), info = root.querySelector(".dfm-info");
  root.querySelectorAll("input.dfm-method").forEach(function (box) {
    box.addEventListener("change", function () {
      root.querySelectorAll("[data-method='" + box.value + "']").forEach(function (el) {
        el.style.display = box.checked ? "" : "none";
      });
    });
  });
  root.querySelectorAll("rect.dfm-bar").forEach(function (bar) {
    bar.addEventListener("mouseenter", function () {
      info.textContent = bar.getAttribute("data-label");
      bar.style.opacity = 0.7;
    });
    bar.addEventListener("mouseleave", function () {
      info.textContent = "\\u00a0"; bar.style.opacity = 1;
    });
  });
})();
"""


def interactive_bars(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    label: str = "method",
    title: str | None = None,
    ylabel: str = "IoU",
) -> HTMLView:
    """Grouped bars as inline SVG: one group per column, one bar per row (method).

    Hovering a bar shows its method, column and value (3 decimals; also an SVG ``<title>``
    tooltip, which works without script); a checkbox per method shows or hides its bars.
    NaN draws no bar (a grey dash marks it). The y axis spans [0, 1], or up to the largest
    value when that is above 1.

    Args:
        rows: table rows (e.g. :meth:`dfmask_lib.compare.Comparison.table`), each with
            ``label`` and the ``columns`` as numbers.
        columns: row keys to draw, in order; their text after the first word names the group
            (``"IoU cloud"`` -> ``cloud``), as in :func:`dfmask_lib.plots.score_bars_figure`.
        label, title, ylabel: display options.

    Raises:
        BandError: no rows or columns, a column or ``label`` missing from a row, or a value
            that is not a number.
    """
    if not rows:
        raise BandError("interactive_bars needs at least one row")
    if not columns:
        raise BandError("interactive_bars needs at least one column")
    missing = [c for c in [label, *columns] if any(c not in r for r in rows)]
    if missing:
        raise BandError(f"rows lack columns {missing}")
    try:
        values = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BandError(f"interactive_bars values must be numbers: {exc}") from None
    if np.isinf(values).any() or (values[np.isfinite(values)] < 0).any():
        raise BandError("interactive_bars values must be finite, non-negative numbers or NaN")
    names = [str(r[label]) for r in rows]
    groups = [c.split(" ", 1)[1] if " " in c else c for c in columns]
    n, m = len(rows), len(columns)
    top = max(1.0, float(np.nanmax(values)) if np.isfinite(values).any() else 1.0)
    bar_w = max(4.0, min(18.0, 160.0 / n))
    group_w = n * bar_w + 16
    left, right, head, foot = 48, 8, 10, 40
    width, height = int(left + m * group_w + right), 260
    plot_h = height - head - foot
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    colours = [_hex(np.array(cmap(i % cmap.N)[:3]) * 255) for i in range(n)]
    eid = _new_id("bars")
    # Scales down to the text column (never wider than the page), never up beyond its size.
    svg = [f'<svg id="{eid}-svg" width="100%" style="max-width:{width}px;height:auto" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" '
           f'font-size="11">']
    for t in np.linspace(0, top, 6):
        y = head + plot_h * (1 - t / top)
        svg.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{left - 4}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{t:.1f}</text>')
    svg.append(f'<text transform="translate(12,{head + plot_h / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle">{html.escape(ylabel)}</text>')
    for j, group in enumerate(groups):
        x0 = left + j * group_w + 8
        svg.append(f'<text x="{x0 + n * bar_w / 2:.1f}" y="{head + plot_h + 16}" '
                   f'text-anchor="middle">{html.escape(group)}</text>')
        for i in range(n):
            v, x = values[i, j], x0 + i * bar_w
            if np.isnan(v):
                svg.append(f'<text data-method="{i}" class="dfm-na" x="{x + bar_w / 2:.1f}" '
                           f'y="{head + plot_h - 2}" text-anchor="middle" fill="#888">-</text>')
                continue
            tip = f"{names[i]}, {columns[j]}: {v:.3f}"
            bh = plot_h * v / top
            svg.append(f'<rect class="dfm-bar" data-method="{i}" data-column="{j}" '
                       f'data-value="{v:.6g}" data-label="{html.escape(tip)}" '
                       f'x="{x:.1f}" y="{head + plot_h - bh:.1f}" width="{bar_w - 1:.1f}" '
                       f'height="{bh:.1f}" fill="{colours[i]}">'
                       f'<title>{html.escape(tip)}</title></rect>')
    svg.append(f'<line x1="{left}" x2="{width - right}" y1="{head + plot_h}" '
               f'y2="{head + plot_h}" stroke="#444"/></svg>')
    legend = "".join(
        f'<label style="margin-right:10px;white-space:nowrap;cursor:pointer">'
        f'<input type="checkbox" class="dfm-method" value="{i}" checked>'
        f'<span style="display:inline-block;width:11px;height:11px;margin:0 4px;'
        f'vertical-align:middle;background:{colours[i]}"></span>{html.escape(name)}</label>'
        for i, name in enumerate(names))
    head_html = f'<div style="font-weight:bold">{html.escape(title)}</div>' if title else ""
    text = (f'<div id="{eid}" class="dfmask-bars" style="font-family:sans-serif;'
            f'font-size:13px;margin:0.5em 0">{head_html}{"".join(svg)}'
            f'<div style="display:flex;flex-wrap:wrap">{legend}</div>'
            f'<div class="dfm-info" style="min-height:1.3em;font-family:monospace">'
            f'&nbsp;</div><script>{_BARS_JS % {"id": json.dumps(eid)}}</script></div>')
    return HTMLView(text, eid)
