"""Execute pages under several seeds and report, per seed, whether every cell ran.

``python -m tools.seeds book/02-algorithms/pca.md --seeds 0 1 2 3`` runs each page in a fresh
kernel and a temporary working directory with ``MLBOOK_SEED`` set, and prints a line per run:
the seed, the seconds it took, and the first failing cell's error (a failed hidden assertion
names the claim). ``make test`` executes every page under two seeds (the build's and
``TEST_SEED``); this tool is how an author checks a claim against more draws before trusting it.
Run one page at a time when timing matters: pages share the machine's two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def run(page: Path, seed: int, timeout: int = 120) -> tuple[bool, float, str]:
    """Execute ``page`` with ``MLBOOK_SEED=seed``; return (ok, seconds, message)."""
    nb = jupytext.read(page)
    old = os.environ.get("MLBOOK_SEED")
    os.environ["MLBOOK_SEED"] = str(seed)
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": tmp}})
            client.execute()
        stderr = [o.get("text", "") for c in nb.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("name") == "stderr"]
        if stderr:
            return False, time.perf_counter() - start, "stderr: " + stderr[0][:500]
        return True, time.perf_counter() - start, ""
    except CellExecutionError as exc:
        lines = [l for l in str(exc).splitlines() if l.strip()]
        return False, time.perf_counter() - start, "\n    ".join(lines[-6:])
    finally:
        if old is None:
            os.environ.pop("MLBOOK_SEED", None)
        else:
            os.environ["MLBOOK_SEED"] = old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    args = parser.parse_args(argv)
    failures = 0
    for page in args.pages:
        for seed in args.seeds:
            ok, seconds, message = run(page, seed)
            failures += not ok
            print(f"{page}  seed {seed}: {'ok    ' if ok else 'FAILED'} {seconds:6.1f} s"
                  + (f"\n    {message}" if message else ""), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
