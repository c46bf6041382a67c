"""Checks of the built site (`make book` first): what a reader sees on every page.

- every executable page shows its outputs (they are embedded at build time);
- no output shows a warning, an error or anything written to stderr;
- no glue role or other MyST syntax is left unrendered;
- every image a page shows exists;
- nothing a page loads (scripts, styles, fonts, images, MathJax) comes from another host, so the
  site works opened from disk, offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import jupytext
import pytest
from bs4 import BeautifulSoup

from tests.conftest import HTML, ROOT, find_warning_outputs, notebook_pages, toc_pages

def html_of(page: Path) -> Path:
    return HTML / page.relative_to(ROOT).with_suffix(".html")


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail("no built site in _build/html: run `make book` first (make test does)")
    return HTML


PAGES = toc_pages()
NOTEBOOK_PAGES = notebook_pages()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_is_built(site, page):
    assert html_of(page).exists(), f"{page} is in _toc.yml but was not built"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_outputs_are_embedded(site, page):
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    assert soup.select(".cell_output"), f"{page}: no cell outputs in the built page"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_warning_in_any_output(site, page):
    found = find_warning_outputs(html_of(page).read_text(encoding="utf-8"))
    assert not found, f"{page} shows warnings or errors to readers:\n" + "\n".join(found)


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_redrawn_lines_show_their_last_state(site, page):
    # A progress bar redraws its line with carriage returns; a reader should see its last state,
    # as in Jupyter, not every state run together (book/_ext/mlbook_sphinx.py).
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    redrawn = [o.get_text()[:200] for o in soup.select(".cell_output") if "\r" in o.get_text()]
    assert not redrawn, f"{page}: outputs still hold carriage returns: {redrawn}"


def test_overwritten_lines():
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from mlbook_sphinx import _overwritten_lines

    assert _overwritten_lines("  0%|   | 0/3\r100%|###| 3/3\n") == "100%|###| 3/3\n"
    assert _overwritten_lines("a\r\nb\rc\n") == "a\nc\n"  # a CRLF line ending is kept
    assert _overwritten_lines("no bar\n") == "no bar\n"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unrendered_markup(site, page):
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    article = soup.select_one("article") or soup
    for pre in article.select("pre, code"):
        pre.decompose()  # code may legitimately show MyST syntax
    text = article.get_text()
    leftovers = re.findall(r"\{(?:glue|glue:text|cite|footcite|ref|numref|doc|eq)[^}]*\}`", text)
    assert not leftovers, f"{page}: unrendered roles {leftovers}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_named_figures_are_rendered(site, page):
    """A cell whose metadata names a figure must show that figure, with an image in it."""
    names = [
        cell.metadata["mystnb"]["figure"]["name"]
        for cell in jupytext.read(page).cells
        if cell.cell_type == "code" and "name" in cell.metadata.get("mystnb", {}).get("figure", {})
    ]
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    for name in names:
        figure = soup.find(id=name)
        assert figure is not None, f"{page}: figure {name} is missing from the built page"
        assert figure.find("img"), f"{page}: figure {name} has no image"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_image_exists(site, page):
    path = html_of(page)
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    for img in soup.select("img"):
        src = img.get("src", "")
        if urlparse(src).scheme in {"http", "https", "data"}:
            continue
        target = (path.parent / unquote(src)).resolve()
        assert target.exists(), f"{page}: image {src} is missing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_resource_from_another_host(site, page):
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    loaded = [s.get("src") for s in soup.find_all(["script", "img", "iframe"])]
    loaded += [
        link.get("href") for link in soup.find_all("link")
        if set(link.get("rel", [])) & {"stylesheet", "preload", "icon", "modulepreload"}
    ]
    remote = [url for url in loaded if url and urlparse(url).scheme in {"http", "https", ""}
              and urlparse(url).netloc]
    assert not remote, f"{page} loads from other hosts: {remote}"


def test_mathjax_is_served_locally(site):
    assert (HTML / "mathjax" / "tex-mml-chtml.js").exists()
    assert (HTML / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def _ids(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        cache[path] = {tag["id"] for tag in soup.find_all(id=True)}
    return cache[path]


def test_every_internal_link_resolves(site):
    """Every relative link of every built page points at a file that exists, and at an
    anchor that exists in it."""
    cache: dict[Path, set[str]] = {}
    broken = []
    for path in sorted(HTML.rglob("*.html")):
        if "_static" in path.parts or "_sources" in path.parts:
            continue
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for a in soup.find_all("a", href=True):
            url = urlparse(a["href"])
            if url.scheme or url.netloc or a["href"].startswith(("mailto:", "javascript:")):
                continue
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(HTML)}: {a['href']} (no such file)")
            elif url.fragment and target.suffix == ".html" and url.fragment not in _ids(target, cache):
                broken.append(f"{path.relative_to(HTML)}: {a['href']} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_figure_has_a_caption_and_alt_text(site, page):
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    for img in soup.select("article .cell_output img"):
        figure = img.find_parent("figure")
        assert figure is not None and figure.find("figcaption"), (
            f"{page}: a figure without a caption (name it in the cell's mystnb.figure metadata)"
        )
        alt = img.get("alt", "")
        assert alt and not alt.endswith(".png"), f"{page}: image {img.get('src')} has no alt text"


def test_figures_have_an_opaque_background():
    """Figures keep their white canvas in the site's dark mode: no transparent pixels at the
    corners (a transparent figure's dark text would vanish on the dark background)."""
    from matplotlib.image import imread

    images = sorted((HTML / "_images").glob("*.png"))
    assert images, "no figures in the built site"
    for png in images:
        pixels = imread(png)
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            corners = pixels[[0, 0, -1, -1], [0, -1, 0, -1], 3]
            assert (corners > 0.99).all(), f"{png.name} has a transparent background"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_offers_its_source_and_a_notebook_for_download(site, page):
    rel = page.relative_to(ROOT)
    soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
    hrefs = {a["href"] for a in soup.find_all("a", href=True)}
    for suffix in (".md", ".ipynb"):
        assert any(h.endswith(f"_sources/{rel.with_suffix(suffix).as_posix()}") for h in hrefs), (
            f"{page}: no download link for its {suffix}"
        )
    notebook = HTML / "_sources" / rel.with_suffix(".ipynb")
    assert "install what this runtime lacks" in notebook.read_text(encoding="utf-8"), (
        f"{page}: the downloadable notebook is not the generated, runnable one"
    )


def test_errata_appendix_lists_every_correction(site):
    appendix_path = HTML / "book" / "errata.html"
    appendix = BeautifulSoup(appendix_path.read_text(encoding="utf-8"), "html.parser")
    listed = {
        (appendix_path.parent / a["href"].split("#")[0]).resolve().relative_to(HTML).as_posix()
        + "#" + a["href"].split("#")[1]
        for a in appendix.select("a.errata-correction")
    }
    errata_links = appendix.select("a.errata-erratum")
    notes, errata = set(), 0
    for page in notebook_pages():
        soup = BeautifulSoup(html_of(page).read_text(encoding="utf-8"), "html.parser")
        for note in soup.select("div.admonition.note"):
            body = note.get_text(" ", strip=True).removeprefix("Note").strip()
            if body.startswith("The crash course says"):
                assert note.get("id"), f"{page}: a crash-course note without an anchor"
                notes.add(html_of(page).relative_to(HTML).as_posix() + "#" + note["id"])
        errata += page.read_text(encoding="utf-8").count("```{erratum}")
    assert notes, "no crash-course notes found: did the note markup change?"
    assert notes == listed, (
        f"missing from the appendix: {sorted(notes - listed)}; listed but not on a page: {sorted(listed - notes)}")
    assert len(errata_links) == errata
