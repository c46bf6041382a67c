"""Side-by-side comparisons of fitted models: one table, one figure, the same folds for all."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from sklearn.base import is_classifier
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.model_selection import cross_validate
from sklearn.utils.validation import check_is_fitted

from mlbook_utils.style import PALETTE


def compare_models(
    models: Mapping[str, Any],
    X: Any,
    y: Any,
    *,
    cv: Any = 5,
    scoring: str | None = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Cross-validate several models on the same folds and tabulate score and time.

    A thin layer over :func:`sklearn.model_selection.cross_validate`: every model sees the same
    splits, and the table reports what choosing between them needs.

    Parameters
    ----------
    models:
        ``{name: estimator}``; each estimator is cloned for every fold.
    X, y:
        The data.
    cv:
        Number of folds (at least 2) or a scikit-learn splitter. An integer gives stratified
        folds for classifiers, as in scikit-learn.
    scoring:
        A scikit-learn scorer name, or ``None`` for each model's default ``score`` (accuracy for
        classifiers, R² for regressors).
    n_jobs:
        Parallel jobs for the folds, as in scikit-learn.

    Returns
    -------
    pandas.DataFrame
        One row per model (index = name) with ``score_mean``, ``score_std`` (over folds),
        ``fit_s`` and ``predict_s`` (mean seconds per fold to fit, and to predict and score the
        held-out fold). Times are wall-clock and vary between runs and machines: compare them
        within one table, by orders of magnitude.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> table = compare_models({"dummy": DummyClassifier(),
    ...                         "tree": DecisionTreeClassifier(random_state=0)}, X, y)
    >>> list(table.columns)
    ['score_mean', 'score_std', 'fit_s', 'predict_s']
    >>> bool(table.loc["tree", "score_mean"] > table.loc["dummy", "score_mean"])
    True
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty mapping {name: estimator}")
    for name, model in models.items():
        if not isinstance(name, str):
            raise TypeError(f"model names must be strings, got {name!r}")
        if not hasattr(model, "fit"):
            raise TypeError(f"models[{name!r}] is not an estimator (it has no fit method)")
    if isinstance(cv, bool) or (isinstance(cv, numbers.Integral) and cv < 2):
        raise ValueError(f"cv must be at least 2 folds, got {cv!r}")
    rows = {}
    for name, model in models.items():
        res = cross_validate(model, X, y, cv=cv, scoring=scoring, n_jobs=n_jobs)
        rows[name] = {
            "score_mean": float(np.mean(res["test_score"])),
            "score_std": float(np.std(res["test_score"])),
            "fit_s": float(np.mean(res["fit_time"])),
            "predict_s": float(np.mean(res["score_time"])),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def plot_decision_regions(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    ax: Axes | None = None,
    response_method: str = "predict",
    title: str | None = None,
    alpha: float = 0.25,
    grid_resolution: int = 200,
    contours: Sequence[float] | None = None,
) -> Axes:
    """Draw a fitted classifier's decision regions over two features, with the data on top.

    Uses :class:`sklearn.inspection.DecisionBoundaryDisplay` for the regions and colours each
    class the same in the regions and in the points, so several panels read alike.

    Parameters
    ----------
    estimator:
        A fitted classifier trained on exactly the two columns of ``X``.
    X:
        Array or DataFrame with two columns (the axes of the plot).
    y:
        Class labels of the rows of ``X`` (drawn as coloured points).
    ax:
        Axes to draw into; a new figure is made if ``None``.
    response_method:
        ``"predict"`` (default) colours regions by predicted class; for a binary classifier
        ``"decision_function"`` or ``"predict_proba"`` shade by the score instead.
    title:
        Axes title.
    alpha:
        Opacity of the regions, between 0 and 1.
    grid_resolution:
        Grid points per axis (at least 10).
    contours:
        Score levels to trace as black lines, from the same grid (no second pass over it): for
        example ``[-1, 0, 1]`` with ``"decision_function"`` draws an SVM's boundary solid and
        its margins dashed. Needs a score ``response_method``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    check_is_fitted(estimator)
    if not is_classifier(estimator):
        raise TypeError(f"estimator must be a classifier, got {type(estimator).__name__}")
    X_arr = np.asarray(X)
    if X_arr.ndim != 2 or X_arr.shape[1] != 2:
        raise ValueError(f"X must have exactly two columns (the plot's axes), got shape {X_arr.shape}")
    y_arr = np.asarray(y)
    if y_arr.shape != (X_arr.shape[0],):
        raise ValueError(f"y must hold one label per row of X: {y_arr.shape} vs {X_arr.shape[0]} rows")
    if response_method not in {"predict", "decision_function", "predict_proba"}:
        raise ValueError(
            "response_method must be 'predict', 'decision_function' or 'predict_proba', "
            f"got {response_method!r}"
        )
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if grid_resolution < 10:
        raise ValueError(f"grid_resolution must be at least 10, got {grid_resolution}")
    classes = list(estimator.classes_)
    if len(classes) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} classes can be drawn, got {len(classes)}")
    if response_method != "predict" and len(classes) != 2:
        raise ValueError(f"response_method={response_method!r} needs a binary classifier")
    if contours is not None:
        if response_method == "predict":
            raise ValueError("contours need a score: pass response_method='decision_function' "
                             "or 'predict_proba'")
        levels = sorted(float(level) for level in contours)
        if not levels:
            raise ValueError("contours must list at least one level")

    if ax is None:
        _, ax = plt.subplots()
    colours = list(PALETTE[: len(classes)])
    if len(classes) > 2:
        # scikit-learn colours each class's region with its own colour.
        extra: dict[str, Any] = {"multiclass_colors": colours}
    elif response_method == "predict":
        # One flat colour per predicted class, matching the points of that class.
        extra = {"cmap": ListedColormap(colours), "levels": [-0.5, 0.5, 1.5]}
    else:
        extra = {"cmap": "RdBu_r"}
    display = DecisionBoundaryDisplay.from_estimator(
        estimator, X, response_method=response_method, grid_resolution=grid_resolution,
        alpha=alpha, ax=ax, **extra,
    )
    if contours is not None:
        neutral = 0.5 if response_method == "predict_proba" else 0.0  # where the boundary lies
        ax.contour(display.xx0, display.xx1, display.response, levels=levels, colors="black",
                   linewidths=1, linestyles=["-" if v == neutral else "--" for v in levels])
    for colour, cls in zip(colours, classes):
        inside = y_arr == cls
        ax.scatter(X_arr[inside, 0], X_arr[inside, 1], s=16, color=colour, edgecolor="white",
                   linewidth=0.5, label=str(cls))
    if isinstance(X, pd.DataFrame):
        ax.set(xlabel=str(X.columns[0]), ylabel=str(X.columns[1]))
    if title:
        ax.set_title(title)
    ax.legend(title="class", loc="best")
    return ax
