"""Execute the book's pages on every core before Sphinx reads them from the cache.

``python -m tools.execute`` finds each notebook page whose code is not in myst-nb's execution
cache (``_build/.jupyter_cache``), executes the missing ones in parallel worker processes, and
stores each result in the cache exactly as myst-nb would (same notebook reader, same hash, same
temporary working directory, timeout and ``execution_seconds``). ``jupyter-book build`` then
finds every page cached and only renders. A page that fails here is not cached: the build
executes it again itself and reports the error, with its traceback, as it always has.

Pages are started longest first (from the last run's seconds), so two workers finish together.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

from tools.notebooks import ROOT, notebook_pages

CACHE = ROOT / "_build" / ".jupyter_cache"
LAST_SECONDS = ROOT / "_build" / "execution-seconds.json"


def _config() -> tuple[object, int]:
    from myst_parser.config.main import MdParserConfig

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    parse = config.get("parse", {})
    md = MdParserConfig(enable_extensions=set(parse.get("myst_enable_extensions", [])))
    return md, int(config.get("execute", {}).get("timeout", 30))


def read_as_myst_nb(page: Path):
    """The notebook myst-nb builds from ``page`` (what its cache hashes)."""
    from myst_nb.core.read import read_myst_markdown_notebook

    md, _ = _config()
    text = page.read_text(encoding="utf-8")
    return read_myst_markdown_notebook(text, config=md, add_source_map=True, path=str(page))


def missing(pages: list[Path]) -> list[Path]:
    """The pages whose current code has no executed copy in the cache."""
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    out = []
    for page in pages:
        try:
            cache.match_cache_notebook(read_as_myst_nb(page))
        except KeyError:
            out.append(page)
    return out


def execute(page: Path) -> tuple[str, float, str | None]:
    """Execute one page and cache it; return (page, seconds, error or None)."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    _, timeout = _config()
    nb = read_as_myst_nb(page)
    with tempfile.TemporaryDirectory() as cwd:
        result = single_nb_execution(nb, cwd=cwd, allow_errors=False, timeout=timeout,
                                     meta_override=True)
    if result.err is not None:
        return str(page), result.time, f"{type(result.err).__name__}: {result.err}"
    cache = get_cache(str(CACHE))
    for attempt in range(5):  # two workers may write the SQLite index at the same moment
        try:
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(page), data={"execution_seconds": result.time}),
                check_validity=False, overwrite=True)
            break
        except Exception:  # noqa: BLE001 - retried, then re-raised
            if attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    return str(page), result.time, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    todo = missing(notebook_pages())
    if not todo:
        print("execute: every page is in the cache")
        return 0
    last = json.loads(LAST_SECONDS.read_text()) if LAST_SECONDS.exists() else {}
    todo.sort(key=lambda p: last.get(str(p.relative_to(ROOT)), 1e9), reverse=True)
    print(f"execute: {len(todo)} pages on {args.jobs} workers", flush=True)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed([pool.submit(execute, p) for p in todo]):
            page, took, error = future.result()
            rel = str(Path(page).relative_to(ROOT))
            seconds[rel] = round(took, 2)
            print(f"  {took:6.1f} s  {rel}" + (f"  FAILED ({error.splitlines()[0][:120]})" if error else ""),
                  flush=True)
    wall = time.perf_counter() - start
    LAST_SECONDS.write_text(json.dumps({**last, **seconds}, indent=1, sort_keys=True) + "\n")
    print(f"execute: {sum(seconds.values()):.0f} s of page time in {wall:.0f} s of wall time")
    return 0  # failures are reported again, with tracebacks, by the build


if __name__ == "__main__":
    sys.exit(main())
