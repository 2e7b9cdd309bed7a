"""Tests of dfmask_lib.bookcheck on tiny hand-written HTML trees: every problem kind found,
a clean tree passes; the browser check when playwright and Chromium are there."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dfmask_lib.bookcheck import (browser_check, built_chapters, check_html, find_chromium,
                                  main, notebook_image_outputs)
from dfmask_lib.errors import ConfigError
from dfmask_lib.paths import PROJECT_ROOT

PAGE = """<!DOCTYPE html>
<html><head>
<link rel="stylesheet" type="text/css" href="../_static/local.css?v=1" />
<link rel="next" title="Next" href="https://example.org/next.html" />
<script src="../_static/ok.js?v=2"></script>
<script>var DOCUMENTATION_OPTIONS = {pagename: 'executed/01_a'};</script>
<!--HEAD-->
</head><body>
<article class="bd-article"><h1>Chapter A</h1>
<p>Warning: prose may say this. See <a href="https://doi.org/10.1/x">the paper</a>.</p>
<div class="cell docutils container">
<div class="cell_input docutils container"><div class="highlight"><pre>print("UserWarning: in code")</pre></div></div>
<div class="cell_output docutils container">
<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>all fine: 42 it
</pre></div></div>
<img alt="" src="../_images/fig.png" />
<div class="output text_html"><div class="dfmask-maps"><img alt="RGB" src="data:image/png;base64,iVBORw0KGgo=" /></div></div>
<!--OUTPUT-->
</div></div>
<!--BODY-->
</article></body></html>
"""
LOCAL_CSS = ('body { background: url("data:image/svg+xml;charset=utf-8,%3Csvg xmlns=\'http://'
             'www.w3.org/2000/svg\' fill=\'rgba(0, 0, 0, 0.25)\'%3E%3C/svg%3E") }\n'
             '@import "base.css";\n')
BASE_CSS = ".x { background: url(img/a.png); }\n"


def _notebook() -> dict:
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    return {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# Chapter A"},
        {"cell_type": "code", "metadata": {}, "source": "plot()", "outputs": [
            {"output_type": "display_data", "data": png, "metadata": {}},
            {"output_type": "execute_result", "data": {**png, "text/html": "<table/>"},
             "metadata": {}}]},
        {"cell_type": "code", "metadata": {"tags": ["remove-output"]}, "source": "plot()",
         "outputs": [{"output_type": "display_data", "data": png, "metadata": {}}]},
        {"cell_type": "code", "metadata": {"tags": ["remove-cell"]}, "source": "plot()",
         "outputs": [{"output_type": "display_data", "data": png, "metadata": {}}]}]}


def make_book(root: Path, *, head: str = "", output: str = "", body: str = "",
              page: str | None = None) -> Path:
    """A built book ``root/book/_build/html`` with one chapter ``01_a`` (one image output)."""
    html = root / "book" / "_build" / "html"
    for d in ("executed", "_static", "_images"):
        (html / d).mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=intro.html" />')
    text = page if page is not None else PAGE
    (html / "executed" / "01_a.html").write_text(
        text.replace("<!--HEAD-->", head).replace("<!--OUTPUT-->", output)
        .replace("<!--BODY-->", body))
    (html / "_static" / "local.css").write_text(LOCAL_CSS)
    (html / "_static" / "base.css").write_text(BASE_CSS)
    (html / "_static" / "ok.js").write_text("var ok = 1;\n")
    (html / "_images" / "fig.png").write_bytes(b"\x89PNG" + bytes(1000))
    executed = root / "book" / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    (executed / "01_a.ipynb").write_text(json.dumps(_notebook()))
    return html


def _check(html: Path, **kw) -> list[str]:
    return check_html(html, ["01_a"], executed_dir=html.parent.parent / "executed", **kw)


def test_clean_tree_passes(tmp_path):
    assert _check(make_book(tmp_path)) == []


def test_notebook_image_outputs_counts_what_the_page_shows(tmp_path):
    make_book(tmp_path)
    assert notebook_image_outputs(tmp_path / "book" / "executed" / "01_a.ipynb") == 1


PAGE_PROBLEMS = [
    ({"head": '<script src="https://cdn.example.org/x.js"></script>'},
     "executed/01_a.html: <script src> loads https://cdn.example.org/x.js"),
    ({"head": '<link rel="stylesheet" href="//fonts.example.org/a.css" />'},
     "executed/01_a.html: <link rel=stylesheet> loads //fonts.example.org/a.css"),
    ({"head": '<link rel="preload" as="font" href="https://f.example.org/a.woff2" />'},
     "executed/01_a.html: <link rel=preload> loads https://f.example.org/a.woff2"),
    ({"body": '<img src="http://img.example.org/b.png" />'},
     "executed/01_a.html: <img src> loads http://img.example.org/b.png"),
    ({"body": "<div style=\"background: url('https://x.example.org/b.png')\"></div>"},
     "executed/01_a.html: inline CSS fetches https://x.example.org/b.png"),
    ({"head": "<style>@import url(https://x.example.org/c.css);</style>"},
     "executed/01_a.html: inline CSS fetches https://x.example.org/c.css"),
    ({"head": '<script>const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"</script>'},
     "executed/01_a.html: an inline script loads https://unpkg.com/thebe@0.8.2/lib/index.js"),
    ({"head": '<link rel="stylesheet" href="../_static/gone.css" />'},
     "executed/01_a.html: links the stylesheet gone.css, which does not exist"),
    ({"head": '<script src="../_static/gone.js"></script>'},
     "executed/01_a.html: <script src> ../_static/gone.js does not exist"),
    ({"output": '<img alt="" src="../_images/fig.png" />'},
     "executed/01_a.html: shows 2 image(s), its notebook has 1 image output(s)"),
    ({"output": "<pre>Traceback (most recent call last):\n  File x\nValueError: bad</pre>"},
     "executed/01_a.html: an output shows a Python traceback"),
    ({"output": "<pre>/a/b.py:3: UserWarning: careful\n  warnings.warn(</pre>"},
     "executed/01_a.html: an output shows a warning: /a/b.py:3: UserWarning: careful"),
    ({"output": "<pre>x.py:1: RuntimeWarning: invalid value</pre>"}, "RuntimeWarning"),
    ({"output": "<pre>x.py:1: FutureWarning: soon</pre>"}, "FutureWarning"),
    ({"output": "<pre>x.py:1: DeprecationWarning: old</pre>"}, "DeprecationWarning"),
    ({"output": "<pre>Warning: no data</pre>"}, "an output shows a warning: Warning: no data"),
    ({"output": "<pre>epoch 3: 100%|##########| 10/10 [00:01&lt;00:00, 9.51it/s]</pre>"},
     "executed/01_a.html: an output shows a progress bar: epoch 3: 100%|"),
    ({"output": "<pre>scenes:  40%|####      | 2/5 [00:10&lt;00:15,  5.1s/it]</pre>"},
     "an output shows a progress bar"),
]


@pytest.mark.parametrize(("change", "problem"), PAGE_PROBLEMS,
                         ids=[p[:40] for _, p in PAGE_PROBLEMS])
def test_each_page_problem_is_found(tmp_path, change, problem):
    problems = _check(make_book(tmp_path, **change))
    assert len(problems) == 1 and problem in problems[0], problems


def test_missing_page_title_and_stylesheet_urls(tmp_path):
    html = make_book(tmp_path, page=PAGE.replace("<h1>Chapter A</h1>", "<h2>Chapter A</h2>"))
    assert check_html(html, ["01_a", "02_gone"]) == [
        "executed/01_a.html: has no <h1> title",
        "executed/02_gone.html: the chapter page was not rendered"]
    (html / "_static" / "base.css").write_text(
        '@font-face { src: url("https://fonts.example.org/f.woff2"); }\n'
        "@import '//cdn.example.org/more.css';\n")
    assert sorted(check_html(html, ["01_a"]))[1:] == [
        "executed/01_a.html: stylesheet base.css fetches //cdn.example.org/more.css",
        "executed/01_a.html: stylesheet base.css fetches https://fonts.example.org/f.woff2"]


def test_oversized_image(tmp_path):
    html = make_book(tmp_path)
    (html / "_images" / "fig.png").write_bytes(bytes(600 * 1024))
    assert _check(html) == ["executed/01_a.html: image _images/fig.png is 600 KB, over 500 KB"]
    assert _check(html, max_image_kb=700) == []


def test_main_exit_codes(tmp_path, capsys):
    html = make_book(tmp_path)
    assert main([str(html)]) == 0
    assert capsys.readouterr().out.endswith("0 problem(s) in 1 chapter page(s) of "
                                            f"{html}\n")
    make_book(tmp_path, output="<pre>Warning: x</pre>")
    assert main([str(html)]) == 1
    assert "an output shows a warning" in capsys.readouterr().out
    assert main([str(tmp_path)]) == 2
    assert "holds no index.html" in capsys.readouterr().err


def test_main_checks_the_chapters_of_the_last_build(tmp_path, capsys):
    html = make_book(tmp_path, output="<pre>Warning: x</pre>")
    (html.parent / "_toc.yml").write_text("root: intro\nchapters:\n- file: executed/02_b\n"
                                          "- file: about\n")
    (html / "executed" / "02_b.html").write_text("<html><body><h1>B</h1></body></html>")
    assert built_chapters(html) == ["02_b"]
    assert main([str(html)]) == 0  # 01_a, with its warning, is not in this build
    assert capsys.readouterr().out.endswith("0 problem(s) in 1 chapter page(s) of "
                                            f"{html}\n")


def test_python_m_entry(tmp_path):
    html = make_book(tmp_path, output="<pre>Traceback (most recent call last):</pre>")
    proc = subprocess.run([sys.executable, "-m", "dfmask_lib.bookcheck", str(html)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "executed/01_a.html: an output shows a Python traceback"


HAS_BROWSER = importlib.util.find_spec("playwright") is not None and find_chromium() is not None


def test_browser_check_needs_playwright_and_chromium(tmp_path, monkeypatch):
    monkeypatch.setattr("dfmask_lib.bookcheck.find_chromium", lambda: None)
    with pytest.raises(ConfigError, match="needs the Python package playwright"):
        browser_check(make_book(tmp_path), tmp_path / "shots")


@pytest.mark.skipif(not HAS_BROWSER, reason="needs playwright and a Chromium binary")
def test_browser_check_finds_layout_console_and_network_problems(tmp_path):
    body = ('<pre style="white-space: pre; overflow-x: auto">' + "x" * 400 + "</pre>"
            '<div style="width: 1800px">wide</div>'
            '<img src="https://img.example.org/b.png" />'
            '<script>console.error("boom")</script><p>Traceback shown</p>')
    html = make_book(tmp_path, body=body)
    (html / "intro.html").write_text("<html><body><h1>Intro</h1><p>fine</p></body></html>")
    problems = browser_check(html, tmp_path / "shots", widths=(800,))
    page = "executed/01_a.html at 800 px"
    assert re.fullmatch(rf"{page}: the page is 18\d\d px wide, wider than the viewport "
                        r"\(800 px\)", problems[0])
    assert problems[1:] == [
        f"{page}: 1 pre element(s) wider than their container (scroll sideways)",
        f"{page}: console error: boom",
        f"{page}: blocked a request to https://img.example.org/b.png",
        f"{page}: shows the text 'Traceback'"]
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == [
        "executed_01_a-800.png", "intro-800.png"]  # index.html only redirects
    assert main([str(html), "--browser", str(tmp_path / "more")]) == 1
