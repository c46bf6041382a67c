"""A train/validation/test split built from two calls to scikit-learn's ``train_test_split``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.model_selection import train_test_split

from mlbook_utils._validate import check_fraction, check_seed


def train_val_test_split(
    *arrays: Any,
    sizes: Sequence[float] = (0.6, 0.2, 0.2),
    stratify: Any | None = None,
    seed: int = 0,
) -> list[Any]:
    """Split arrays into training, validation and test parts in one call.

    Parameters
    ----------
    *arrays:
        One or more arrays, DataFrames or Series of the same length (as for
        :func:`sklearn.model_selection.train_test_split`).
    sizes:
        Fractions ``(train, validation, test)``; each strictly between 0 and 1, summing to 1.
    stratify:
        Class labels to keep in the same proportion in all three parts, or ``None``.
    seed:
        Seed for the shuffle.

    Returns
    -------
    list
        ``[a_train, a_val, a_test, b_train, b_val, b_test, ...]``, in the order of ``arrays``.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, sizes=(0.6, 0.2, 0.2))
    >>> len(y_tr), len(y_va), len(y_te)
    (6, 2, 2)
    """
    if not arrays:
        raise ValueError("train_val_test_split needs at least one array")
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) != 3:
        raise ValueError(f"sizes must be three fractions (train, val, test), got {sizes!r}")
    train, val, test = (check_fraction(f"sizes[{i}]", s) for i, s in enumerate(sizes))
    if abs(train + val + test - 1.0) > 1e-9:
        raise ValueError(f"sizes must sum to 1, got {train} + {val} + {test} = {train + val + test}")
    seed = check_seed(seed)
    lengths = {len(a) for a in arrays}
    if stratify is not None:
        lengths.add(len(stratify))
    if len(lengths) != 1:
        raise ValueError(f"all arrays (and stratify) must have the same length, got {sorted(lengths)}")

    n = lengths.pop()
    # Whole numbers of rows, rounded once, so (0.7, 0.15, 0.15) of 100 rows is exactly 70/15/15.
    n_test, n_val = round(test * n), round(val * n)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise ValueError(f"{n} rows are too few to split into {sizes!r}: a part would be empty")

    n_arrays = len(arrays)
    extra = [stratify] if stratify is not None else []
    # First cut off the test part, then split the rest into train and validation.
    first = train_test_split(*arrays, *extra, test_size=n_test, random_state=seed, stratify=stratify)
    rest, test_parts = first[0::2], first[1::2]
    strat_rest = rest[n_arrays] if stratify is not None else None
    second = train_test_split(
        *rest[:n_arrays],
        test_size=n_val,
        random_state=seed,
        stratify=strat_rest,
    )
    out: list[Any] = []
    for i in range(n_arrays):
        out.extend([second[2 * i], second[2 * i + 1], test_parts[i]])
    return out
