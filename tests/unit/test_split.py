import numpy as np
import pandas as pd
import pytest

from mlbook_utils import train_val_test_split


def test_sizes_and_disjointness():
    X = np.arange(200).reshape(100, 2)
    y = np.arange(100)
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, sizes=(0.7, 0.15, 0.15))
    assert (len(y_tr), len(y_va), len(y_te)) == (70, 15, 15)
    assert set(y_tr) | set(y_va) | set(y_te) == set(range(100))
    assert not (set(y_tr) & set(y_va) or set(y_tr) & set(y_te) or set(y_va) & set(y_te))
    # Rows stay aligned across arrays.
    np.testing.assert_array_equal(X_va[:, 0] // 2, y_va)


def test_reproducible_and_seeded():
    y = np.arange(50)
    a = train_val_test_split(y, seed=1)
    b = train_val_test_split(y, seed=1)
    c = train_val_test_split(y, seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_stratify_keeps_class_proportions():
    y = pd.Series([0] * 80 + [1] * 20)
    parts = train_val_test_split(y, sizes=(0.6, 0.2, 0.2), stratify=y, seed=0)
    for part in parts:
        assert part.mean() == pytest.approx(0.2)


def test_pandas_in_pandas_out():
    df = pd.DataFrame({"a": range(30)})
    tr, va, te = train_val_test_split(df)
    assert isinstance(tr, pd.DataFrame) and len(tr) + len(va) + len(te) == 30


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((), {}, ValueError, "at least one array"),
        ((np.arange(10),), {"sizes": (0.5, 0.5)}, ValueError, "three fractions"),
        ((np.arange(10),), {"sizes": (0.5, 0.3, 0.3)}, ValueError, "must sum to 1"),
        ((np.arange(10),), {"sizes": (1.0, 0.0, 0.0)}, ValueError, "strictly between 0 and 1"),
        ((np.arange(10),), {"sizes": "abc"}, ValueError, "three fractions"),
        ((np.arange(10), np.arange(9)), {}, ValueError, "same length"),
        ((np.arange(10),), {"stratify": np.arange(5)}, ValueError, "same length"),
        ((np.arange(10),), {"seed": -3}, ValueError, "seed must be >= 0"),
        ((np.arange(4),), {"sizes": (0.8, 0.1, 0.1)}, ValueError, "too few"),
    ],
)
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_val_test_split(*args, **kwargs)
