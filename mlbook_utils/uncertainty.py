"""How sure a score is: bootstrap intervals for one test set, paired comparisons over folds.

Every comparison the book makes reports its spread, and a difference smaller than its noise is
called a tie. These two functions are what the pages need for that; the statistics themselves
come from SciPy (:func:`scipy.stats.bootstrap`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from mlbook_utils._validate import check_fraction, check_int, check_seed


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def bootstrap_interval(
    metric: Callable[..., float],
    y_true: Any,
    y_pred: Any,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int,
) -> Interval:
    """A bootstrap confidence interval for ``metric(y_true, y_pred)`` on one test set.

    Test cases are resampled with replacement, ``y_true`` and ``y_pred`` together (a paired
    bootstrap), and the percentile interval of the metric over the resamples is returned
    (Efron and Tibshirani 1993). It answers "how much would this score move on another test set
    of the same size", which a single split cannot.

    Parameters
    ----------
    metric:
        A scikit-learn style metric, ``metric(y_true, y_pred) -> float``.
    y_true, y_pred:
        Labels and predictions (or scores) of the same length, at least 2.
    n_resamples:
        Number of bootstrap resamples (at least 100).
    confidence:
        Confidence level, strictly between 0 and 1.
    seed:
        Seed of the resampling (pass the page's seed, or one derived from it).

    Returns
    -------
    Interval
        ``estimate`` (the metric on the whole test set), ``low``, ``high`` and ``confidence``.

    Examples
    --------
    >>> from sklearn.metrics import accuracy_score
    >>> y = np.array([0, 1] * 50); pred = y.copy(); pred[:20] = 1 - pred[:20]
    >>> ci = bootstrap_interval(accuracy_score, y, pred, seed=0)
    >>> ci.estimate, ci.low < 0.8 < ci.high
    (0.8, True)
    """
    if not callable(metric):
        raise TypeError(f"metric must be callable, got {type(metric).__name__}")
    n_resamples = check_int("n_resamples", n_resamples, minimum=100)
    confidence = check_fraction("confidence", confidence)
    seed = check_seed(seed)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or len(y_true) < 2:
        raise ValueError(
            "y_true and y_pred must be 1-D, of the same length, with at least 2 cases; got "
            f"shapes {y_true.shape} and {y_pred.shape}")
    result = stats.bootstrap(
        (y_true, y_pred), lambda t, p: metric(t, p), paired=True, vectorized=False,
        n_resamples=n_resamples, confidence_level=confidence, method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Interval(float(metric(y_true, y_pred)), float(ci.low), float(ci.high), confidence)


@dataclass(frozen=True)
class Comparison:
    """The paired difference of two models' scores over the same folds."""

    difference: float  #: mean of score_a - score_b
    se: float          #: its standard error (corrected for overlapping training sets)
    k: float           #: how many standard errors count as noise

    @property
    def tied(self) -> bool:
        """True when the difference is within ``k`` standard errors of zero."""
        return abs(self.difference) <= self.k * self.se

    @property
    def winner(self) -> str | None:
        """``"a"`` or ``"b"`` when one is ahead by more than ``k`` standard errors, else None."""
        if self.tied:
            return None
        return "a" if self.difference > 0 else "b"


def compare_scores(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    *,
    test_fraction: float | None = None,
    k: float = 2.0,
) -> Comparison:
    """Compare two models scored on the same folds (or repeats): mean difference and its SE.

    The folds' differences are paired, which removes the variation the folds share. Folds also
    share training data, so their differences are correlated and the textbook ``std / sqrt(n)``
    is too small; with ``test_fraction`` (the test share of each split, ``1/K`` for K-fold) the
    variance is inflated by ``1/n + test/train`` as Nadeau and Bengio (2003) propose.

    Parameters
    ----------
    scores_a, scores_b:
        Per-fold scores of the two models, on the same folds in the same order (at least 2).
    test_fraction:
        The share of the data each fold tests on, strictly between 0 and 1; ``None`` treats the
        folds as independent (right for scores on independent test sets only).
    k:
        Differences within ``k`` standard errors (default 2) are called a tie.

    Returns
    -------
    Comparison
        ``difference``, ``se``, ``k``, and the properties ``tied`` and ``winner``.

    Examples
    --------
    >>> c = compare_scores([0.91, 0.93, 0.92, 0.94, 0.90], [0.90, 0.93, 0.91, 0.92, 0.91],
    ...                    test_fraction=0.2)
    >>> round(c.difference, 3), c.tied
    (0.006, True)
    """
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise ValueError(
            "scores_a and scores_b must be 1-D, of the same length, with at least 2 folds; got "
            f"shapes {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite")
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not k > 0:
        raise ValueError(f"k must be a positive number, got {k!r}")
    d = a - b
    n = len(d)
    factor = 1 / n if test_fraction is None else 1 / n + (
        check_fraction("test_fraction", test_fraction) / (1 - test_fraction))
    se = math.sqrt(factor * float(d.var(ddof=1)))
    return Comparison(float(d.mean()), se, float(k))
