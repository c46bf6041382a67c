"""Small fixes to the stock Jupyter Book 1.x site, loaded through ``_config.yml``.

- Every page of a stock site logs "Identifier 'THEBE_JS_URL' has already been declared" in the
  browser console, because sphinx-thebe adds its configuration script once per build phase: keep
  one copy of each script.
- The theme's colour mode is empty unless set, which logs "Got invalid theme mode": follow the
  reader's system setting.
- A figure's image gets its caption as alt text (myst-nb leaves the file path there), so screen
  readers and text browsers describe the figure.
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


def _caption_as_alt_text(app: Sphinx, doctree, docname) -> None:
    from docutils import nodes

    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = " ".join(captions[0].astext().split())
        for image in figure.findall(nodes.image):
            alt = image.get("alt", "")
            if not alt or alt == image.get("uri") or alt.endswith((".png", ".svg", ".jpg")):
                image["alt"] = text


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
    app.connect("doctree-resolved", _caption_as_alt_text)
    app.connect("build-finished", _offer_generated_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
