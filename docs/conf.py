"""Sphinx configuration: MyST Markdown pages with the PyData theme; the reference pages are
generated from the code at build time (``_ext/reference_pages``)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# the checkout's own package first, so that the docs describe the code they are built with
sys.path[:0] = [str(DOCS / "_ext"), str(DOCS.parent)]

from jupyter_svc._version import __version__  # noqa: E402

project = "jupyter-svc"
author = "the jupyter-svc contributors"
copyright = "the jupyter-svc contributors"
version = release = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "reference_pages"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# the generated files are read through the pages that include them, never on their own
exclude_patterns = ["_build", "reference/_generated", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "separated"
# The clients have a method named `list`, so the builtin `list` in their signatures' type hints
# (`list[ServiceView]`) matches two targets (Client.list, AsyncClient.list): Sphinx warns that the
# unqualified name is ambiguous. Those hints name the builtin; only this category is silenced.
suppress_warnings = ["ref.python"]

html_theme = "pydata_sphinx_theme"
html_title = f"jupyter-svc {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 5,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}
