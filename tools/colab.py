"""Generate the notebooks that the Colab and Binder buttons open, from the pages.

``python -m tools.colab`` writes ``book/<chapter>/<page>.ipynb`` beside each notebook page
``book/<chapter>/<page>.md``; ``python -m tools.colab --check`` fails if a committed notebook
differs from what the pages and the last build produce. The notebooks are generated, never
edited by hand: `make colab` regenerates them and `make test` checks them.

What changes from the page:

- a first code cell installs what the runtime lacks (``mlbook_utils`` and any imported library
  that is missing; never PyTorch, which Colab ships with a build for its GPU) and stands in for
  ``myst_nb.glue``;
- MyST-only syntax becomes plain Markdown: glued numbers are replaced by the values of the last
  build (so the notebook reads like the website), citations by author and year with the
  references listed at the end, exercises, solutions and notes by bold headings and quotes,
  cross-references by figure and equation numbers or links to the website;
- cells the website hides (the checks of the text's claims) stay, marked as such.

Sphinx ignores these ``.ipynb`` files (``_config.yml`` excludes them); sphinx-book-theme points
the Colab and Binder buttons at them because they stand beside the page.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

from tools.colab_stack import read_minimums
from tools.notebooks import ROOT, notebook_pages

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
SITE_URL = CONFIG["html"]["baseurl"].rstrip("/") + "/"
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
MLBOOK_UTILS_SPEC = f"mlbook-utils @ git+{REPO_URL}"
BIB = ROOT / "book" / "references.bib"
CACHE = ROOT / "_build" / ".jupyter_cache"
GLUE_OPEN, GLUE_CLOSE = "<!--glue-->", "<!--/glue-->"
GLUED = re.compile(re.escape(GLUE_OPEN) + ".*?" + re.escape(GLUE_CLOSE))

# Import name -> pip name, for the libraries a page may import. Anything imported that is not
# here and not in the standard library is an error, so that a new import cannot silently miss
# its install step.
PIP_NAMES = {
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "sklearn": "scikit-learn",
    "matplotlib": "matplotlib", "statsmodels": "statsmodels", "joblib": "joblib",
    "xgboost": "xgboost", "shap": "shap", "lime": "lime", "optuna": "optuna",
    "mlflow": "mlflow", "kfp": "kfp", "fastapi": "fastapi", "uvicorn": "uvicorn",
    "httpx": "httpx", "pydantic": "pydantic", "skl2onnx": "skl2onnx",
    "onnxruntime": "onnxruntime", "onnx": "onnx", "skops": "skops", "yaml": "pyyaml",
    "IPython": "ipython", "cloudpickle": "cloudpickle", "PIL": "pillow",
    "threadpoolctl": "threadpoolctl", "kubernetes_validate": "kubernetes-validate",
    "packaging": "packaging", "kubernetes": "kubernetes", "tqdm": "tqdm",
}
# mlbook_utils modules whose libraries are not the package's own dependencies (the `serve` extra)
SUBMODULE_NEEDS = {
    "mlbook_utils.serving": {"fastapi", "skops", "onnxruntime"},
    "mlbook_utils.serverrun": {"fastapi", "uvicorn", "httpx", "skops", "onnxruntime"},
    "mlbook_utils.export": {"fastapi", "skops", "skl2onnx", "onnxruntime"},
    "mlbook_utils.versioning": {"skops"},
    "mlbook_utils.onnxchurn": {"skl2onnx", "onnxruntime"},
    "mlbook_utils.deep": {"tqdm"},  # and torch, which Colab ships (NEVER_INSTALL)
}
NEVER_INSTALL = {"torch"}  # Colab's own build matches its GPU; a pip reinstall would replace it
NOT_NEEDED = {"myst_nb"}  # replaced by the stand-in in the set-up cell


def _glued_values(page: Path) -> dict[str, object]:
    """Values the page glued in the last build, read from myst-nb's execution cache."""
    from jupyter_cache import get_cache

    if not CACHE.is_dir():
        raise FileNotFoundError("no execution cache in _build: run `make book` first")
    cache = get_cache(str(CACHE))
    records = [r for r in cache.list_cache_records() if Path(r.uri).resolve() == page.resolve()]
    if not records:
        raise FileNotFoundError(f"{page} has not been executed by `make book` yet")
    record = max(records, key=lambda r: r.created)
    values: dict[str, object] = {}
    for cell in cache.get_cache_bundle(record.pk).nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is None:
                continue
            prefix = out["metadata"]["scrapbook"].get("mime_prefix", "")
            text = out.get("data", {}).get(prefix + "text/plain", "")
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text.strip("'\"")
    return values


def _bib_entries() -> dict[str, dict[str, str]]:
    from pybtex.database import parse_file

    out = {}
    for key, entry in parse_file(str(BIB)).entries.items():
        people = entry.persons.get("author", [])
        last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
        if len(last) == 1:
            authors = last[0]
        elif len(last) == 2:
            authors = f"{last[0]} and {last[1]}"
        else:
            authors = f"{last[0]} et al."
        fields = {k: v.replace("{", "").replace("}", "") for k, v in entry.fields.items()}
        venue = fields.get("journal") or fields.get("booktitle") or fields.get("publisher", "")
        doi = f" https://doi.org/{fields['doi']}" if "doi" in fields else ""
        out[key] = {
            "short": authors,
            "year": fields.get("year", ""),
            "full": f"{authors} ({fields.get('year', '')}). {fields.get('title', '')}. {venue}.{doi}",
        }
    return out


def _site_link(page: Path, target: str) -> str:
    rel = (page.parent / target).resolve().relative_to(ROOT)
    return SITE_URL + str(rel) + ".html"


class _Converter:
    """Rewrites one page's markdown cells from MyST to plain Markdown."""

    def __init__(self, page: Path, glued: dict[str, object], bib: dict[str, dict[str, str]]):
        self.page, self.glued, self.bib = page, glued, bib
        self.cited: list[str] = []
        self.figures: dict[str, int] = {}
        self.equations: dict[str, int] = {}

    def glue(self, match: re.Match) -> str:
        key, _, spec = match.group(2).partition(":")
        if key not in self.glued:
            raise KeyError(f"{self.page}: glue key {key!r} has no value in the last build")
        value = self.glued[key]
        text = format(value, spec) if spec else str(value)
        # Invisible markers: the staleness check compares notebooks with glued values masked,
        # since some (timings) differ from build to build.
        return f"{GLUE_OPEN}{text}{GLUE_CLOSE}"

    def cite(self, match: re.Match) -> str:
        kind, keys = match.group(1) or ":p", [k.strip() for k in match.group(2).split(",")]
        for key in keys:
            if key not in self.cited:
                self.cited.append(key)
        if kind == ":t":
            return "; ".join(f"{self.bib[k]['short']} ({self.bib[k]['year']})" for k in keys)
        return "(" + "; ".join(f"{self.bib[k]['short']} {self.bib[k]['year']}" for k in keys) + ")"

    def role(self, match: re.Match) -> str:
        kind, content = match.group(1), match.group(2)
        text, _, target = content.partition(" <")
        target = target.rstrip(">") if target else text
        if kind == "numref":
            return f"Figure {self.figures.get(target, '?')}"
        if kind == "eq":
            return f"({self.equations.get(target, '?')})"
        if kind == "doc":
            label = text if content.endswith(">") else Path(target).name.replace("-", " ")
            return f"[{label}]({_site_link(self.page, target)})"
        return text  # ref and anything else: keep the visible text

    def markdown(self, source: str) -> str:
        src = re.sub(r"^\([\w:-]+\)=\s*$\n?", "", source, flags=re.M)  # label targets
        src = re.sub(r"\{glue(:text|:md)?\}`([^`]+)`", self.glue, src)
        src = re.sub(r"\{footcite(:t|:p|:ts|:ps)?\}`([^`]+)`", self.cite, src)
        src = re.sub(r"\{(numref|eq|doc|ref)\}`([^`]+)`", self.role, src)

        def equation(m: re.Match) -> str:
            number = self.equations.setdefault(m.group(2), len(self.equations) + 1)
            return f"$$\n{m.group(1).strip()}\n\\tag{{{number}}}\n$$"

        src = re.sub(r"\$\$(.+?)\$\$\s*\((eq:[\w-]+)\)", equation, src, flags=re.S)
        src = re.sub(r"```\{solution-start\}[^\n]*\n(:[^\n]*\n)*```", "**Solution**", src)
        src = re.sub(r"```\{solution-end\}\s*```", "", src)

        def directive(m: re.Match) -> str:
            name, title, body = m.group(1), m.group(2).strip(), m.group(3)
            if name == "erratum":  # listed in the errata appendix, not shown on the page
                return ""
            if name == "literalinclude":
                return literal_include(self.page.parent / title, body)
            body = re.sub(r"^:[\w-]+:[^\n]*\n", "", body, flags=re.M).strip()
            if name == "nb-exec-table":
                return f"The execution times are listed on the [website]({SITE_URL}book/status.html)."
            if name == "footbibliography":
                return "\n".join(f"- {self.bib[k]['full']}" for k in self.cited)
            if name == "exercise":
                return f"**Exercise: {title}**\n\n{body}" if title else f"**Exercise**\n\n{body}"
            heading = title or name.capitalize()
            quoted = "\n".join("> " + line if line else ">" for line in body.splitlines())
            return f"> **{heading}.**\n>\n{quoted}"

        src = re.sub(r"```\{([\w-]+)\}([^\n]*)\n(.*?)```", directive, src, flags=re.S)
        leftover = re.findall(r"\{[\w:-]+\}`|```\{", src)
        if leftover:
            raise ValueError(f"{self.page}: MyST syntax left after conversion: {leftover}")
        return src.strip()


def literal_include(path: Path, options: str) -> str:
    """A ``literalinclude`` as a fenced code block with the file's text, selected by Sphinx's
    own reader (``:pyobject:``, ``:start-at:``, ``:end-before:``, ``:dedent:``, ...)."""
    from types import SimpleNamespace

    from sphinx.directives.code import LiteralIncludeReader

    opts: dict[str, object] = {}
    for key, value in re.findall(r"^:([\w-]+):[ \t]*([^\n]*)$", options, flags=re.M):
        value = value.strip()
        if value[:1] in {"'", '"'}:  # MyST reads directive options as YAML
            value = yaml.safe_load(value)
        opts[key] = int(value) if key == "dedent" else value
    language = str(opts.pop("language", ""))
    opts.pop("emphasize-lines", None)
    opts.pop("caption", None)
    text, _ = LiteralIncludeReader(str(path), opts, SimpleNamespace(source_encoding="utf-8")).read()
    shown = path.resolve().relative_to(ROOT)
    return f"`{shown}`:\n\n```{language}\n{text.rstrip()}\n```"


def _imports(code: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
            names |= set().union(*(SUBMODULE_NEEDS.get(a.name, set()) for a in node.names))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            names |= SUBMODULE_NEEDS.get(node.module, set())
    return names


def setup_cell(modules: set[str], needs_repo: bool = False,
               minimums: dict[str, str] | None = None) -> str:
    """The first cell: install what the runtime lacks, and stand in for myst_nb.glue.

    ``needs_repo`` (front matter ``mlbook: {needs_repo: true}``): the page reads files of the
    repository (``deploy/``) next to the package, so the cell clones the repository and installs
    the package from that clone instead of from the git URL.

    ``minimums`` ({pip name: version}, from ``tools/colab-minimums.toml``): versions the page
    needs that are newer than Colab's; the cell upgrades a library only when the runtime's is
    older, and asks for a restart when the library had already been imported.
    """
    minimums = minimums or {}
    by_pip = {pip: module for module, pip in PIP_NAMES.items()}
    unknown_min = [pip for pip in minimums if pip not in by_pip]
    if unknown_min:
        raise KeyError(f"colab-minimums.toml names {unknown_min}: add them to PIP_NAMES")
    modules = modules | {by_pip[pip] for pip in minimums}
    third_party = sorted(m for m in modules if m not in sys.stdlib_module_names
                         and m not in NOT_NEEDED and m not in NEVER_INSTALL and m != "mlbook_utils")
    unknown = [m for m in third_party if m not in PIP_NAMES]
    if unknown:
        raise KeyError(f"add the pip names of {unknown} to PIP_NAMES in tools/colab.py")
    wanted = {m: PIP_NAMES[m] for m in third_party}
    package = [] if needs_repo else [
        '    "mlbook_utils": os.environ.get("MLBOOK_UTILS_SPEC", '
        f'"{MLBOOK_UTILS_SPEC}"),']
    lines = [
        "# Set-up for Colab and Binder, generated from the page: install what this runtime lacks.",
        "import importlib.util, os, subprocess, sys",
        "",
    ]
    if needs_repo:
        lines += [
            "# This page reads the repository's deploy/ folder: use a clone of the repository.",
            'spec = importlib.util.find_spec("mlbook_utils")',
            'if spec is None or not os.path.isdir(os.path.join(os.path.dirname(spec.origin), os.pardir, "deploy")):',
            '    if not os.path.isdir("ml-crash-course"):',
            f'        repo = os.environ.get("MLBOOK_REPO_URL", "{REPO_URL}")',
            '        subprocess.run(["git", "clone", "--quiet", "--depth", "1", repo, "ml-crash-course"], check=True)',
            '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", "ml-crash-course"], check=True)',
            '    sys.path.insert(0, os.path.abspath("ml-crash-course"))',
            "",
        ]
    lines += [
        "wanted = {",
        *package,
        *[f'    "{m}": "{p}",' for m, p in wanted.items()],
        "}",
        "missing = [pip for module, pip in wanted.items() if importlib.util.find_spec(module) is None]",
    ]
    if minimums:
        lines[1] = "import importlib.metadata, importlib.util, os, re, subprocess, sys"
        lines += [
            "# Newer versions than Colab ships that this page needs (tools/colab-minimums.toml).",
            "minimum = {" + ", ".join(f'"{p}": "{v}"' for p, v in sorted(minimums.items())) + "}",
            "",
            "",
            "def version(text):",
            '    return tuple(int(part) for part in re.match(r"\\d+(\\.\\d+)*", text).group().split("."))',
            "",
            "",
            "old = [pip for pip, floor in minimum.items() if pip not in missing",
            "       and version(importlib.metadata.version(pip)) < version(floor)]",
            "install = missing + [f\"{pip}>={minimum[pip]}\" for pip in old]",
        ]
    else:
        lines += ["install = missing"]
    lines += [
        "if install:",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *install], check=True)',
        "    importlib.invalidate_caches()",
    ]
    if minimums:
        by_pip_wanted = {p: m for m, p in wanted.items()}
        lines += [
            "modules = {" + ", ".join(f'"{p}": "{by_pip_wanted[p]}"' for p in sorted(minimums)) + "}",
            "stale = [pip for pip in old if modules[pip] in sys.modules]",
            "if stale:",
            '    raise RuntimeError(f"Upgraded {stale}, which this session had already imported: "',
            '                       "restart the session (Runtime > Restart session) and run the notebook again.")',
        ]
    if "torch" in modules:
        lines += [
            'if importlib.util.find_spec("torch") is None:',
            '    raise RuntimeError("This page needs PyTorch: use a runtime that has it (Colab does).")',
        ]
    lines += [
        "",
        "",
        "def glue(name, value, display=True):",
        '    """Stand-in for myst_nb.glue: on the website the value appears inside the text."""',
        "    if display:",
        "        from IPython.display import display as show",
        "",
        "        show(value)",
    ]
    return "\n".join(lines)


def colab_notebook(page: Path, glued: dict[str, object] | None = None,
                   bib: dict[str, dict[str, str]] | None = None) -> nbformat.NotebookNode:
    """The Colab/Binder notebook for one page."""
    nb = jupytext.read(page)
    conv = _Converter(page, _glued_values(page) if glued is None else glued,
                      _bib_entries() if bib is None else bib)
    modules: set[str] = set()
    cells = []
    figure_count = 0
    # Number figures and equations in reading order first: a reference may come before the
    # figure or equation it names.
    for cell in nb.cells:
        if cell.cell_type == "code":
            name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
            if name:
                figure_count += 1
                conv.figures[name] = figure_count
    for eq in re.findall(r"\$\$.+?\$\$\s*\((eq:[\w-]+)\)", "\n".join(
            c.source for c in nb.cells if c.cell_type == "markdown"), flags=re.S):
        conv.equations.setdefault(eq, len(conv.equations) + 1)

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = conv.markdown(cell.source)
            if text:
                cells.append(nbformat.v4.new_markdown_cell(text))
            continue
        source = re.sub(r"^from myst_nb import glue\n", "", cell.source, flags=re.M)
        if cell.source.lstrip().startswith("%"):
            modules_here: set[str] = set()
        else:
            modules_here = _imports(source)
        modules |= modules_here
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags:
            source = "# Checks of what the text says about the results (hidden on the website).\n" + source
        cells.append(nbformat.v4.new_code_cell(source))
        figure = cell.metadata.get("mystnb", {}).get("figure")
        if figure:
            caption = " ".join(str(figure.get("caption", "")).split())
            number = conv.figures[figure["name"]]
            cells.append(nbformat.v4.new_markdown_cell(f"*Figure {number}: {caption}*"))

    rel = page.relative_to(ROOT).with_suffix(".html")
    intro = nbformat.v4.new_markdown_cell(
        f"*This notebook is generated from a page of the book "
        f"[AI/ML Crash Course: From Fundamentals to Production]({SITE_URL}{rel}); run the "
        f"set-up cell first. The numbers quoted in the text come from a build of the website; "
        f"measured times will differ on your machine.*"
    )
    out = nbformat.v4.new_notebook()
    needs_repo = bool((nb.metadata.get("mlbook") or {}).get("needs_repo"))
    minimums = read_minimums().get(page.relative_to(ROOT).as_posix(), {})
    setup = nbformat.v4.new_code_cell(setup_cell(modules, needs_repo, minimums))
    out.cells = [cells[0], intro, setup, *cells[1:]] \
        if cells and cells[0].cell_type == "markdown" else [intro, setup, *cells]
    out.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
        "accelerator": "GPU" if "torch" in modules else "None",
    }
    for i, c in enumerate(out.cells):
        c["id"] = f"cell-{i}"  # stable ids, so regenerating gives identical files
    return out


def target_of(page: Path) -> Path:
    return page.with_suffix(".ipynb")


def generate(check: bool = False) -> list[str]:
    """Write (or, with check=True, compare) every page's notebook; return the problems."""
    bib = _bib_entries()
    problems = []
    pages = notebook_pages()
    for page in pages:
        text = nbformat.writes(colab_notebook(page, bib=bib)) + "\n"
        target = target_of(page)
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        if check:
            if GLUED.sub("(glued)", old) != GLUED.sub("(glued)", text):
                diff = "".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                    str(target), "generated", n=1))
                problems.append(f"{target.relative_to(ROOT)} is out of date:\n{diff[:2000]}")
        elif old != text:
            target.write_text(text, encoding="utf-8")
    expected = {target_of(p) for p in pages}
    for stray in (ROOT / "book").rglob("*.ipynb"):
        if stray not in expected:
            problems.append(f"{stray.relative_to(ROOT)} has no page: delete it")
    return problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    problems = generate(check=check)
    for p in problems:
        print(p)
    if problems:
        print("Run `make colab` and commit the notebooks." if check else "")
        return 1
    print("Colab notebooks are up to date." if check else "Colab notebooks written.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
