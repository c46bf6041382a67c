"""The page conventions of CONTRIBUTING.md, checked on every page's source.

These are cheap, static checks; that the code runs and the claims hold is checked by executing
the pages (the site build and nbval).
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

from tests.book_plugin import page_budget
from tests.notebooks import ROOT, chapter_pages, toc_pages

PAGES = chapter_pages()
IDS = [str(p.relative_to(ROOT)) for p in PAGES]
BIB = ROOT / "book" / "references.bib"

# Code that must never appear in a page: it downloads, silences warnings or hides randomness.
FORBIDDEN_CODE = {
    r"warnings\.(filterwarnings|simplefilter)\(\s*['\"]ignore": "silences warnings",
    r"\bfetch_\w+\(": "downloads data (scikit-learn fetch_*)",
    r"\b(urlopen|urlretrieve|requests\.get|httpx\.get)\(\s*['\"]https?://": "downloads at run time",
    r"read_\w+\(\s*['\"]https?://": "reads data from the network",
    r"from_pretrained\(": "loads weights from a hub",
    r"get_rdataset\(|webuse\(": "downloads data (statsmodels)",
    r"\btqdm\b": "draws a progress bar on stderr",
}


def cells(page: Path):
    return jupytext.read(page).cells


def code_cells(page: Path):
    return [c for c in cells(page) if c.cell_type == "code"]


def markdown(page: Path) -> str:
    return "\n".join(c.source for c in cells(page) if c.cell_type == "markdown")


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_header_and_kernel(page):
    nb = jupytext.read(page)
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    page_budget(nb.metadata)  # raises on a malformed budget


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_first_code_cell_seeds(page):
    first = code_cells(page)[0].source
    assert "seed_everything(" in first, f"{page}: the first code cell must call seed_everything"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_forbidden_code(page):
    code = "\n".join(c.source for c in code_cells(page))
    for pattern, why in FORBIDDEN_CODE.items():
        assert not re.search(pattern, code), f"{page}: code matching {pattern!r} {why}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_glued_numbers_are_defined_and_used(page):
    code = "\n".join(c.source for c in code_cells(page))
    text = markdown(page)
    defined = set(re.findall(r"glue\(\s*[\"']([^\"']+)[\"']", code))
    used = set(re.findall(r"\{glue(?::\w+)?\}`([^`:]+)", text))
    used |= set(re.findall(r"```\{glue(?::\w+)?\}\s+(\S+)", text))
    assert used, f"{page}: no glued numbers in the prose"
    assert not used - defined, f"{page}: prose uses undefined glue keys {sorted(used - defined)}"
    assert not defined - used, f"{page}: glued but never shown {sorted(defined - used)}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_claims_are_asserted_in_hidden_cells(page):
    hidden = [c for c in code_cells(page) if "remove-cell" in c.metadata.get("tags", [])]
    assert any(re.search(r"^\s*assert\b", c.source, re.M) for c in hidden), (
        f"{page}: no hidden cell asserts the claims the prose makes"
    )


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_exercise_with_hidden_solution(page):
    text = markdown(page)
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label:\s*(\S+)", text)
    assert labels, f"{page}: no labelled exercise"
    for label in labels:
        start = re.search(r"```\{solution-start\}\s+" + re.escape(label) + r"\s*\n(:[^\n]*\n)*", text)
        assert start, f"{page}: exercise {label} has no solution"
        assert ":class: dropdown" in start.group(0), f"{page}: solution of {label} is not hidden"
    assert text.count("{solution-start}") == text.count("{solution-end}")


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_references_section(page):
    text = markdown(page)
    assert re.search(r"\{footcite(:\w+)?\}`", text), f"{page}: cites no source"
    assert re.search(r"^## References\s*\n+```\{footbibliography\}", text, re.M), (
        f"{page}: must end with a '## References' section holding {{footbibliography}}"
    )


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_markdown_footnotes(page):
    # _config.yml suppresses myst.footnote warnings (footcite triggers false ones); with no
    # markdown footnotes in the book, the suppression cannot hide a real mistake.
    assert not re.search(r"\[\^[^\]]+\]", markdown(page)), f"{page}: use {{footcite}}, not [^notes]"


def test_every_bib_entry_is_cited_and_every_citation_exists():
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), re.M))
    cited: set[str] = set()
    for page in toc_pages():
        if page.suffix == ".md":
            for group in re.findall(r"\{(?:foot)?cite(?::\w+)?\}`([^`]+)`", page.read_text(encoding="utf-8")):
                cited |= {k.strip() for k in group.split(",")}
    assert not cited - keys, f"cited but not in references.bib: {sorted(cited - keys)}"
    assert not keys - cited, f"in references.bib but cited nowhere: {sorted(keys - cited)}"
