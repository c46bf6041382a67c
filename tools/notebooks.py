"""The book's pages: which ones exist (from ``_toc.yml``) and their notebook form.

``python -m tools.notebooks OUT_DIR`` converts every executable page (a MyST markdown notebook with
a jupytext header) to ``OUT_DIR/<same path>.ipynb`` for nbval, and removes notebooks whose page is
gone. The pages stay the single source: generated notebooks are never edited by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _toc_files(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                yield node[key]
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from _toc_files(value)
    elif isinstance(node, list):
        for value in node:
            yield from _toc_files(value)


def toc_pages(root: Path = ROOT) -> list[Path]:
    """Every page listed in ``_toc.yml``, in reading order, as paths to existing files."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages: list[Path] = []
    for entry in _toc_files(toc):
        matches = [root / f"{entry}{ext}" for ext in (".md", ".ipynb", "")]
        path = next((p for p in matches if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"_toc.yml lists {entry!r}, but no such page exists")
        if path not in pages:
            pages.append(path)
    return pages


def is_notebook_page(path: Path) -> bool:
    """True for a MyST markdown notebook: a page with a jupytext header and a kernel."""
    if path.suffix != ".md":
        return path.suffix == ".ipynb"
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    header = text.split("---", 2)[1]
    meta = yaml.safe_load(header) or {}
    return "jupytext" in meta and "kernelspec" in meta


def notebook_pages(root: Path = ROOT) -> list[Path]:
    """The pages that execute code, in reading order."""
    return [p for p in toc_pages(root) if is_notebook_page(p)]


def chapter_pages(root: Path = ROOT) -> list[Path]:
    """The notebook pages of the chapters (``book/NN-name/page.md``), which follow every page
    convention of CONTRIBUTING.md; back-matter pages such as the status page do not."""
    import re

    return [p for p in notebook_pages(root) if re.fullmatch(r"\d\d-[\w-]+", p.parent.name)]


def convert(out_dir: Path, root: Path = ROOT) -> list[Path]:
    """Write each notebook page as ``.ipynb`` under ``out_dir``; return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for page in notebook_pages(root):
        target = out_dir / page.relative_to(root).with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = jupytext.read(page)
        meta = nb.metadata.setdefault("mlbook", {})
        meta["source"] = str(page.relative_to(root))
        if meta.get("seed_pending"):
            # A page whose claims are not yet checked against other seeds (front matter
            # `mlbook: {seed_pending: "why"}`) runs under the build's seed in nbval too. The
            # list of such pages is printed by tests/test_pages.py and must shrink to nothing.
            pin = nbformat.v4.new_code_cell(
                'import os\nos.environ["MLBOOK_SEED"] = os.environ.get("MLBOOK_BOOK_SEED", "0")')
            nb.cells.insert(0, pin)
        text = nbformat.writes(nb)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        written.append(target)
    for stale in set(out_dir.rglob("*.ipynb")) - set(written):
        stale.unlink()
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "_build" / "notebooks"
    written = convert(out)
    print(f"{len(written)} pages converted to notebooks in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
