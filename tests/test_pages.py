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
from tests.conftest import ROOT, chapter_pages, toc_pages

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
    r"\btqdm\.(auto|notebook)\b": "draws a widget, which the offline site cannot render",
}


def stderr_progress_bars(code: str) -> list[str]:
    """Each ``tqdm(...)`` call in ``code`` that does not pass ``file=sys.stdout``.

    tqdm writes to stderr by default, which the build treats as an error; on stdout its last
    state is what the page shows (the site keeps what follows a line's last carriage return).
    """
    found = []
    for match in re.finditer(r"\btqdm\(", code):
        depth, end = 1, match.end()
        while end < len(code) and depth:
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            end += 1
        call = code[match.start():end]
        if not re.search(r"\bfile\s*=\s*sys\.stdout\b", call):
            found.append(call)
    return found


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
    assert not stderr_progress_bars(code), (
        f"{page}: a tqdm bar without file=sys.stdout writes to stderr, which fails the build: "
        f"{stderr_progress_bars(code)}"
    )


@pytest.mark.parametrize(
    ("code", "n"),
    [("tqdm(range(3), file=sys.stdout)", 0), ("for i in tqdm(range(3)):", 1),
     ("tqdm(total=len(x(1)),\n     file=sys.stdout, ascii=True)", 0), ("bar = tqdm(total=3)", 1)],
)
def test_stderr_progress_bar_finder(code, n):
    assert len(stderr_progress_bars(code)) == n


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


# ---- one seed per page ------------------------------------------------------------------------

# A literal seed in a page's code fixes that draw whatever seed the page runs under, so a claim
# resting on it is never tried against another draw. Derive every seed from `seed_everything()`:
# `random_state=SEED`, `np.random.default_rng(SEED + 1)`.
LITERAL_SEED = re.compile(
    r"\b(random_state|seed|random_seed)\s*=\s*\d"
    r"|\b(default_rng|RandomState|manual_seed|seed_everything|SeedSequence|PCG64)\(\s*\d"
    r"|\b(np\.random|random|torch)\.seed\(\s*\d"
)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_literal_seeds(page):
    hits = [
        f"cell {i}: {line.strip()}"
        for i, cell in enumerate(code_cells(page))
        for line in cell.source.splitlines()
        if LITERAL_SEED.search(line.split("#")[0])
    ]
    assert not hits, (
        f"{page}: random sources seeded with a literal instead of the page's seed "
        "(`SEED = seed_everything()`, then `random_state=SEED`, `seed=SEED + 1`):\n  "
        + "\n  ".join(hits)
    )


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_seed_comes_from_the_environment(page):
    first = code_cells(page)[0].source
    assert re.search(r"\bSEED\s*=\s*seed_everything\(\s*\)", first), (
        f"{page}: the first code cell must say `SEED = seed_everything()` (no argument: the "
        "seed comes from MLBOOK_SEED, so `make test` can run the page under another seed)"
    )


# ---- no measurement typed by hand -------------------------------------------------------------

# What looks like a measured result in prose: a decimal, a percentage, a duration, a multiplier,
# an approximate count. A number that is a result must come from `{glue:text}`; a definition or
# constant (a 60 s budget, a 0.5 threshold) is allowed by naming it in MEASURE_ALLOWED.
NUM = r"\d(?:[\d,.]*\d)?"  # 7, 0.93, 1,215 (no trailing punctuation)
MEASURE = re.compile(
    rf"(?<![\w.]){NUM}\s?(?:%|percent\b)"                                 # 12 %, 3.5 percent
    rf"|(?<![\w.]){NUM}\s?(?:s|ms|µs|seconds?|minutes?|min|hours?)\b"      # 200 seconds, 55 s
    rf"|(?<![\w.]){NUM}\s?(?:x|×)(?!\w)"                                   # 18x, 4.5 ×
    rf"|\b{NUM}\s+times\b(?!\s+(?:a|per|each|in|out)\b)"                  # 18 times faster
    rf"|\b(?:about|around|roughly|nearly|almost|approximately|some)\s+{NUM}(?!\w)"  # about 68
    rf"|~\s?{NUM}"
    r"|(?<![\w.])\d[\d,]*\.\d+(?![\w.])"                                   # 0.93, 1,024.5
)

# Definitions and constants that any page may state as typed (checked phrase by phrase). A page
# lists its own in its front matter, `mlbook: {constants: ["60 s", "0.5"]}`, so the allowlist is
# short, explicit and next to the prose it excuses.
MEASURE_ALLOWED: set[str] = set()

# Software versions are not measurements.
VERSION = re.compile(
    r"\b(?:Python|scikit-learn|pandas|NumPy|numpy|PyTorch|torch|MLflow|kfp|Kubeflow Pipelines|"
    r"Kubernetes|Sphinx|Jupyter Book|ONNX|opset|FastAPI|pydantic|Pydantic|HTTP|TLS|Docker|"
    r"skops|joblib|uvicorn|Starlette|statsmodels|XGBoost|SHAP|version|v)\s?\d+(?:\.\d+)+\b"
)


def prose(page: Path) -> str:
    """The page's prose, without code, math, roles, link targets and directive options."""
    text = re.sub(r"<!--.*?-->", " ", markdown(page), flags=re.S)
    kept, stack = [], []  # stack of (fence, keep the body?) for the open fences
    for line in text.splitlines():
        fence = re.match(r"^\s*(`{3,}|:{3,})(\{[\w:-]+\})?", line)
        if fence and stack and fence.group(1) == stack[-1][0] and not line.strip()[len(fence.group(1)):]:
            stack.pop()                                                          # closing fence
            continue
        if fence and (fence.group(2) or fence.group(1).startswith("`")):
            name = (fence.group(2) or "{code}")[1:-1]
            prose_body = name not in {"code", "code-block", "literalinclude", "math", "glue", "glue:figure"}
            stack.append((fence.group(1), prose_body and all(k for _, k in stack)))
            continue
        if stack and not stack[-1][1]:
            continue
        if stack and re.match(r"^\s*:[\w-]+:", line):                            # directive options
            continue
        kept.append(line)
    text = "\n".join(kept)
    text = re.sub(r"\$\$.*?\$\$(\s*\(eq:[\w-]+\))?", " ", text, flags=re.S)    # display math
    text = re.sub(r"\$[^$\n]+\$", " ", text)                                   # inline math
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)                            # roles, glue
    text = re.sub(r"`[^`]*`", " ", text)                                       # inline code
    text = re.sub(r"\]\([^)]*\)", "]", text)                                   # link targets
    text = re.sub(r"^\s*(?:\d+\.|[-*])\s", " ", text, flags=re.M)              # list markers
    return VERSION.sub(" ", text)


def typed_measurements(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """Phrases of ``text`` that look like measured results, less the allowed constants."""
    found = (m.group(0).strip() for m in MEASURE.finditer(text))
    return [f for f in found if f not in MEASURE_ALLOWED | set(allowed)]


def page_constants(page: Path) -> set[str]:
    constants = (jupytext.read(page).metadata.get("mlbook") or {}).get("constants", [])
    assert isinstance(constants, list) and all(isinstance(c, str) for c in constants), (
        f"{page}: mlbook.constants must be a list of strings")
    return set(constants)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_no_measurement_typed_by_hand(page):
    allowed = page_constants(page)
    text = prose(page)
    found = typed_measurements(text, allowed)
    assert not found, (
        f"{page}: numbers in the prose that look like measured results; glue them from the "
        f"computation (a definition or constant goes in the page's mlbook.constants): {found}"
    )
    unused = {c for c in allowed if c not in typed_measurements(text)}
    assert not unused, f"{page}: mlbook.constants lists phrases the prose does not use: {unused}"


@pytest.mark.parametrize(("text", "hits"), [
    ("the forest took 200 seconds to fit", ["200 seconds"]),
    ("a fit takes about 55 s", ["about 55"]),
    ("costs rise by about 68 per unit", ["about 68"]),
    ("ONNX is 18x faster and 4.5 × for batches", ["18x", "4.5 ×"]),
    ("accuracy 0.93, recall 12 %", ["0.93", "12 %"]),
    ("5-fold cross-validation with 3 trees and 10 folds", []),
])
def test_measurement_finder(text, hits):
    assert typed_measurements(text) == hits


def test_chapter_titles_carry_their_number():
    # Chapters are numbered by hand, after the crash course's sections (see _toc.yml): chapter
    # NN lives in book/NN-name/ and its index page's title starts with "NN.".
    for index in sorted((ROOT / "book").glob("[0-9][0-9]-*/index.md")):
        title = index.read_text(encoding="utf-8").splitlines()[0]
        number = int(index.parent.name[:2])
        assert title.startswith(f"# {number}. "), f"{index}: title {title!r} must start with '# {number}. '"


def test_intro_names_the_written_chapters():
    written = sorted(int(p.name[:2]) for p in (ROOT / "book").glob("[0-9][0-9]-*") if p.is_dir())
    names = ", ".join(map(str, written[:-1])) + f" and {written[-1]}"
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert f"Chapters {names} are written" in intro, f"book/intro.md must say: Chapters {names} are written"


def test_pages_pending_a_seed_review_say_why():
    # `mlbook: {seed_pending: "why"}` makes nbval run a page under the build's seed only: a
    # stopgap for pages whose claims have not been re-checked against other seeds yet.
    pending = {}
    for page in PAGES:
        why = (jupytext.read(page).metadata.get("mlbook") or {}).get("seed_pending")
        if why is not None:
            assert isinstance(why, str) and len(why) > 20, f"{page}: seed_pending needs a reason"
            pending[str(page.relative_to(ROOT))] = why
    print("pages still pending a seed review:", pending or "none")
