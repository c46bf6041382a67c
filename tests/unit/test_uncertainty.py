import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from mlbook_utils import bootstrap_interval, compare_scores


def test_bootstrap_interval_covers_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    score = y + rng.normal(0, 1, 300)
    a = bootstrap_interval(roc_auc_score, y, score, seed=1)
    b = bootstrap_interval(roc_auc_score, y, score, seed=1)
    assert a == b
    assert a.low < a.estimate < a.high and a.estimate in a
    assert a.confidence == 0.95


def test_bootstrap_interval_narrows_with_more_cases():
    rng = np.random.default_rng(0)
    widths = []
    for n in (100, 1600):
        y = rng.integers(0, 2, n)
        pred = np.where(rng.random(n) < 0.8, y, 1 - y)
        ci = bootstrap_interval(accuracy_score, y, pred, seed=0)
        widths.append(ci.high - ci.low)
    assert widths[1] < widths[0] / 2


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"metric": "accuracy"}, TypeError),
    ({"y_pred": np.zeros(5)}, ValueError),
    ({"n_resamples": 10}, ValueError),
    ({"confidence": 1.0}, ValueError),
    ({"seed": -1}, ValueError),
])
def test_bootstrap_interval_rejects_bad_input(kwargs, error):
    args = {"metric": accuracy_score, "y_true": np.zeros(4), "y_pred": np.zeros(4), "seed": 0}
    with pytest.raises(error):
        bootstrap_interval(**{**args, **kwargs})


def test_compare_scores_tie_and_winner():
    a = [0.90, 0.92, 0.91, 0.93, 0.92]
    tie = compare_scores(a, [s - 0.001 for s in a[::-1]], test_fraction=0.2)
    assert tie.tied and tie.winner is None
    win = compare_scores(a, [s - 0.05 + 0.001 * i for i, s in enumerate(a)], test_fraction=0.2)
    assert not win.tied and win.winner == "a"
    assert compare_scores(a[::-1], a).difference == pytest.approx(0.0)


def test_correction_widens_the_standard_error():
    a, b = [0.9, 0.8, 0.85, 0.88], [0.86, 0.81, 0.83, 0.85]
    assert compare_scores(a, b, test_fraction=0.25).se > compare_scores(a, b).se


@pytest.mark.parametrize(("a", "b", "kwargs"), [
    ([0.9], [0.8], {}), ([0.9, 0.8], [0.8], {}), ([0.9, np.nan], [0.8, 0.7], {}),
    ([0.9, 0.8], [0.8, 0.7], {"k": 0}), ([0.9, 0.8], [0.8, 0.7], {"test_fraction": 1.5}),
])
def test_compare_scores_rejects_bad_input(a, b, kwargs):
    with pytest.raises(ValueError):
        compare_scores(a, b, **kwargs)
