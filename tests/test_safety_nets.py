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

from tests.conftest import ROOT, find_warning_outputs

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


def seeds() -> tuple[int, int]:
    """The build's seed and the nbval pass's seed, from the Makefile."""
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "print-seeds"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    book_seed, test_seed = map(int, out.stdout.split())
    return book_seed, test_seed


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
    env = {**os.environ, "MLBOOK_SEED": str(seeds()[0])}  # as `make book` builds the site
    return subprocess.run(
        [str(BIN / "jupyter-book"), "build", *jb_flags(), str(book)],
        capture_output=True, text=True, timeout=300, env=env,
    )


def nbval(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    """Run a page through nbval with the book's plugin and seed, as `make test` does."""
    nb = jupytext.reads(text, fmt="md:myst")
    (tmp_path / "nb").mkdir()
    path = tmp_path / "nb" / "page.ipynb"  # its folder must stay clean; timings go to tmp_path
    path.write_text(nbformat.writes(nb))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLBOOK_TIMINGS_DIR": str(tmp_path),
           "MLBOOK_SEED": str(seeds()[1])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "tests.book_plugin",
         "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         "--rootdir", str(tmp_path), str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


# Two models with the same true accuracy, each scored on its own 400 test cases. Which one
# scores higher is a coin flip, so "A beats B" is noise; "tied within 2 standard errors" is what
# holds for any draw. The page's seed comes from MLBOOK_SEED, as on every page of the book.
TWO_MODELS = """\
```{code-cell} ipython3
import numpy as np
from myst_nb import glue
from mlbook_utils import seed_everything

SEED = seed_everything()
rng = np.random.default_rng(SEED)
a, b = rng.binomial(400, 0.8, size=2) / 400
se = float(np.sqrt(a * (1 - a) / 400 + b * (1 - b) / 400))
glue("gap", float(a - b), display=False)
```

A minus B: {glue:text}`gap:.3f`, see {footcite:t}`hastie2009`.

```{code-cell} ipython3
:tags: [remove-cell]
CLAIM
```

## References

```{footbibliography}
```
"""
ROBUST_CLAIM = 'assert abs(a - b) < 4 * se, "the prose says the two models are tied"'


def seed_bound_claim() -> str:
    """A claim ("A beats B", or "B beats A") that holds under the build's seed only."""
    book_seed, test_seed = seeds()
    import numpy as np

    def gap(seed: int) -> float:
        a, b = np.random.default_rng(seed).binomial(400, 0.8, size=2) / 400
        return float(a - b)

    g_book, g_test = gap(book_seed), gap(test_seed)
    assert g_book != 0 and np.sign(g_book) != np.sign(g_test), (
        "pick another pair of test seeds: this safety net needs draws that disagree")
    return f'assert {"a > b" if g_book > 0 else "b > a"}, "the prose says one model wins"'


class TestSeedBoundClaims:
    """A claim that only the build's seed shows passes the build and fails `make test`."""

    def test_seed_bound_claim_passes_the_build(self, tmp_path):
        result = build(tmp_path, page(TWO_MODELS.replace("CLAIM", seed_bound_claim())))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    def test_seed_bound_claim_fails_nbval_under_the_test_seed(self, tmp_path):
        result = nbval(tmp_path, page(TWO_MODELS.replace("CLAIM", seed_bound_claim())))
        assert result.returncode != 0, "nbval passed a claim that holds for one seed only"
        assert "the prose says one model wins" in result.stdout

    def test_robust_claim_passes_nbval(self, tmp_path):
        result = nbval(tmp_path, page(TWO_MODELS.replace("CLAIM", ROBUST_CLAIM)))
        assert result.returncode == 0, result.stdout[-3000:]


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
