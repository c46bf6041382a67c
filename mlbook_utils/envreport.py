"""What the book was run with: Python, the platform and the versions of its libraries."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable
from importlib import metadata

import pandas as pd

#: The distributions whose versions decide what the book's numbers are.
BOOK_PACKAGES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "matplotlib",
    "torch",
    "xgboost-cpu",
    "mlflow",
    "kfp",
    "fastapi",
    "onnxruntime",
    "jupyter-book",
    "myst-nb",
    "mlbook-utils",
)


def environment_report(packages: Iterable[str] | None = None) -> pd.DataFrame:
    """Return a table of the Python version, the platform and installed library versions.

    Parameters
    ----------
    packages:
        Distribution names as pip knows them (``"scikit-learn"``, not ``"sklearn"``). ``None``
        reports :data:`BOOK_PACKAGES`. A package that is not installed is listed as
        ``"not installed"`` rather than raising, so the report also works on Colab.

    Returns
    -------
    pandas.DataFrame
        Columns ``component`` and ``version``, one row per item, Python and platform first.

    Examples
    --------
    >>> report = environment_report(["numpy"])
    >>> list(report["component"])
    ['python', 'platform', 'cpu cores', 'numpy']
    """
    if packages is None:
        names = list(BOOK_PACKAGES)
    elif isinstance(packages, str):
        raise TypeError("packages must be a list of names, not a single string")
    else:
        names = list(packages)
        bad = [n for n in names if not isinstance(n, str) or not n.strip()]
        if bad:
            raise TypeError(f"package names must be non-empty strings, got {bad!r}")
    rows = [
        ("python", sys.version.split()[0]),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("cpu cores", str(os.cpu_count())),
    ]
    for name in names:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["component", "version"])
