"""A local Sphinx extension: the rendered book fetches nothing from the internet.

jupyter-book 1.x always loads sphinx-thebe, which puts a thebe configuration, a script
naming thebe's CDN address and its own script and stylesheet on every page, although
the book has no launch buttons. Sphinx and myst-nb may add more from CDNs (MathJax on a
page with math, require.js for widgets). This extension, registered in ``_config.yml``
(``sphinx: local_extensions``), leaves all of that out of every page:

* ``html-page-context``: script and stylesheet assets that are external (``http(s)://``,
  ``//``), that belong to sphinx-thebe, or inline scripts that name an external address
  are dropped from the page's ``script_files``/``css_files``;
* ``doctree-resolved`` (after sphinx-thebe's own handler): the raw thebe configuration
  nodes are removed from the page body.

A dropped asset that is not thebe's is reported once as a Sphinx warning (a page with
math then shows its TeX source).
"""

from __future__ import annotations

import os
import re
from typing import Any

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

_EXTERNAL = re.compile(r"""^\s*(?:https?:)?//""", re.I)
_QUOTED_EXTERNAL = re.compile(r"""["'`](?:https?:)?//""", re.I)
_THEBE_RAW = ("text/x-thebe-config", "kernelName = ")


def _is_thebe(filename: str, body: str) -> bool:
    return os.path.basename(filename).startswith("sphinx-thebe") or "THEBE_JS_URL" in body


def _fetches(asset: Any) -> bool:
    """True when the asset would make the browser fetch something from the internet."""
    filename = os.fspath(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    if _is_thebe(filename, body):
        return True
    if _EXTERNAL.match(filename) or _QUOTED_EXTERNAL.search(body):
        logger.warning("dfmask_offline: left %s out of the book (it fetches nothing from "
                       "the internet)", filename or body[:60], once=True)
        return True
    return False


def drop_external_assets(app: Any, pagename: str, templatename: str, context: dict,
                         doctree: Any) -> None:
    """``html-page-context``: remove internet and thebe assets from the page's context."""
    for key in ("script_files", "css_files"):
        if context.get(key):
            context[key] = [a for a in context[key] if not _fetches(a)]


def drop_thebe_nodes(app: Any, doctree: nodes.document, docname: str) -> None:
    """``doctree-resolved``: remove the raw thebe configuration sphinx-thebe appended."""
    for node in list(doctree.findall(nodes.raw)):
        if any(mark in node.astext() for mark in _THEBE_RAW):
            node.parent.remove(node)


def setup(app: Any) -> dict[str, Any]:
    """Register the handlers (priority 900: after sphinx-thebe's and the theme's)."""
    app.connect("html-page-context", drop_external_assets, priority=900)
    app.connect("doctree-resolved", drop_thebe_nodes, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
