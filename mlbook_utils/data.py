"""The bundled data sets of scikit-learn and statsmodels as tidy, named pandas frames.

Everything here ships inside an installed package: nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import datasets as skd

TASKS = ("classification", "regression", "time series")


@dataclass(frozen=True)
class Dataset:
    """A data set with its target named.

    Attributes
    ----------
    name:
        The name passed to :func:`load_dataset`.
    frame:
        All columns, features and target together.
    target:
        The name of the target column.
    task:
        ``"classification"``, ``"regression"`` or ``"time series"``.
    description:
        One line on what the rows are and where the data come from.
    """

    name: str
    frame: pd.DataFrame
    target: str
    task: str
    description: str

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 - the conventional name
        """The feature columns (every column except the target)."""
        return self.frame.drop(columns=self.target)

    @property
    def y(self) -> pd.Series:
        """The target column."""
        return self.frame[self.target]


def _sklearn(loader: Callable[..., object], target: str, **kwargs: object) -> pd.DataFrame:
    bunch = loader(as_frame=True, **kwargs)
    frame = bunch.frame.rename(columns={"target": target})  # type: ignore[attr-defined]
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    return frame


def _iris() -> pd.DataFrame:
    frame = _sklearn(skd.load_iris, "species")
    frame.columns = [c.replace("_(cm)", "_cm") for c in frame.columns]
    names = np.array(["setosa", "versicolor", "virginica"])
    frame["species"] = pd.Categorical(names[frame["species"].to_numpy()], categories=names)
    return frame


def _wine() -> pd.DataFrame:
    return _sklearn(skd.load_wine, "cultivar")


def _breast_cancer() -> pd.DataFrame:
    frame = _sklearn(skd.load_breast_cancer, "malignant")
    # scikit-learn codes benign as 1; the book makes the disease the positive class.
    frame["malignant"] = 1 - frame["malignant"]
    return frame


def _digits() -> pd.DataFrame:
    return _sklearn(skd.load_digits, "digit")


def _diabetes() -> pd.DataFrame:
    return _sklearn(skd.load_diabetes, "progression", scaled=False)


def _co2() -> pd.DataFrame:
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    frame.index.name = "date"
    return frame


def _sunspots() -> pd.DataFrame:
    from statsmodels.datasets import sunspots

    raw = sunspots.load_pandas().data
    index = pd.PeriodIndex(raw["YEAR"].astype(int).astype(str), freq="Y", name="year")
    return pd.DataFrame({"sunspots": raw["SUNACTIVITY"].to_numpy()}, index=index)


def _nile() -> pd.DataFrame:
    from statsmodels.datasets import nile

    raw = nile.load_pandas().data
    index = pd.PeriodIndex(raw["year"].astype(int).astype(str), freq="Y", name="year")
    return pd.DataFrame({"volume": raw["volume"].to_numpy()}, index=index)


def _longley() -> pd.DataFrame:
    from statsmodels.datasets import longley

    frame = longley.load_pandas().data
    frame.columns = [c.lower() for c in frame.columns]
    return frame


def _spector() -> pd.DataFrame:
    from statsmodels.datasets import spector

    frame = spector.load_pandas().data
    frame.columns = [c.lower() for c in frame.columns]
    frame["grade"] = frame["grade"].astype(int)
    frame["psi"] = frame["psi"].astype(int)
    return frame


# name -> (loader, target column, task, description)
_REGISTRY: dict[str, tuple[Callable[[], pd.DataFrame], str, str, str]] = {
    "iris": (_iris, "species", "classification",
             "150 iris flowers, 4 measurements in cm, 3 species (Fisher 1936)."),
    "wine": (_wine, "cultivar", "classification",
             "178 Italian wines, 13 chemical measurements, 3 cultivars (UCI)."),
    "breast_cancer": (_breast_cancer, "malignant", "classification",
                      "569 breast-mass biopsies, 30 image features; malignant = 1 (UCI WDBC)."),
    "digits": (_digits, "digit", "classification",
               "1,797 handwritten digits as 8x8 grey-level images (UCI optdigits)."),
    "diabetes": (_diabetes, "progression", "regression",
                 "442 diabetes patients, 10 baseline variables, disease progression after a year "
                 "(Efron et al. 2004)."),
    "co2": (_co2, "co2", "time series",
            "Weekly atmospheric CO2 at Mauna Loa in ppm, 1958-2001, with gaps."),
    "sunspots": (_sunspots, "sunspots", "time series",
                 "Yearly sunspot activity, 1700-2008."),
    "nile": (_nile, "volume", "time series",
             "Yearly flow volume of the Nile at Aswan, 1871-1970."),
    "longley": (_longley, "totemp", "regression",
                "16 years of US macro data (Longley 1967); famous for collinear features."),
    "spector": (_spector, "grade", "classification",
                "32 students: did grades improve after a new teaching method (Spector & "
                "Mazzeo 1980)."),
}


def list_datasets() -> pd.DataFrame:
    """Return the names of the bundled data sets with their target, task and size.

    Examples
    --------
    >>> "iris" in set(list_datasets()["name"])
    True
    """
    rows = []
    for name, (_, target, task, description) in _REGISTRY.items():
        rows.append({"name": name, "target": target, "task": task, "description": description})
    return pd.DataFrame(rows)


def load_dataset(name: str) -> Dataset:
    """Load a bundled data set as a :class:`Dataset` with a tidy frame and a named target.

    Parameters
    ----------
    name:
        One of the names listed by :func:`list_datasets`, for instance ``"breast_cancer"``.

    Returns
    -------
    Dataset
        ``.frame`` holds all columns; ``.X`` and ``.y`` split off the target.

    Notes
    -----
    ``breast_cancer`` codes *malignant* as 1 (scikit-learn codes *benign* as 1), so that the
    positive class is the one a screening test looks for. ``diabetes`` is unscaled (original
    units), ``iris.species`` is categorical with the species names.

    Examples
    --------
    >>> ds = load_dataset("iris")
    >>> ds.X.shape, ds.y.name
    ((150, 4), 'species')
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown data set {name!r}; known: {known}")
    loader, target, task, description = _REGISTRY[key]
    return Dataset(name=key, frame=loader(), target=target, task=task, description=description)
