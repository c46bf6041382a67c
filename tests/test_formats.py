"""The book as a PDF and an EPUB (`make pdf`, `make epub`; `make test` builds both first).

Each must open, hold every chapter, show math typeset rather than as TeX source, and carry the
figures; the PDF also has bookmarks and internal links.
"""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from tests.conftest import ROOT, toc_pages

PDF = ROOT / "_build" / "pdf" / "ml-crash-course.pdf"
EPUB = ROOT / "_build" / "epub" / "ml-crash-course.epub"
# TeX that a reader would see if a formula were not typeset.
RAW_TEX = re.compile(r"\$\$|\\(frac|hat|beta|sum|mathbf|top|begin|operatorname|lVert|sigma)\b")


def chapter_titles() -> list[str]:
    """The title of every chapter's index page, e.g. '7. Pipelines'."""
    titles = []
    for page in toc_pages():
        if page.name == "index.md" and re.fullmatch(r"\d\d-[\w-]+", page.parent.name):
            titles.append(page.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip())
    return titles


def figures_in_site() -> int:
    """Figures the book's pages show: one PNG output per figure in the built site."""
    return len(list((ROOT / "_build" / "html" / "_images").glob("*.png")))


@pytest.fixture(scope="module")
def pdf():
    pypdf = pytest.importorskip("pypdf")
    if not PDF.exists():
        pytest.fail(f"no {PDF.relative_to(ROOT)}: run `make pdf` (make test does)")
    return pypdf.PdfReader(str(PDF))


@pytest.fixture(scope="module")
def pdf_text(pdf) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in pdf.pages)


def test_pdf_opens_with_pages(pdf):
    assert len(pdf.pages) > 50


@pytest.mark.parametrize("title", chapter_titles())
def test_pdf_has_every_chapter(pdf_text, title):
    assert " ".join(title.split()) in pdf_text


# Code cells may hold TeX of their own (matplotlib labels such as r"$\hat\beta_1$"), so the
# PDF's text is searched only for markup that the book's code never prints.
RAW_TEX_PROSE = re.compile(r"\$\$|\\(frac|begin|mathbf|operatorname|lVert|sum_)")


def test_pdf_shows_no_raw_tex(pdf_text):
    found = sorted(set(m.group(0) for m in RAW_TEX_PROSE.finditer(pdf_text)))
    assert not found, f"untypeset TeX in the PDF: {found}"
    report = json.loads(PDF.with_suffix(".json").read_text())  # written by tools/pdf.py
    assert report["formulas_typeset"] > 100 and report["math_left_as_tex"] == 0, report


def test_pdf_has_the_figures(pdf):
    images = sum(len(page.images) for page in pdf.pages)
    assert images >= figures_in_site() * 0.9, (images, figures_in_site())


def test_pdf_has_bookmarks_and_internal_links(pdf):
    def flatten(items):
        for item in items:
            yield from flatten(item) if isinstance(item, list) else [item]

    bookmarks = [b.title for b in flatten(pdf.outline)]
    for title in chapter_titles():
        assert any(title.split(". ", 1)[1] in b for b in bookmarks), f"no bookmark for {title}"
    internal = 0
    for page in pdf.pages:
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/Subtype") == "/Link" and ("/Dest" in a or a.get("/A", {}).get("/S") == "/GoTo"):
                internal += 1
    assert internal > 20, f"only {internal} internal links in the PDF"


@pytest.fixture(scope="module")
def epub() -> zipfile.ZipFile:
    if not EPUB.exists():
        pytest.fail(f"no {EPUB.relative_to(ROOT)}: run `make epub` (make test does)")
    return zipfile.ZipFile(EPUB)


def test_epub_is_a_valid_container(epub):
    names = epub.namelist()
    assert names[0] == "mimetype" and epub.read("mimetype") == b"application/epub+zip"
    assert "META-INF/container.xml" in names
    assert epub.testzip() is None


def epub_pages(epub) -> dict[str, str]:
    return {n: epub.read(n).decode("utf-8") for n in epub.namelist() if n.endswith(".xhtml")}


@pytest.mark.parametrize("title", chapter_titles())
def test_epub_has_every_chapter(epub, title):
    text = " ".join(re.sub(r"<[^>]+>", " ", "".join(epub_pages(epub).values())).split())
    assert title in text


def test_epub_math_is_mathml(epub):
    pages = epub_pages(epub)
    mathml = sum(p.count("<math ") for p in pages.values())
    assert mathml > 100, f"only {mathml} MathML formulas"
    for name, page in pages.items():
        visible = re.sub(r"<math .*?</math>", " ", page, flags=re.S)
        visible = re.sub(r"<(script|style|pre|code)\b.*?</\1>", " ", visible, flags=re.S)
        visible = re.sub(r"<[^>]+>", " ", visible)
        found = sorted(set(m.group(0) for m in RAW_TEX.finditer(visible)))
        assert not found, f"{name}: untypeset TeX {found}"


def test_epub_has_the_figures(epub):
    names = set(epub.namelist())
    srcs = [src for page in epub_pages(epub).values() for src in re.findall(r'<img [^>]*src="([^"]+)"', page)]
    pngs = [s for s in srcs if s.endswith(".png")]
    assert len(pngs) >= figures_in_site() * 0.9, (len(pngs), figures_in_site())
    for src in pngs:
        assert any(n.endswith(src.split("/")[-1]) for n in names), f"missing image {src}"


def test_intro_links_the_pdf_and_the_epub():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    for path in (PDF, EPUB):
        assert path.name in intro, f"book/intro.md does not link {path.name}"
