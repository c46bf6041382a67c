"""The notebooks behind the Colab and Binder buttons: in sync with the pages, and runnable.

The runnable check builds a wheel of mlbook_utils and runs generated notebooks top to bottom in
a fresh virtual environment holding only what Colab preinstalls. The notebook's own set-up cell
must install the rest, from local files only (the package index is switched off), so a missing
install step fails here and not in a reader's Colab session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT, notebook_pages
from tools.colab import generate, target_of

# What a Colab runtime has before any install (the relevant part): taken at the book's pins.
COLAB_PREINSTALLED = ["numpy", "pandas", "scikit-learn", "matplotlib", "torch", "ipykernel"]
# Generated notebooks run in the fresh environment (each must run top to bottom there).
RUN_IN_FRESH_ENV = ["book/01-core-concepts/what-is-ml.md", "book/01-core-concepts/pipeline.md"]


def test_generated_notebooks_are_up_to_date():
    problems = generate(check=True)
    assert not problems, "\n".join(problems) + "\nRun `make colab` and commit the notebooks."


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_starts_with_the_setup_cell(page):
    nb = nbformat.read(target_of(page), as_version=4)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "install what this runtime lacks" in setup.source
    assert '"torch"' not in setup.source.split("missing =")[0], "torch must never be installed"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{glue" not in text and "{footcite" not in text and "```{" not in text


@pytest.mark.parametrize("page", notebook_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_that_read_the_repository_clone_it_on_colab(page):
    """A page that reads files beside the package (deploy/) works only in a checkout: its
    front matter must say so, and then its notebook clones the repository."""
    text = page.read_text()
    reads_repo = "mlbook_utils.__file__" in text
    declares = "needs_repo: true" in text.split("\n---", 1)[0]
    assert reads_repo == declares, "set `mlbook: {needs_repo: true}` exactly when the page reads the checkout"
    setup = next(c for c in nbformat.read(target_of(page), as_version=4).cells if c.cell_type == "code")
    compile(setup.source, "setup", "exec")
    assert ('"git", "clone"' in setup.source) == declares
    if declares:
        assert '"mlbook_utils":' not in setup.source, "installed from the clone, not from the git URL"


def test_literalinclude_becomes_the_files_text():
    page = ROOT / "book" / "08-production" / "docker.md"
    markdown = "\n".join(c.source for c in nbformat.read(target_of(page), as_version=4).cells
                         if c.cell_type == "markdown")
    for path in ("deploy/Dockerfile", ".dockerignore", "deploy/compose.yaml"):
        first = next(line for line in (ROOT / path).read_text().splitlines() if line.strip())
        assert first in markdown, f"{path} is not shown in the Colab notebook"


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


@pytest.fixture(scope="module")
def colab_like_env(tmp_path_factory):
    """A fresh venv with only Colab's preinstalled libraries, a wheel of mlbook_utils beside."""
    root = tmp_path_factory.mktemp("colab")
    wheels = root / "wheels"
    # Build from a copy: setuptools leaves a build/ folder wherever it builds.
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mlbook_utils", src / "mlbook_utils",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(wheels), str(src)], check=True, capture_output=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pins = _pins()
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--progress-bar", "off",
                    *[f"{p}=={pins[p]}" for p in COLAB_PREINSTALLED]],
                   check=True, capture_output=True)
    # What the set-up cells of the pages run here install beyond Colab's libraries (the serving
    # schema of the pipeline page needs fastapi and skops), fetched once into the wheel folder:
    # the cells themselves may install only from there.
    extra = [f"{p}=={pins[p]}" for p in ("fastapi", "skops")]
    subprocess.run([str(venv / "bin" / "pip"), "download", "--quiet", "--progress-bar", "off",
                    "--dest", str(wheels), *extra,
                    *[f"{p}=={pins[p]}" for p in COLAB_PREINSTALLED if p != "torch"]],
                   check=True, capture_output=True)
    kernel_dir = root / "jupyter" / "kernels" / "colab-like"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
    }))
    return {"venv": venv, "wheels": wheels, "jupyter_path": root / "jupyter",
            "wheel": next(wheels.glob("mlbook_utils-*.whl"))}


@pytest.mark.parametrize("page", RUN_IN_FRESH_ENV)
def test_notebook_runs_in_a_fresh_colab_like_env(colab_like_env, page, monkeypatch):
    env = colab_like_env
    probe = [str(env["venv"] / "bin" / "python"), "-c", "import mlbook_utils"]
    monkeypatch.setenv("JUPYTER_PATH", str(env["jupyter_path"]))
    # The set-up cell may install only from the local wheel directory: no package index.
    monkeypatch.setenv("MLBOOK_UTILS_SPEC", str(env["wheel"]))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(env["wheels"]))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    nb = nbformat.read(target_of(ROOT / page), as_version=4)
    client = NotebookClient(nb, kernel_name="colab-like", timeout=120,
                            resources={"metadata": {"path": str(env["venv"].parent)}})
    client.execute()
    assert subprocess.run(probe).returncode == 0, "the set-up cell did not install mlbook_utils"
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
