"""One call that gives a page its seed and seeds every random number generator it may use."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

from mlbook_utils._validate import check_seed

#: Environment variable that sets the seed of every page (default 0). ``make book`` builds the
#: site with seed 0; ``make test`` executes every page again under another seed, so a claim that
#: holds for one draw only fails the tests.
SEED_ENV = "MLBOOK_SEED"


def page_seed() -> int:
    """The seed the environment asks for: ``$MLBOOK_SEED`` if set, else 0.

    Examples
    --------
    >>> import os
    >>> page_seed() == int(os.environ.get("MLBOOK_SEED", "0"))
    True
    """
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an integer in [0, 2**32 - 1], got {raw!r}") from None
    return check_seed(value)


def seed_everything(seed: int | None = None, *, torch: bool | None = None) -> int:
    """Seed Python's ``random``, NumPy's global state and (optionally) PyTorch; return the seed.

    Every page calls it once, first, and derives every random source from the returned seed
    (``random_state=SEED``, ``np.random.default_rng(SEED)``, ``seed=SEED + 1`` for a second
    independent draw), so the whole page changes draw when the seed changes.

    Parameters
    ----------
    seed:
        An integer in ``[0, 2**32 - 1]``. ``None`` (default) takes it from the environment
        variable ``MLBOOK_SEED``, or 0 when that is unset (see :func:`page_seed`).
    torch:
        ``True`` seeds PyTorch (CPU and every CUDA device), importing it if needed; ``False`` leaves
        it alone; ``None`` (default) seeds it only if it is already imported, so pages that never
        use PyTorch do not pay for importing it. When PyTorch is seeded and no GPU is present,
        ``torch.use_deterministic_algorithms(True)`` is switched on too, so a CPU run repeats
        exactly. On a GPU only cuDNN's autotuner is turned off: some CUDA kernels have no
        deterministic version, and insisting on one would make those pages fail there.

    Returns
    -------
    int
        The seed used.

    Examples
    --------
    >>> seed_everything(42)
    42
    >>> a = np.random.rand(); _ = seed_everything(42); a == np.random.rand()
    True
    """
    seed = page_seed() if seed is None else check_seed(seed)
    if torch is not None and not isinstance(torch, bool):
        raise TypeError(f"torch must be True, False or None, got {torch!r}")
    random.seed(seed)
    np.random.seed(seed)
    if torch or (torch is None and "torch" in sys.modules):
        import torch as _torch

        _torch.manual_seed(seed)  # also seeds every CUDA device
        if _torch.cuda.is_available():
            _torch.backends.cudnn.benchmark = False
        else:
            _torch.use_deterministic_algorithms(True)
    return seed
