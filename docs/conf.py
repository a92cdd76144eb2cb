"""Sphinx configuration: ``nox -s docs`` builds the HTML into docs/_build/html.

The Markdown pages are read by MyST (they stay plain GitHub Markdown too); the
API reference (docs/api/) is autodoc over the installed package, and the
extension in docs/_ext/ fails the build (with ``-W``) on a public name that has
no docstring or is missing from the API pages.  No network at build time: no
intersphinx, so references to trio, anyio and pyzmq stay plain text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio_zmq

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "trio_zmq"
author = "trio_zmq developers"
copyright = "trio_zmq developers"
version = release = trio_zmq.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "public_api",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "screenshots", "Thumbs.db", ".DS_Store"]

# MyST: ```{eval-rst} blocks for autodoc, anchors on headings so that links to
# page.md#section resolve as they do on GitHub.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc: signatures stay readable, the types go into the description.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = f"trio_zmq {release}"
html_static_path: list[str] = []
