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
  tools/colab.py) instead, so the download always runs as is.
- The errata appendix is generated from the pages: every ``{note}`` that begins "**The crash
  course says**" (a correction a reader needs where it stands) and every ``{erratum}`` (a slip
  too small for the page, shown only in the appendix) is collected, and ``{errata-list}`` lists
  them grouped by the crash-course section each chapter mirrors, each linking to where it is made.
- The EPUB shows math as MathML (converted from the TeX by latex2mathml), since e-readers run no
  MathJax; the HTML site keeps MathJax (``html_math_renderer: mathjax`` in ``_config.yml``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

# The crash course's sections, in order; chapter NN of the book mirrors section NN.
CRASH_COURSE_SECTIONS = (
    "Core AI/ML Concepts", "Machine Learning Algorithms", "Regularization: L1 & L2",
    "Deep Learning Fundamentals", "Data Preprocessing & Feature Engineering",
    "Model Evaluation & Validation", "ML Workflows & Pipelines", "MLOps & Production Deployment",
    "Key Libraries & Frameworks", "Practical Implementation Examples", "Best Practices & Tips",
    "Advanced Topics",
)
CORRECTION_LEAD = "The crash course says"


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
    if exception is not None or app.builder.name != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for docname in app.env.found_docs:
        notebook = Path(app.srcdir) / f"{docname}.ipynb"
        if notebook.exists():
            target = sources / f"{docname}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, target)


# ---- the errata appendix ------------------------------------------------------------------------


class erratum_node(nodes.General, nodes.Element):
    """A small correction: recorded for the appendix, not shown on its page."""


class errata_list_node(nodes.General, nodes.Element):
    """Where the appendix lists every correction; filled in once all pages are read."""


class ErratumDirective(SphinxDirective):
    has_content = True

    def run(self):
        if not "".join(self.content).strip():
            raise self.error("an erratum needs a sentence saying what the crash course gets wrong")
        node = erratum_node(ids=[f"erratum-{self.env.new_serialno('erratum')}"])
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


class ErrataListDirective(Directive):
    def run(self):
        return [errata_list_node()]


def _section_of(docname: str) -> str | None:
    import re

    m = re.match(r"book/(\d\d)-", docname)
    return CRASH_COURSE_SECTIONS[int(m.group(1)) - 1] if m and 0 < int(m.group(1)) <= 12 else None


def _first_sentences(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > 80 else text[:limit].rsplit(" ", 1)[0] + " ..."


def _first_sentences_of(para: nodes.Element, limit: int = 300) -> nodes.paragraph:
    """The paragraph's inline nodes (math, code, emphasis kept), cut after about ``limit``
    characters at a sentence end; cross-references become their text."""
    out = nodes.paragraph()
    total = 0
    for child in para.children:
        text = child.astext()
        if isinstance(child, nodes.Text) and total + len(text) > limit:
            room = max(0, limit - total)
            cut = text.rfind(". ", 0, room)
            out += nodes.Text(text[: cut + 1] if cut >= 0 else text[:room].rsplit(" ", 1)[0] + " ...")
            break
        out += child.deepcopy()
        total += len(text)
        if total > limit:
            out += nodes.Text(" ...")
            break
    # Cross-references and citations point into the page the note is on: keep their text.
    local = [n for n in out.findall(nodes.Element)
             if isinstance(n, (addnodes.pending_xref, nodes.footnote_reference, nodes.citation_reference))
             or (isinstance(n, nodes.reference) and (n.get("refid") or n.get("refuri", "").startswith("#")))]
    for node in out.findall(nodes.Element):
        node["ids"] = []  # a copy: the anchors stay on the page the note is on
    for node in local:
        if node.parent is not None:
            node.replace_self(nodes.Text(node.astext()))
    out += nodes.Text(" ")
    return out


def _collect_errata(app: Sphinx, doctree) -> None:
    env = app.env
    docname = env.docname
    found = []
    for note in doctree.findall(nodes.note):
        text = note.astext().strip()
        if text.startswith(CORRECTION_LEAD):
            if not note["ids"]:
                note["ids"].append(f"crash-course-{env.new_serialno('crash-course')}")
            # The first paragraph as nodes, not as text: its math stays math in the appendix.
            first = next(iter(note.findall(nodes.paragraph)), None)
            summary = _first_sentences_of(first) if first is not None else _first_sentences(text)
            found.append({"docname": docname, "id": note["ids"][0], "kind": "correction",
                          "text": summary})
    for node in list(doctree.findall(erratum_node)):
        # Keep the erratum's inline markup (code, emphasis) for the appendix; cross-references
        # become their text, since they would resolve against the wrong page there.
        para = nodes.paragraph()
        for child in node.findall(nodes.paragraph):
            para.extend(c.deepcopy() for c in child.children)
            para += nodes.Text(" ")
        for xref in list(para.findall(addnodes.pending_xref)):
            xref.replace_self(nodes.Text(xref.astext()))
        found.append({"docname": docname, "id": node["ids"][0], "kind": "erratum", "text": para})
        node.replace_self(nodes.container(ids=node["ids"], classes=["erratum-anchor"]))
    if not hasattr(env, "mlbook_errata"):
        env.mlbook_errata = {}
    env.mlbook_errata[docname] = found


def _purge_errata(app, env, docname) -> None:
    getattr(env, "mlbook_errata", {}).pop(docname, None)


def _merge_errata(app, env, docnames, other) -> None:
    for attr in ("mlbook_errata", "mlbook_errata_pages"):
        if not hasattr(env, attr):
            setattr(env, attr, {})
        getattr(env, attr).update(getattr(other, attr, {}))


def _errata_page_is_outdated(app, env, added, changed, removed) -> list[str]:
    # The appendix shows what other pages say: re-read it whenever any page is re-read.
    return list(getattr(env, "mlbook_errata_pages", {})) if (added or changed or removed) else []


def _remember_errata_page(app, doctree) -> None:
    if any(True for _ in doctree.findall(errata_list_node)):
        if not hasattr(app.env, "mlbook_errata_pages"):
            app.env.mlbook_errata_pages = {}
        app.env.mlbook_errata_pages[app.env.docname] = True


def _errata_page_loads_mathjax(app: Sphinx, pagename, templatename, context, doctree) -> None:
    # The appendix copies notes that hold math, but Sphinx decides whether a page loads MathJax
    # from the page's own source, which has none: mark the appendix as holding equations before
    # sphinx.ext.mathjax (priority 500) looks.
    if pagename in getattr(app.env, "mlbook_errata_pages", {}):
        app.env.get_domain("math").data["has_equations"][pagename] = True


def _fill_errata_lists(app: Sphinx, doctree, fromdocname: str) -> None:
    lists = list(doctree.findall(errata_list_node))
    if not lists:
        return
    env = app.env
    order = {doc: i for i, doc in enumerate(_reading_order(env))}
    items = [e for entries in getattr(env, "mlbook_errata", {}).values() for e in entries]
    items.sort(key=lambda e: (order.get(e["docname"], 10**6), e["docname"]))
    content: list[nodes.Node] = []
    for section in CRASH_COURSE_SECTIONS:
        entries = [e for e in items if _section_of(e["docname"]) == section]
        if not entries:
            continue
        content.append(nodes.rubric("", f"{section} ({len(entries)})"))
        bullets = nodes.bullet_list(classes=["errata"])
        for e in entries:
            para = nodes.paragraph()
            tag = "correction" if e["kind"] == "correction" else "erratum"
            para += nodes.strong("", "Correction: " if tag == "correction" else "Erratum: ")
            if isinstance(e["text"], str):
                para += nodes.Text(e["text"] + " ")
            else:
                para.extend(c.deepcopy() for c in e["text"].children)
            ref = nodes.reference("", "", internal=True, classes=[f"errata-{tag}"])
            ref["refuri"] = app.builder.get_relative_uri(fromdocname, e["docname"]) + "#" + e["id"]
            title = env.titles.get(e["docname"])
            ref += nodes.emphasis("", f"({title.astext() if title else e['docname']})")
            para += ref
            bullets += nodes.list_item("", para)
        content.append(bullets)
    for node in lists:
        node.replace_self(content or [nodes.paragraph("", "No corrections yet.")])


def _reading_order(env) -> list[str]:
    root = env.config.root_doc
    seen, stack = [], [root]
    while stack:
        doc = stack.pop(0)
        if doc in seen:
            continue
        seen.append(doc)
        stack[0:0] = env.toctree_includes.get(doc, [])
    return seen


# ---- math in the EPUB ----------------------------------------------------------------------------


def _tex_macros(app: Sphinx) -> dict[str, str]:
    macros = (app.config.mathjax3_config or {}).get("tex", {}).get("macros", {})
    return {name: value for name, value in macros.items() if isinstance(value, str)}


def _to_mathml(self, tex: str, display: bool) -> str:
    import re

    from latex2mathml.converter import convert

    for name, value in _tex_macros(self.builder.app).items():
        tex = re.sub(r"\\" + name + r"(?![A-Za-z])", lambda m: value, tex)
    return convert(tex, display="block" if display else "inline")


def _mathml_inline(self, node) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math"))
    self.body.append(_to_mathml(self, node.astext(), display=False) + "</span>")
    raise nodes.SkipNode


def _mathml_block(self, node) -> None:
    from sphinx.util.math import get_node_equation_number

    self.body.append(self.starttag(node, "div", CLASS="math"))
    if node["number"]:
        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})</span>')
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    for part in parts:
        if "\\\\" in part and "\\begin" not in part:
            part = r"\begin{split}" + part + r"\end{split}"  # latex2mathml aligns split
        self.body.append(_to_mathml(self, part, display=True))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def _no_launch_buttons_offline(app: Sphinx) -> None:
    # An EPUB or PDF has no Binder or Colab to launch (and the theme's button code expects the
    # HTML builder's folders): drop the launch buttons for every builder but the site's.
    if app.builder.name in ("epub", "singlehtml"):
        app.config.html_theme_options = {**app.config.html_theme_options, "launch_buttons": {}}
        app.config.html_copy_source = False  # no "view source" in a book file
        # Sphinx looks up node visitors by builder name and falls back to the format only when
        # no extension registered any for that name; some do for singlehtml, which then lacks
        # myst-nb's (its folded code cells). Give these builders every HTML visitor they lack.
        handlers = app.registry.translation_handlers
        for node, visitors in handlers.get("html", {}).items():
            handlers.setdefault(app.builder.name, {}).setdefault(node, visitors)


def _add_static_folder(app: Sphinx, config) -> None:
    config.html_static_path.append(str(Path(__file__).parent / "static"))


def _overwritten_lines(text: str) -> str:
    """What a terminal shows of ``text``: each line from its last carriage return on.

    A progress bar redraws itself by writing ``\\r`` and the new state; Jupyter's front ends
    keep only the last state, myst-nb keeps every one. ``"a\\rb\\n"`` becomes ``"b\\n"``.
    """
    lines = text.split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


def _redraw_stream_outputs(app: Sphinx, doctree) -> None:
    """Show a redrawn line (a progress bar) in its last state, as Jupyter does.

    A kernel sends what a cell prints in chunks, and a bar's redraw (``\\r`` and the new state)
    usually arrives as a chunk of its own, which myst-nb renders as a block of its own. Runs of
    adjacent stream blocks of the same kind are joined, as the kernel meant them, and each line
    keeps what follows its last carriage return.
    """
    joined: set[int] = set()
    for block in list(doctree.findall(nodes.literal_block)):
        classes = block.get("classes", [])
        if "output" not in classes or "stream" not in classes or id(block) in joined:
            continue
        text = block.astext()
        following = []
        sibling = block.next_node(descend=False, siblings=True)
        while (isinstance(sibling, nodes.literal_block) and sibling.get("classes") == classes):
            following.append(sibling)
            text += sibling.astext()
            sibling = sibling.next_node(descend=False, siblings=True)
        if "\r" not in text:
            continue
        for extra in following:
            joined.add(id(extra))
            extra.parent.remove(extra)
        shown = _overwritten_lines(text)
        block.children = [nodes.Text(shown)]
        block.rawsource = shown


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _add_static_folder)
    app.add_css_file("mlbook.css")  # wide display math scrolls; equation numbers beside it
    app.add_html_math_renderer("mathml", (_mathml_inline, None), (_mathml_block, None))
    app.connect("builder-inited", _no_launch_buttons_offline)
    app.add_config_value("epub_math_renderer", "mathml", "env")
    app.add_node(erratum_node, html=(lambda self, node: None, lambda self, node: None))
    app.add_node(errata_list_node)
    app.add_directive("erratum", ErratumDirective)
    app.add_directive("errata-list", ErrataListDirective)
    app.connect("doctree-read", _redraw_stream_outputs)
    app.connect("doctree-read", _collect_errata)
    app.connect("doctree-read", _remember_errata_page)
    app.connect("env-purge-doc", _purge_errata)
    app.connect("env-merge-info", _merge_errata)
    app.connect("env-get-outdated", _errata_page_is_outdated)
    app.connect("doctree-resolved", _fill_errata_lists)
    app.connect("html-page-context", _errata_page_loads_mathjax, priority=100)
    app.connect("html-page-context", _page_context, priority=10_000)
    app.connect("doctree-resolved", _caption_as_alt_text)
    app.connect("build-finished", _offer_generated_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
