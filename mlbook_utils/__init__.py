"""Helpers shared by the pages of *AI/ML Crash Course: From Fundamentals to Production*.

The package carries what several pages need and what would distract from a lesson: loading the
bundled data sets as tidy frames, the synthetic data the book reuses, a three-way split, seeding,
the figure style, model comparison and an environment report. It never re-implements what
scikit-learn, PyTorch or matplotlib already provide.

Submodules are imported on first use, so ``from mlbook_utils import make_churn`` does not pay
for matplotlib or scikit-learn's data loaders (this matters in pipeline components and servers,
which start a fresh process per task).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "ChurnFeatures": "churn",
    "build_churn_pipeline": "churn",
    "compare_models": "compare",
    "plot_decision_regions": "compare",
    "History": "deep",
    "evaluate": "deep",
    "fit": "deep",
    "get_device": "deep",
    "make_loader": "deep",
    "predict": "deep",
    "Dataset": "data",
    "list_datasets": "data",
    "load_dataset": "data",
    "environment_report": "envreport",
    "library_versions": "envreport",
    "page_seed": "seeding",
    "seed_everything": "seeding",
    "train_val_test_split": "split",
    "PALETTE": "style",
    "use_book_style": "style",
    "make_churn": "synthetic",
    "Comparison": "uncertainty",
    "Interval": "uncertainty",
    "bootstrap_interval": "uncertainty",
    "compare_scores": "uncertainty",
    "make_sine_data": "synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"mlbook_utils.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlbook_utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # for type checkers and IDEs: the names as if imported eagerly
    from mlbook_utils.churn import ChurnFeatures, build_churn_pipeline
    from mlbook_utils.compare import compare_models, plot_decision_regions
    from mlbook_utils.deep import History, evaluate, fit, get_device, make_loader, predict
    from mlbook_utils.data import Dataset, list_datasets, load_dataset
    from mlbook_utils.envreport import environment_report, library_versions
    from mlbook_utils.seeding import page_seed, seed_everything
    from mlbook_utils.split import train_val_test_split
    from mlbook_utils.style import PALETTE, use_book_style
    from mlbook_utils.synthetic import make_churn, make_sine_data
    from mlbook_utils.uncertainty import Comparison, Interval, bootstrap_interval, compare_scores
