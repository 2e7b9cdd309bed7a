"""Checks of a built book: what a reader would see broken, found before a reader does.

:func:`check_html` reads the rendered pages with the standard library's HTML parser
(no browser): every chapter page exists, has a title and as many images as its
executed notebook has image outputs; nothing on a page or in the stylesheets it links
is fetched from the internet; no image is oversized; no text output shows a Python
traceback, a warning or the remains of a progress bar.

:func:`browser_check` opens the pages in headless Chromium (optional: the Python
package ``playwright`` and a Chromium binary), blocks and records every request that
is not ``file://``, takes a full-page screenshot per page and width, and reports what
only a layout engine can see: pages or elements wider than the screen, console errors.

Both return a list of problem strings, empty when the book is fine. From the shell::

    python -m dfmask_lib.bookcheck book/_build/html [--browser OUT_DIR]

checks the chapters of the last build (:func:`built_chapters`), prints the problems and
exits 1 if there are any.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import ConfigError, DfmaskError

__all__ = ["check_html", "check_page", "notebook_image_outputs", "browser_check",
           "find_chromium", "built_chapters", "main"]

#: Tags of cells whose outputs jupyter-book leaves out of the page.
REMOVED_OUTPUT_TAGS = frozenset({"remove-cell", "remove-output", "remove_cell", "remove_output"})
#: The MIME types myst-nb renders for HTML, best first (its ``nb_mime_priority_overrides``
#: default): an output is shown as an image only when no type before the image wins.
MIME_PRIORITY = ("application/vnd.jupyter.widget-view+json", "application/javascript",
                 "text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown",
                 "text/latex", "text/plain")
#: ``<link rel=...>`` values that make the browser fetch the target.
FETCHING_RELS = frozenset({"stylesheet", "preload", "prefetch", "modulepreload", "font", "icon"})
#: Elements whose ``src`` the browser fetches.
SRC_TAGS = frozenset({"script", "img", "iframe", "embed", "source", "video", "audio"})
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                       "meta", "source", "track", "wbr"})
TRACEBACK = "Traceback (most recent call last)"
#: A line printed by :mod:`warnings` ("UserWarning: ...", "Warning: ...").
WARNING_LINE = re.compile(r"\b[A-Z][A-Za-z]*Warning\b[: ]|(?<![A-Za-z])Warning[: ]")
#: What tqdm leaves in a captured output: a rate or a bar.
TQDM_REMAINS = re.compile(r"(?:it|s)/(?:s|it)\]|\d%\|")
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)""", re.I)
_QUOTED_URL = re.compile(r"""["'`]((?:https?:)?//[^"'`\s]+)""", re.I)
_REDIRECT = re.compile(r"""<meta[^>]+http-equiv=["']?refresh""", re.I)
CHROMIUM_NAMES = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")


def is_external(url: str) -> bool:
    """True for ``http://``, ``https://`` and protocol-relative ``//`` addresses."""
    url = url.strip().lower()
    return url.startswith(("http://", "https://", "//"))


def _local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL of ``page`` names, or None (external, data:, anchors)."""
    url = url.strip().split("#", 1)[0].split("?", 1)[0]
    if not url or is_external(url) or re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I):
        return None
    return (page.parent / url).resolve()


class _PageParser(HTMLParser):
    """Collects what the checks need from one page in a single pass."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1 = 0
        self.output_images = 0
        self.fetched: list[tuple[str, str]] = []  # (kind, url) the browser would load
        self.stylesheets: list[str] = []
        self.inline_css: list[str] = []
        self.inline_js: list[str] = []
        self.outputs: list[str] = []  # text of each <pre> inside a cell output
        self._stack: list[tuple[str, str]] = []  # (tag, "output" | "html" | "")
        self._pre: list[str] | None = None
        self._script: list[str] | None = None
        self._style: list[str] | None = None

    def _in_output(self) -> bool:
        return any(kind == "output" for _, kind in self._stack)

    def _in_html_output(self) -> bool:
        """Inside an HTML output (its own <img> are not image outputs)."""
        return any(kind == "html" for _, kind in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("style"):
            self.inline_css.append(a["style"])
        if tag == "h1":
            self.h1 += 1
        elif tag == "img" and self._in_output() and not self._in_html_output():
            self.output_images += 1
        if tag in SRC_TAGS and a.get("src"):
            self.fetched.append((f"<{tag} src>", a["src"]))
        elif tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & FETCHING_RELS:
                self.fetched.append((f"<link rel={a.get('rel')}>", a["href"]))
            if "stylesheet" in rels:
                self.stylesheets.append(a["href"])
        if tag == "pre" and self._in_output() and self._pre is None:
            self._pre = []
        elif tag == "script" and not a.get("src"):
            self._script = []
        elif tag == "style":
            self._style = []
        if tag not in VOID_TAGS:
            classes = a.get("class", "").split() if tag == "div" else []
            kind = "output" if "cell_output" in classes else "html" if "text_html" in classes \
                else ""
            self._stack.append((tag, kind))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._pre is not None:
            self.outputs.append("".join(self._pre))
            self._pre = None
        elif tag == "script" and self._script is not None:
            self.inline_js.append("".join(self._script))
            self._script = None
        elif tag == "style" and self._style is not None:
            self.inline_css.append("".join(self._style))
            self._style = None
        if any(t == tag for t, _ in self._stack):
            while self._stack and self._stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        for buf in (self._pre, self._script, self._style):
            if buf is not None:
                buf.append(data)


def _parse(page: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser


def _css_references(css: str) -> list[str]:
    """Every address a stylesheet fetches: its ``url(...)`` values and ``@import`` targets."""
    urls = [next(g for g in m.groups() if g is not None) for m in _CSS_URL.finditer(css)]
    return urls + [m.group(1) for m in _CSS_IMPORT.finditer(css)]


def _stylesheet_problems(name: str, page: Path, hrefs: Iterable[str]) -> list[str]:
    """External ``url()``/``@import`` in the local stylesheets a page links (followed
    through local ``@import``); also stylesheets that are linked but missing."""
    problems: list[str] = []
    todo = [t for t in (_local_target(page, h) for h in hrefs) if t is not None]
    seen: set[Path] = set()
    while todo:
        css = todo.pop()
        if css in seen:
            continue
        seen.add(css)
        if not css.is_file():
            problems.append(f"{name}: links the stylesheet {css.name}, which does not exist")
            continue
        for ref in _css_references(css.read_text(encoding="utf-8", errors="replace")):
            if is_external(ref):
                problems.append(f"{name}: stylesheet {css.name} fetches {ref}")
            elif ref.lower().endswith(".css") and (target := _local_target(css, ref)):
                todo.append(target)
    return problems


def _external_problems(name: str, page: Path, parsed: _PageParser) -> list[str]:
    """Everything on the page (and in its stylesheets) that would be fetched from the internet."""
    problems = [f"{name}: {kind} loads {url}" for kind, url in parsed.fetched if is_external(url)]
    for kind, url in parsed.fetched:
        target = _local_target(page, url)
        if kind in ("<script src>", "<img src>") and target is not None and not target.exists():
            problems.append(f"{name}: {kind} {url} does not exist")
    problems += [f"{name}: inline CSS fetches {ref}" for css in parsed.inline_css
                 for ref in _css_references(css) if is_external(ref)]
    problems += [f"{name}: an inline script loads {m.group(1)}" for js in parsed.inline_js
                 for m in _QUOTED_URL.finditer(js)]
    return problems + _stylesheet_problems(name, page, parsed.stylesheets)


def _output_problems(name: str, outputs: Sequence[str]) -> list[str]:
    """Tracebacks, warnings and progress-bar remains in the page's text outputs."""
    problems = []
    for text in outputs:
        for line in text.splitlines():
            if TRACEBACK in line:
                problems.append(f"{name}: an output shows a Python traceback")
            elif WARNING_LINE.search(line):
                problems.append(f"{name}: an output shows a warning: {line.strip()[:100]}")
            elif TQDM_REMAINS.search(line):
                problems.append(f"{name}: an output shows a progress bar: {line.strip()[:60]}")
    return list(dict.fromkeys(problems))


def notebook_image_outputs(notebook: Path) -> int:
    """How many outputs of an executed ``.ipynb`` the book renders as images.

    Outputs of cells tagged ``remove-cell``/``remove-output`` are not counted, nor
    outputs whose best MIME type (:data:`MIME_PRIORITY`) is not an image.
    """
    nb = json.loads(notebook.read_text())
    count = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        if REMOVED_OUTPUT_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            best = next((m for m in MIME_PRIORITY if m in data), "")
            count += best.startswith("image/")
    return count



def _image_size_problems(name: str, page: Path, parsed: _PageParser,
                         max_image_kb: float) -> list[str]:
    """The images a page shows that are larger than ``max_image_kb``."""
    shown = (_local_target(page, url) for kind, url in parsed.fetched if kind == "<img src>")
    problems = []
    for img in dict.fromkeys(t for t in shown if t is not None and t.is_file()):
        kb = img.stat().st_size / 1024
        if kb > max_image_kb:
            problems.append(f"{name}: image {img.parent.name}/{img.name} is {kb:.0f} KB, "
                            f"over {max_image_kb:g} KB")
    return problems


def check_page(html_dir: Path, name: str, *, executed_dir: Path | None = None,
               max_image_kb: float = 500) -> list[str]:
    """The problems of one chapter page ``html_dir/executed/<name>.html`` (see :func:`check_html`)."""
    rel = f"executed/{name}.html"
    page = html_dir / rel
    if not page.is_file():
        return [f"{rel}: the chapter page was not rendered"]
    parsed = _parse(page)
    problems = [] if parsed.h1 else [f"{rel}: has no <h1> title"]
    notebook = None if executed_dir is None else executed_dir / f"{name}.ipynb"
    if notebook is not None and notebook.is_file():
        wanted = notebook_image_outputs(notebook)
        if wanted != parsed.output_images:
            problems.append(f"{rel}: shows {parsed.output_images} image(s), its notebook has "
                            f"{wanted} image output(s)")
    problems += _external_problems(rel, page, parsed)
    problems += _image_size_problems(rel, page, parsed, max_image_kb)
    return list(dict.fromkeys(problems + _output_problems(rel, parsed.outputs)))


def check_html(html_dir: str | Path, chapters: Sequence[str], *,
               executed_dir: str | Path | None = None, max_image_kb: float = 500) -> list[str]:
    """Static checks of a built book; the problems found, as one line each ([] = fine).

    Args:
        html_dir: the built HTML (``book/_build/html``).
        chapters: notebook names ``NN_name`` whose pages ``executed/<name>.html`` must exist.
        executed_dir: the executed ``.ipynb`` files; when given, each page must show as
            many images as its notebook has image outputs.
        max_image_kb: no image a chapter page shows (a file in ``html_dir/_images``)
            may be larger.

    Checked per chapter page: it exists and has an ``<h1>``; no ``<script src>``,
    fetching ``<link href>``, ``<img src>`` (or other ``src``), inline script, or CSS
    ``url()``/``@import`` (inline or in the local stylesheets it links) points to
    ``http(s)://`` or ``//``; no text output shows a traceback, a warning line or a tqdm bar.
    """
    html_dir = Path(html_dir)
    executed = None if executed_dir is None else Path(executed_dir)
    return [p for name in chapters
            for p in check_page(html_dir, name, executed_dir=executed, max_image_kb=max_image_kb)]


def find_chromium() -> str | None:
    """A Chromium binary on PATH (see :data:`CHROMIUM_NAMES`), or None."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _require_browser() -> str:
    import importlib.util

    chromium = find_chromium()
    if importlib.util.find_spec("playwright") is None or chromium is None:
        raise ConfigError("the browser check needs the Python package playwright (pip install "
                          "-e '.[browser]') and a Chromium binary on PATH (one of "
                          f"{', '.join(CHROMIUM_NAMES)})")
    return chromium


#: Run in each page: overflow of the page and of the elements that can scroll sideways.
_LAYOUT_JS = """() => {
  const root = document.documentElement;
  const visible = el => el.getClientRects().length > 0;
  const wide = el => el.scrollWidth > el.clientWidth + 1 ||
    (el.parentElement && el.getBoundingClientRect().width > el.parentElement.clientWidth + 1);
  const kinds = {};
  for (const [kind, sel] of [["pre", "pre"], ["table", "table"], ["div.output", "div.output"],
                             ["img", "img"]]) {
    const n = [...document.querySelectorAll(sel)].filter(el => visible(el) && wide(el)).length;
    if (n) kinds[kind] = n;
  }
  return {page: root.scrollWidth, view: root.clientWidth, kinds: kinds,
          traceback: document.body.innerText.includes("Traceback")};
}"""


def _pages(html_dir: Path) -> list[Path]:
    """The book's pages: every ``.html`` outside the asset folders, less redirects
    (jupyter-book's ``index.html`` only forwards to the root page)."""
    return sorted(p for p in html_dir.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(html_dir).parts)
                  and not _REDIRECT.search(p.read_text(encoding="utf-8", errors="replace")))


#: Tallest screenshot taken in one piece (px); taller pages are captured in slices.
SHOT_SLICE_PX = 8000


def _visit(context: Any, page: Path, name: str, width: int, out_dir: Path) -> list[str]:
    """Open one page at one width; screenshot it; return its problems."""
    tab = context.new_page()
    blocked: list[str] = []
    errors: list[str] = []
    # a blocked request also logs "net::ERR_BLOCKED_BY_CLIENT": reported as blocked instead
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error"
           and "ERR_BLOCKED_BY_CLIENT" not in m.text else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            blocked.append(url)
            r.abort("blockedbyclient")

    tab.route("**/*", route)
    tab.set_viewport_size({"width": width, "height": 900})
    tab.goto(page.resolve().as_uri(), wait_until="load")
    layout = tab.evaluate(_LAYOUT_JS)
    stem = f"{name.removesuffix('.html').replace('/', '_')}-{width}"
    height = int(tab.evaluate("document.documentElement.scrollHeight"))
    if height <= SHOT_SLICE_PX:
        tab.screenshot(path=str(out_dir / f"{stem}.png"), full_page=True)
    else:  # Chromium cannot capture a very tall page at once: slices of it
        for i, top in enumerate(range(0, height, SHOT_SLICE_PX), 1):
            tab.screenshot(path=str(out_dir / f"{stem}-part{i}.png"), full_page=True,
                           clip={"x": 0, "y": top, "width": width,
                                 "height": min(SHOT_SLICE_PX, height - top)})
    tab.close()
    where = f"{name} at {width} px"
    problems = [f"{where}: the page is {layout['page']} px wide, wider than the viewport "
                f"({layout['view']} px)"] if layout["page"] > layout["view"] else []
    problems += [f"{where}: {n} {kind} element(s) wider than their container (scroll sideways)"
                 for kind, n in layout["kinds"].items()]
    problems += [f"{where}: console error: {e.splitlines()[0][:120]}"
                 for e in dict.fromkeys(errors)]
    problems += [f"{where}: blocked a request to {u}" for u in dict.fromkeys(blocked)]
    return problems + ([f"{where}: shows the text 'Traceback'"] if layout["traceback"] else [])


def browser_check(html_dir: str | Path, out_dir: str | Path,
                  widths: Sequence[int] = (1280, 390), *,
                  pages: Sequence[str] | None = None) -> list[str]:
    """Open the built pages in headless Chromium; screenshot them; return the problems.

    Args:
        html_dir: the built HTML.
        out_dir: where the full-page screenshots go, ``<page>-<width>.png`` (created).
        widths: viewport widths in CSS px (a desktop and a phone by default).
        pages: pages relative to ``html_dir`` (e.g. ``"executed/00_data.html"``);
            default every page outside ``_static``/``_sources``/``_images``.

    Every request that is not ``file://`` (or ``data:``/``blob:``) is blocked and
    reported. Problems: the page scrolls sideways (``scrollWidth > clientWidth``);
    visible ``pre``, ``table``, ``div.output`` or ``img`` elements wider than their
    container (per kind, with the count); console errors; blocked requests; the
    visible text "Traceback".

    Raises:
        ConfigError: playwright is not installed or there is no Chromium binary.
    """
    chromium = _require_browser()
    from playwright.sync_api import sync_playwright

    html_dir, out_dir = Path(html_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(pages) if pages is not None else [
        str(p.relative_to(html_dir)) for p in _pages(html_dir)]
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            context = browser.new_context()
            for name in names:
                for width in widths:
                    problems += _visit(context, html_dir / name, name, width, out_dir)
        finally:
            browser.close()
    return problems


def built_chapters(html_dir: Path) -> list[str]:
    """The chapters of a built book: those of the table of contents the runner built it
    with (``html_dir/../_toc.yml``), else every ``executed/NN_name.html`` page."""
    import yaml

    toc = html_dir.parent / "_toc.yml"
    try:
        entries = (yaml.safe_load(toc.read_text()) or {}).get("chapters", [])
    except (OSError, yaml.YAMLError, AttributeError):
        entries = None
    if entries is None:
        return sorted(p.stem for p in (html_dir / "executed").glob("[0-9][0-9]_*.html"))
    return [str(e.get("file", "")).split("/", 1)[1] for e in entries
            if str(e.get("file", "")).startswith("executed/")]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dfmask_lib.bookcheck HTML_DIR [--browser OUT_DIR]``: 0 fine, 1 problems,
    2 a usage error."""
    ap = argparse.ArgumentParser(prog="python -m dfmask_lib.bookcheck",
                                 description="Check a built book for problems a reader would see.")
    ap.add_argument("html_dir", type=Path, help="the built HTML, e.g. book/_build/html")
    ap.add_argument("--executed", type=Path, default=None, metavar="DIR",
                    help="executed notebooks (default: HTML_DIR/../../executed if present)")
    ap.add_argument("--max-image-kb", type=float, default=500)
    ap.add_argument("--browser", type=Path, default=None, metavar="OUT_DIR",
                    help="also open every page in headless Chromium; screenshots go to OUT_DIR")
    args = ap.parse_args(argv)
    html_dir: Path = args.html_dir
    if not (html_dir / "index.html").is_file():
        print(f"bookcheck: error: {html_dir} holds no index.html (not a built book)",
              file=sys.stderr)
        return 2
    executed = args.executed or html_dir.parent.parent / "executed"
    chapters = built_chapters(html_dir)
    problems = check_html(html_dir, chapters, executed_dir=executed if executed.is_dir() else None,
                          max_image_kb=args.max_image_kb)
    try:
        if args.browser is not None:
            problems += browser_check(html_dir, args.browser)
    except DfmaskError as exc:
        print(f"bookcheck: error: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) in {len(chapters)} chapter page(s) of {html_dir}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
