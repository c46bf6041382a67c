"""Helpers shared by the pages of *AI/ML Crash Course: From Fundamentals to Production*.

The package carries what several pages need and what would distract from a lesson: loading the
bundled data sets as tidy frames, the synthetic data the book reuses, a three-way split, seeding,
the figure style and an environment report. It never re-implements what scikit-learn, PyTorch or
matplotlib already provide.
"""

from mlbook_utils.churn import ChurnFeatures, build_churn_pipeline
from mlbook_utils.compare import compare_models, plot_decision_regions
from mlbook_utils.data import Dataset, list_datasets, load_dataset
from mlbook_utils.envreport import environment_report
from mlbook_utils.seeding import seed_everything
from mlbook_utils.split import train_val_test_split
from mlbook_utils.style import PALETTE, use_book_style
from mlbook_utils.synthetic import make_churn, make_sine_data

__all__ = [
    "PALETTE",
    "ChurnFeatures",
    "Dataset",
    "build_churn_pipeline",
    "compare_models",
    "environment_report",
    "list_datasets",
    "load_dataset",
    "make_churn",
    "make_sine_data",
    "plot_decision_regions",
    "seed_everything",
    "train_val_test_split",
    "use_book_style",
]

__version__ = "0.1.0"
