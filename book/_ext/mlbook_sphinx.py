"""Small fixes to the stock Jupyter Book 1.x site, loaded through ``_config.yml``.

- Every page of a stock site logs "Identifier 'THEBE_JS_URL' has already been declared" in the
  browser console, because sphinx-thebe adds its configuration script once per build phase: keep
  one copy of each script.
- The theme's colour mode is empty unless set, which logs "Got invalid theme mode": follow the
  reader's system setting.
- The theme's ".ipynb" download is the executed notebook, written without outputs when the page
  came from the execution cache. Offer the generated notebook (the one Colab and Binder open,
  tests/colab.py) instead, so the download always runs as is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx


def _page_context(app: Sphinx, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # The same inline script is registered once with filename None and once with "".
        key = (getattr(script, "filename", script) or "", getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
    # The theme leaves the colour mode empty unless set: follow the reader's system setting.
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def _offer_generated_notebooks(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for docname in app.env.found_docs:
        notebook = Path(app.srcdir) / f"{docname}.ipynb"
        if notebook.exists():
            target = sources / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, target)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _page_context, priority=10_000)
    app.connect("build-finished", _offer_generated_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
