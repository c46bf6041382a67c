"""What several test files share: where the repository is, which pages the book has, and how a
rendered page shows a warning. The page lists come from ``tools/notebooks.py`` (``_toc.yml`` is
the single source of which pages exist)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

from tools.notebooks import ROOT, chapter_pages, is_notebook_page, notebook_pages, toc_pages

__all__ = ["ROOT", "HTML", "chapter_pages", "find_warning_outputs", "is_notebook_page",
           "notebook_pages", "toc_pages"]

HTML = ROOT / "_build" / "html"

# How Python prints a warning or an exception, and how a logger prints one.
WARNING_TEXT = re.compile(
    r"\b\w*(Warning|Error|Exception)\b:|Traceback \(most recent call last\)|^\s*(WARNING|ERROR)\b",
    re.MULTILINE,
)


def find_warning_outputs(html: str) -> list[str]:
    """Cell outputs in a rendered page that show stderr text, a warning or a traceback."""
    soup = BeautifulSoup(html, "html.parser")
    found: list[str] = []
    for output in soup.select(".cell_output"):
        for err in output.select(".stderr"):
            found.append("stderr: " + err.get_text().strip())
        text = output.get_text()
        for match in WARNING_TEXT.finditer(text):
            line = text[text.rfind("\n", 0, match.start()) + 1 : text.find("\n", match.end())]
            found.append(line.strip())
    return found
