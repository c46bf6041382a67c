"""What the book was run with: Python, the platform and the versions of its libraries.

:func:`library_versions` is the one place that looks versions up: :func:`environment_report`
tables it for the book's status page, and :mod:`mlbook_utils.versioning` stores it with every
saved model.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from importlib import metadata

import pandas as pd

from mlbook_utils._validate import check_strings

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


def library_versions(packages: Iterable[str] | None = None) -> dict[str, str]:
    """Return the Python version and the installed version of each distribution.

    Parameters
    ----------
    packages:
        Distribution names as pip knows them (``"scikit-learn"``, not ``"sklearn"``). ``None``
        reports :data:`BOOK_PACKAGES`. A package that is not installed is reported as
        ``"not installed"`` rather than raising, so the report also works on Colab.

    Returns
    -------
    dict
        ``{"python": "3.11.7", name: version, ...}``: Python first, then the packages in the
        order given.

    Examples
    --------
    >>> versions = library_versions(["numpy", "surely-not-installed"])
    >>> list(versions), versions["surely-not-installed"]
    (['python', 'numpy', 'surely-not-installed'], 'not installed')
    """
    names = list(BOOK_PACKAGES) if packages is None else check_strings("packages", packages)
    versions = {"python": platform.python_version()}
    for name in names:
        if name == "python":  # reported above; no distribution has that name
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment_report(packages: Iterable[str] | None = None) -> pd.DataFrame:
    """Return a table of the Python version, the platform and installed library versions.

    Parameters
    ----------
    packages:
        As for :func:`library_versions`: distribution names, ``None`` for
        :data:`BOOK_PACKAGES`.

    Returns
    -------
    pandas.DataFrame
        Columns ``component`` and ``version``, one row per item: Python, the platform and the
        number of CPU cores first, then the packages.

    Examples
    --------
    >>> report = environment_report(["numpy"])
    >>> list(report["component"])
    ['python', 'platform', 'cpu cores', 'numpy']
    """
    versions = library_versions(packages)
    rows = [
        ("python", versions.pop("python")),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("cpu cores", str(os.cpu_count())),
        *versions.items(),
    ]
    return pd.DataFrame(rows, columns=["component", "version"])
