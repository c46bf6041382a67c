"""One call that seeds every random number generator a page may use."""

from __future__ import annotations

import random
import sys

import numpy as np

from mlbook_utils._validate import check_seed


def seed_everything(seed: int = 0, *, torch: bool | None = None) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and (optionally) PyTorch.

    Parameters
    ----------
    seed:
        An integer in ``[0, 2**32 - 1]``.
    torch:
        ``True`` seeds PyTorch (CPU and every CUDA device), importing it if needed; ``False`` leaves
        it alone; ``None`` (default) seeds it only if it is already imported, so pages that never
        use PyTorch do not pay for importing it.

    Returns
    -------
    numpy.random.Generator
        A fresh generator seeded with ``seed``. Prefer passing it (or ``seed``) explicitly to the
        code that draws random numbers over relying on global state.

    Examples
    --------
    >>> rng = seed_everything(42)
    >>> float(rng.random()) == float(np.random.default_rng(42).random())
    True
    """
    seed = check_seed(seed)
    if torch is not None and not isinstance(torch, bool):
        raise TypeError(f"torch must be True, False or None, got {torch!r}")
    random.seed(seed)
    np.random.seed(seed)
    if torch or (torch is None and "torch" in sys.modules):
        import torch as _torch

        _torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)
