"""The notebooks behind the Colab and Binder buttons: in sync with the pages, and runnable.

The runnable check builds a fresh virtual environment holding what Colab preinstalls, at the
versions Colab ships (``tools/colab-stack.txt``, on Colab's Python where this machine has it),
and runs generated notebooks top to bottom in it. The notebook's own set-up cell must install
the rest, and upgrade what a page needs newer (``tools/colab-minimums.toml``), from local files
only (the package index is switched off), so a missing install step or a too-old library fails
here and not in a reader's Colab session.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.conftest import ROOT, notebook_pages
from tools.colab import generate, setup_cell, target_of
from tools.colab_stack import (STACK, build_env, colab_version, installed_versions, package_wheel,
                               read_minimums, read_stack, run_notebook, version_tuple)


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


def test_the_stack_file_is_complete_and_dated():
    stack = read_stack()
    assert re.fullmatch(r"3\.\d+\.\d+", stack["python"]["python"])
    assert re.search(r"as of \w+ 20\d\d", STACK.read_text()), "the stack says when it was copied"
    for name in ("numpy", "pandas", "scikit-learn", "matplotlib", "ipykernel"):
        assert colab_version(name), f"{name} is missing from the stack"
    # Every library the set-up cells may install is either on the stack or listed as not shipped.
    shipped = {n.lower().replace("_", "-") for sec in ("libraries", "kernel", "dependencies")
               for n in stack[sec]}
    assert set(stack["not shipped"]).isdisjoint(shipped)


def test_every_minimum_is_newer_than_what_colab_ships():
    """A floor that Colab already meets is stale: the page would upgrade for nothing."""
    minimums = read_minimums()
    assert minimums, "no page needs an upgrade? then colab-minimums.toml is stale"
    for page, needs in minimums.items():
        for pip, floor in needs.items():
            shipped = colab_version(pip)
            assert shipped is not None, f"{page}: Colab ships no {pip}"
            assert version_tuple(shipped) < version_tuple(floor), f"{page}: Colab's {pip} {shipped} >= {floor}"
            book = _pins()[pip.lower()]
            assert version_tuple(book) >= version_tuple(floor), f"{page}: the book's {pip} is older"


def test_setup_cell_upgrades_only_what_is_too_old():
    """The generated cell, run with pip replaced by a recorder: what would it install?"""
    import sklearn  # noqa: F401  (imported before the cell runs, as after a first run)

    cell = setup_cell({"sklearn", "numpy"}, minimums={"scikit-learn": "99.0", "numpy": "1.0"})
    calls = []
    fake_run = lambda args, check: calls.append(args)  # noqa: E731
    namespace = {"__name__": "setup"}
    code = cell.replace("subprocess.run(", "fake_run(")
    namespace["fake_run"] = fake_run
    with pytest.raises(RuntimeError, match="restart the session"):  # sklearn is imported here
        exec(compile(code, "setup", "exec"), namespace)
    installs = [args for args in calls if "install" in args]
    assert len(installs) == 1 and "scikit-learn>=99.0" in installs[0]
    assert not any(a.startswith("numpy") for a in installs[0]), "numpy is new enough: left alone"


# Generated notebooks run on the stack: the first two need nothing newer than Colab ships (and
# must leave its versions alone); the last gets its floor from tools/colab-minimums.toml.
RUN_AS_SHIPPED = ["book/01-core-concepts/what-is-ml.md", "book/01-core-concepts/pipeline.md"]
RUN_WITH_UPGRADE = "book/02-algorithms/logistic-regression.md"


@pytest.fixture(scope="module")
def colab_stack_env(tmp_path_factory):
    """A fresh venv holding what Colab preinstalls, at Colab's versions (tools/colab-stack.txt),
    on Colab's Python where this machine has it; beside it, a folder of the wheels the set-up
    cells may install (the package index is off while they run)."""
    root = tmp_path_factory.mktemp("colab")
    wheels = root / "wheels"
    env = build_env(root, wheels)
    package_wheel(wheels)
    pins = _pins()
    floors = [f"{pip}=={floor}.*" for pip, floor in read_minimums()[RUN_WITH_UPGRADE].items()]
    # skops and onnxruntime: what the pipeline page's import of mlbook_utils.serving makes its
    # set-up cell install (tools/colab.py, SUBMODULE_NEEDS) and Colab lacks, at the book's pins.
    subprocess.run([*env["pip"], "download", "--quiet", "--progress-bar", "off", "--dest",
                    str(wheels), f"skops=={pins['skops']}", f"onnxruntime=={pins['onnxruntime']}",
                    *floors], check=True, capture_output=True)
    print(env["note"])
    return env


def _run(env, page, monkeypatch):
    monkeypatch.setenv("MLBOOK_UTILS_SPEC", str(next(env["wheels"].glob("mlbook_utils-*.whl"))))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(env["wheels"]))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    workdir = env["venv"].parent / Path(page).stem
    workdir.mkdir()
    return run_notebook(env, target_of(ROOT / page), workdir)


def test_pages_run_on_colab_as_it_ships(colab_stack_env, monkeypatch):
    env = colab_stack_env
    python = env["python"]
    stack = {n.lower().replace("_", "-"): v.split("+")[0] for sec in ("libraries", "kernel", "dependencies")
             for n, v in read_stack()[sec].items()}
    before = installed_versions(python)
    assert before["scikit-learn"] == stack["scikit-learn"] and before["pandas"] == stack["pandas"]
    for page in RUN_AS_SHIPPED:
        assert page not in read_minimums()
        errors = _run(env, page, monkeypatch)
        assert not errors, f"{page} on Colab's stack: {errors}"
        after = installed_versions(python)
        moved = {n: (v, after.get(n)) for n, v in before.items() if n in stack and after.get(n) != v}
        assert not moved, f"{page} changed Colab's libraries: {moved}"
    assert "mlbook-utils" in installed_versions(python), "the set-up cell installs mlbook_utils"

    floor = read_minimums()[RUN_WITH_UPGRADE]
    errors = _run(env, RUN_WITH_UPGRADE, monkeypatch)
    assert not errors, f"{RUN_WITH_UPGRADE} on Colab's stack: {errors}"
    after = installed_versions(python)
    for pip, version in floor.items():
        got = after[pip.lower()]
        assert version_tuple(got)[:len(version_tuple(version))] == version_tuple(version), \
            f"the set-up cell should have installed the floor {pip} {version}, got {got}"
