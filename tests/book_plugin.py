"""pytest plugin for the book's notebooks under nbval.

- **Budget.** Each page must execute within its budget: 60 s by default, or ``budget_s`` from the
  page's front matter (``mlbook: {budget_s: 30}``). The last cell of a page over budget fails.
- **No stderr.** A cell that writes anything to stderr (a warning, a progress bar, a log line)
  fails, with the text shown: readers must never see a warning in the book.
- **Nothing left behind.** nbval runs each page with its notebook's folder as the working
  directory; any file a page leaves there (a model, a database, a log) fails the run.
- **Timings.** The seconds each page took (kernel start included) are printed at the end of the
  run as a table and written to ``_build/page-timings.md`` and ``_build/page-timings.json``.

Loaded for every pytest run through ``addopts`` in ``pyproject.toml``; it does nothing for tests
that are not notebook cells.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

DEFAULT_BUDGET_S = 60.0
TIMINGS_DIR_ENV = "MLBOOK_TIMINGS_DIR"


def _is_cell(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb" and hasattr(item, "cell")


def page_budget(nb_metadata: dict) -> float:
    """The time budget of a page in seconds, from its notebook metadata."""
    budget = (nb_metadata.get("mlbook") or {}).get("budget_s", DEFAULT_BUDGET_S)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
        raise ValueError(f"mlbook.budget_s must be a positive number of seconds, got {budget!r}")
    return float(budget)


class _WorkerState:
    """Per-process bookkeeping: seconds spent per page and the last cell of each page."""

    def __init__(self) -> None:
        self.seconds: dict[Path, float] = defaultdict(float)
        self.last_cell: dict[Path, str] = {}


_state = _WorkerState()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    for item in items:
        if _is_cell(item):
            _state.last_cell[item.path] = item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    if not _is_cell(item):
        return
    report = outcome.get_result()
    _state.seconds[item.path] += call.duration
    if call.when != "call" or not report.passed:
        return
    stderr = [
        out.get("text", "")
        for out in (getattr(item, "test_outputs", None) or [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    if stderr:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} wrote to stderr (a reader would see this in the book):\n"
            + "".join(stderr)
        )
        return
    if _state.last_cell.get(item.path) == item.nodeid:
        budget = page_budget(item.parent.nb.metadata)
        spent = _state.seconds[item.path]
        if spent > budget:
            report.outcome = "failed"
            report.longrepr = (
                f"{item.path.name} took {spent:.1f} s to execute, over its budget of "
                f"{budget:.0f} s: make the page's computation smaller."
            )


# ---- timing table, on the controller (or the only process without xdist) --------------------

_page_seconds: dict[str, float] = defaultdict(float)
_page_failed: dict[str, bool] = defaultdict(bool)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path, sep, _ = report.nodeid.partition("::")
    if not sep or not path.endswith(".ipynb"):
        return
    _page_seconds[path] += report.duration
    _page_failed[path] |= report.failed


def build_seconds(cache_dir: Path) -> dict[str, float]:
    """Seconds each page took to execute in the last site build, from myst-nb's cache."""
    if not cache_dir.is_dir():
        return {}
    from jupyter_cache import get_cache

    return {
        str(Path(r.uri).resolve()): float(r.data.get("execution_seconds", float("nan")))
        for r in get_cache(str(cache_dir)).list_cache_records()
    }


def _source_of(notebook: str) -> str:
    """`_build/notebooks/book/x/y.ipynb` -> `book/x/y.md` (the page it was converted from)."""
    path = Path(notebook)
    parts = path.parts
    if "notebooks" in parts:
        path = Path(*parts[parts.index("notebooks") + 1 :])
    return str(path.with_suffix(".md"))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _page_seconds or hasattr(config, "workerinput"):
        return
    out_dir = Path(os.environ.get(TIMINGS_DIR_ENV, "_build"))
    built = build_seconds(out_dir / ".jupyter_cache")
    records = []
    for notebook, seconds in sorted(_page_seconds.items(), key=lambda kv: kv[1], reverse=True):
        page = _source_of(notebook)
        records.append({
            "page": page,
            "nbval_seconds": round(seconds, 2),
            "build_seconds": round(built.get(str(Path(page).resolve()), float("nan")), 2),
            "status": "failed" if _page_failed[notebook] else "ok",
        })
    width = max(len(r["page"]) for r in records)
    tr = terminalreporter
    tr.write_sep("=", "page execution seconds (nbval: kernel start included; build: myst-nb cache)")
    tr.write_line(f"{'page'.ljust(width)}    nbval    build  status")
    for r in records:
        tr.write_line(
            f"{r['page'].ljust(width)}  {r['nbval_seconds']:7.1f}  {r['build_seconds']:7.1f}  {r['status']}"
        )
    tr.write_line(f"{'total'.ljust(width)}  {sum(r['nbval_seconds'] for r in records):7.1f}")
    if not out_dir.is_dir():
        return
    (out_dir / "page-timings.json").write_text(json.dumps(records, indent=2) + "\n")
    lines = ["| page | nbval (s) | build (s) | status |", "| --- | ---: | ---: | --- |"]
    lines += [
        f"| {r['page']} | {r['nbval_seconds']:.1f} | {r['build_seconds']:.1f} | {r['status']} |"
        for r in records
    ]
    (out_dir / "page-timings.md").write_text("\n".join(lines) + "\n")
    tr.write_line(f"written to {out_dir / 'page-timings.md'}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput") or not _page_seconds:
        return
    folders = {session.config.rootpath / Path(nodeid).parent for nodeid in _page_seconds}
    # A notebook folder may hold other chapters' notebook folders; anything else in it (a file,
    # or a folder without notebooks such as mlruns/) was left there by a page.
    def is_notebook_tree(path: Path) -> bool:
        return path.is_dir() and any(path.rglob("*.ipynb"))

    left = sorted(
        str(path) for folder in folders if folder.is_dir()
        for path in folder.iterdir()
        if not (path.suffix == ".ipynb" and path.is_file()) and not is_notebook_tree(path)
    )
    if left:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "pages left files behind in their working directory (use a temporary folder):\n  "
            + "\n  ".join(left), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
