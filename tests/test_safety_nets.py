"""Each safety net of the book is shown to catch what it is for.

A tiny book with one page is built with the real ``_config.yml`` and the real build flags (from
the Makefile), and the same page is run through nbval with the real plugin. A good page passes
both (the positive control); each broken page must fail the step named in the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import nbformat
import pytest

from tests.test_site import find_warning_outputs

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
{extra}---

# A page

(good-label)=
## A section

"""

GOOD = """\
```{code-cell} ipython3
from myst_nb import glue
x = sum(range(10))
glue("x", x, display=False)
print(x)
```

The sum is {glue:text}`x`, see {ref}`good-label` and {footcite:t}`hastie2009`.

```{code-cell} ipython3
:tags: [remove-cell]
assert x == 45, "the prose says the sum is 45"
```

## References

```{footbibliography}
```
"""

BROKEN = {
    "a cell that raises": GOOD + "\n```{code-cell} ipython3\n1 / 0\n```\n",
    "a DeprecationWarning": GOOD
    + '\n```{code-cell} ipython3\nimport warnings\nwarnings.warn("old API", DeprecationWarning)\n```\n',
    "a claim that no longer holds": GOOD.replace("assert x == 45", "assert x == 46"),
}


def page(body: str, extra_header: str = "") -> str:
    return HEADER.format(extra=extra_header) + body


def jb_flags() -> list[str]:
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "print-jb-flags"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return out.stdout.split()


def build(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    """Build a one-page book with the project's configuration and build flags."""
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    (book / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", book / "book" / "references.bib")
    shutil.copytree(ROOT / "book" / "_ext", book / "book" / "_ext")
    (book / "_build" / "site-extra").mkdir(parents=True)  # html_extra_path (MathJax in `make book`)
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (book / "page.md").write_text(text)
    return subprocess.run(
        [str(BIN / "jupyter-book"), "build", *jb_flags(), str(book)],
        capture_output=True, text=True, timeout=300,
    )


def nbval(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    """Run a page through nbval with the book's plugin, as `make test` does."""
    nb = jupytext.reads(text, fmt="md:myst")
    (tmp_path / "nb").mkdir()
    path = tmp_path / "nb" / "page.ipynb"  # its folder must stay clean; timings go to tmp_path
    path.write_text(nbformat.writes(nb))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLBOOK_TIMINGS_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "tests.book_plugin",
         "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         "--rootdir", str(tmp_path), str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


class TestBuildFails:
    def test_good_page_builds(self, tmp_path):
        result = build(tmp_path, page(GOOD))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    @pytest.mark.parametrize("fault", list(BROKEN))
    def test_broken_page_fails_the_build(self, tmp_path, fault):
        result = build(tmp_path, page(BROKEN[fault]))
        assert result.returncode != 0, f"the build passed despite {fault}"

    def test_broken_cross_reference_fails_the_build(self, tmp_path):
        result = build(tmp_path, page(GOOD.replace("{ref}`good-label`", "{ref}`no-such-label`")))
        assert result.returncode != 0
        assert "no-such-label" in result.stdout + result.stderr


class TestNbvalFails:
    def test_good_page_passes(self, tmp_path):
        result = nbval(tmp_path, page(GOOD))
        assert result.returncode == 0, result.stdout[-3000:]
        assert (tmp_path / "page-timings.md").exists()

    @pytest.mark.parametrize("fault", list(BROKEN))
    def test_broken_page_fails_nbval(self, tmp_path, fault):
        result = nbval(tmp_path, page(BROKEN[fault]))
        assert result.returncode != 0, f"nbval passed despite {fault}"

    def test_deprecation_warning_is_reported_as_stderr(self, tmp_path):
        result = nbval(tmp_path, page(BROKEN["a DeprecationWarning"]))
        assert "wrote to stderr" in result.stdout and "old API" in result.stdout

    def test_page_that_leaves_a_file_behind_fails(self, tmp_path):
        litter = GOOD + '\n```{code-cell} ipython3\nopen("model.pkl", "w").close()\n```\n'
        result = nbval(tmp_path, page(litter))
        assert result.returncode != 0
        assert "left files behind" in result.stdout and "model.pkl" in result.stdout

    def test_page_over_its_budget_fails(self, tmp_path):
        slow = GOOD + "\n```{code-cell} ipython3\nimport time\ntime.sleep(1.5)\n```\n"
        result = nbval(tmp_path, page(slow, extra_header="mlbook:\n  budget_s: 1\n"))
        assert result.returncode != 0
        assert "over its budget of 1 s" in result.stdout


def test_warning_text_in_an_output_is_found():
    html = textwrap.dedent("""
        <div class="cell_output docutils container">
          <div class="output stream highlight-myst-ansi notranslate"><div class="highlight">
          <pre><span></span>/x.py:3: FutureWarning: The default will change
          </pre></div></div></div>
        <div class="cell_output docutils container"><pre>all good</pre></div>
    """)
    found = find_warning_outputs(html)
    assert len(found) == 1 and "FutureWarning" in found[0]


def test_stderr_output_is_found():
    html = '<div class="cell_output"><div class="output stderr"><pre>oops</pre></div></div>'
    assert find_warning_outputs(html) == ["stderr: oops"]
