"""Colab as it really is: the versions a Colab runtime ships, and what a page needs beyond them.

Two files in ``tools/`` hold the facts:

- ``colab-stack.txt``: what Colab preinstalls (Python, the libraries, the kernel), copied with
  its date from Colab's published list;
- ``colab-minimums.toml``: the versions a page needs that are newer than Colab's, found by
  running the page on that stack (``python -m tools.colab_stack --run PAGE ...``).

``tools/colab.py`` writes each page's minimums into its set-up cell, which upgrades only what is
too old; ``tests/test_colab.py`` builds an environment from the stack (``build_env``) and runs
notebooks in it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tools.notebooks import ROOT

STACK = ROOT / "tools" / "colab-stack.txt"
MINIMUMS = ROOT / "tools" / "colab-minimums.toml"
# Left out of the environment: PyTorch has no CPU wheel of Colab's version for this Python (see
# the stack), and no page imports xgboost or shap yet (with their numba they are 400 MB).
NOT_INSTALLED = {"torch", "xgboost", "shap", "numba", "llvmlite", "slicer"}


def read_stack(path: Path = STACK) -> dict[str, dict[str, str]]:
    """The stack file as {section: {name: version}}; the [python] section maps "python".

    A name without a version (the [not shipped] section) maps to "".
    """
    section = ""
    sections: dict[str, dict[str, str]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            current = sections.setdefault(section, {})
        elif current is None:
            raise ValueError(f"{path}: {raw!r} comes before any [section]")
        elif "==" in line:
            name, version = line.split("==", 1)
            current[name.strip()] = version.strip()
        elif section == "python":
            current["python"] = line
        else:  # a name without a version ([not shipped])
            current[line] = ""
    return sections


def colab_version(pip_name: str) -> str | None:
    """The version Colab ships of a library (pip name, any case), or None if it ships none."""
    for section in ("libraries", "kernel", "dependencies"):
        for name, version in read_stack().get(section, {}).items():
            if name.lower().replace("_", "-") == pip_name.lower().replace("_", "-"):
                return version
    return None


def read_minimums(path: Path = MINIMUMS) -> dict[str, dict[str, str]]:
    """{page path relative to the repository: {pip name: minimum version}}."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    pages = data.get("pages", {})
    for page, needs in pages.items():
        if not (ROOT / page).is_file():
            raise ValueError(f"{path.name}: no page {page}")
        for pip, version in needs.items():
            if not re.fullmatch(r"\d+(\.\d+)*", str(version)):
                raise ValueError(f"{path.name}: {page}: {pip} = {version!r} is not a version")
    return pages


def version_tuple(version: str) -> tuple[int, ...]:
    """'1.6.1' -> (1, 6, 1); a local or pre-release suffix ('2.11.0+cu128', '1.8rc1') is cut."""
    match = re.match(r"\d+(\.\d+)*", version)
    if not match:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(p) for p in match.group().split("."))


def find_python(version: str) -> tuple[Path, str]:
    """An interpreter for the stack's Python: the same minor version if one is here, else this one.

    Returns the interpreter and a note saying which was used (the test prints it)."""
    major_minor = ".".join(version.split(".")[:2])
    candidates = [os.environ.get("MLBOOK_COLAB_PYTHON", ""), shutil.which(f"python{major_minor}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted((str(p / "bin" / "python") for p in pyenv.glob(f"{major_minor}.*")), reverse=True)
    for candidate in filter(None, candidates):
        if Path(candidate).is_file():
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip().startswith(major_minor + "."):
                return Path(candidate), f"Python {out.stdout.strip()} (Colab: {version})"
    here = sys.version.split()[0]
    return Path(sys.executable), f"Python {here}: no Python {major_minor} here (Colab: {version})"


def build_env(root: Path, wheels: Path) -> dict[str, object]:
    """A virtual environment under ``root`` holding what Colab preinstalls, at Colab's versions.

    ``wheels`` receives what the set-up cells may install (they run with the package index off):
    a wheel of mlbook_utils, the libraries Colab lacks that the pages under test import, and the
    upgrades that ``colab-minimums.toml`` asks for. Returns the venv, the Jupyter path holding a
    ``colab-like`` kernel and a note on the Python used.
    """
    stack = read_stack()
    python, note = find_python(stack["python"]["python"])
    venv = root / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    shipped = {**stack["libraries"], **stack["kernel"], **stack["dependencies"]}
    shipped = {n: v.split("+")[0] for n, v in shipped.items() if n not in NOT_INSTALLED | {"pip"}}
    # Colab's versions as constraints: pip adds what the list leaves out (small dependencies
    # such as platformdirs) but may not move any listed library off Colab's version.
    constraints = root / "colab-constraints.txt"
    constraints.write_text("".join(f"{n}=={v}\n" for n, v in shipped.items()))
    subprocess.run([*pip, "install", "--quiet", "--progress-bar", "off", "-c", str(constraints),
                    *shipped], check=True, capture_output=True)
    kernel_dir = root / "jupyter" / "kernels" / "colab-like"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1"},  # debugpy's frozen-modules notice
    }))
    return {"venv": venv, "python": venv / "bin" / "python", "pip": pip,
            "jupyter_path": root / "jupyter", "wheels": wheels, "note": note}


def installed_versions(python: Path) -> dict[str, str]:
    """{lower-case pip name: version} of what an environment holds."""
    out = subprocess.run([str(python), "-m", "pip", "list", "--format", "json",
                          "--disable-pip-version-check"], capture_output=True, text=True, check=True)
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out.stdout)}


def package_wheel(dest: Path) -> Path:
    """A wheel of mlbook_utils in ``dest``, built from a copy (setuptools leaves build/ behind)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, src / name)
        shutil.copytree(ROOT / "mlbook_utils", src / "mlbook_utils",
                        ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                        str(dest), str(src)], check=True, capture_output=True)
    return next(dest.glob("mlbook_utils-*.whl"))


def run_notebook(env: dict[str, object], notebook: Path, workdir: Path, *,
                 extra_env: dict[str, str] | None = None, timeout: int = 180) -> list[str]:
    """Execute a generated notebook on the colab-like kernel; return its errors (empty: ran)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    saved = {k: os.environ.get(k) for k in ["JUPYTER_PATH", *(extra_env or {})]}
    os.environ["JUPYTER_PATH"] = str(env["jupyter_path"])
    os.environ.update(extra_env or {})
    try:
        nb = nbformat.read(notebook, as_version=4)
        client = NotebookClient(nb, kernel_name="colab-like", timeout=timeout,
                                resources={"metadata": {"path": str(workdir)}})
        try:
            client.execute()
        except CellExecutionError as exc:
            return [str(exc).strip().splitlines()[-1]]
        finally:
            nbformat.write(nb, Path(workdir) / "executed.ipynb")  # for a look at what failed
        return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells
                for o in c.get("outputs", []) if o.output_type == "error"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _AnyNumber(dict):
    """Glued values for a notebook that is run, not read: every key is there, and is 0."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> int:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="print the stack and the minimums")
    parser.add_argument("--run", nargs="+", metavar="PAGE", type=Path,
                        help="run these pages' Colab notebooks on the stack and report")
    parser.add_argument("--env", type=Path, default=ROOT / "_build" / "colab-env",
                        help="where to build (and reuse) the environment")
    args = parser.parse_args(argv)
    if args.run:
        if not (args.env / "venv").exists():
            shutil.rmtree(args.env, ignore_errors=True)
            args.env.mkdir(parents=True)
            build_env(args.env, args.env / "wheels")
        env = {"venv": args.env / "venv", "jupyter_path": args.env / "jupyter"}
        for old_wheel in (args.env / "wheels").glob("mlbook_utils-*.whl"):
            old_wheel.unlink()
        wheel = package_wheel(args.env / "wheels")
        before = installed_versions(args.env / "venv" / "bin" / "python")
        import nbformat

        from tools.colab import colab_notebook

        for page in args.run:
            # As on Colab, the set-up cell installs mlbook_utils: from this checkout's wheel.
            subprocess.run([str(args.env / "venv" / "bin" / "python"), "-m", "pip", "uninstall",
                            "--quiet", "--yes", "mlbook_utils"], capture_output=True)
            shutil.rmtree(args.env / "ml-crash-course", ignore_errors=True)  # a needs_repo clone
            # The notebook as the pages make it now (text without glued numbers: they do not run).
            notebook = args.env / "notebook.ipynb"
            nbformat.write(colab_notebook(page.resolve(), glued=_AnyNumber()), notebook)
            # An upgrade installs the minimum itself, so that the floor is what gets tested.
            floors = args.env / "floors.txt"
            floors.write_text("".join(f"{pip}=={v}.*\n" for pip, v in
                                      read_minimums().get(page.as_posix(), {}).items()))
            errors = run_notebook(env, notebook, args.env, extra_env={
                "MLBOOK_UTILS_SPEC": str(wheel), "MLBOOK_REPO_URL": str(ROOT),
                "PIP_CONSTRAINT": str(floors)})
            after = installed_versions(args.env / "venv" / "bin" / "python")
            changed = {n: f"{before[n]} -> {v}" for n, v in after.items()
                       if n in before and before[n] != v}
            added = sorted(set(after) - set(before))
            print(f"{page}: {'ok' if not errors else errors[0][:300]}"
                  + (f"; upgraded {changed}" if changed else "")
                  + (f"; installed {len(added)} packages" if added else ""), flush=True)
            # Back to Colab's versions, so that the next page starts from the stack again.
            restore = [f"{n}=={before[n]}" for n in changed if n in before]
            if restore:
                subprocess.run([str(args.env / "venv" / "bin" / "python"), "-m", "pip", "install",
                                "--quiet", "--no-deps", *restore], check=True, capture_output=True)
    if args.show:
        stack = read_stack()
        print("Colab Python", stack["python"]["python"])
        for page, needs in read_minimums().items():
            print(page, ", ".join(f"{p}>={v} (Colab {colab_version(p)})" for p, v in needs.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
