"""Argument checks shared by the public functions, so every error message has one shape."""

from __future__ import annotations

import numbers


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` if it is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_seed(value: object) -> int:
    """Return ``value`` if numpy accepts it as a seed: an int in [0, 2**32 - 1]."""
    seed = check_int("seed", value, minimum=0)
    if seed > 2**32 - 1:
        raise ValueError(f"seed must be <= 2**32 - 1, got {seed}")
    return seed


def check_fraction(name: str, value: object, *, open_interval: bool = True) -> float:
    """Return ``value`` as a float strictly between 0 and 1 (or in [0, 1])."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    ok = 0.0 < v < 1.0 if open_interval else 0.0 <= v <= 1.0
    if not ok:
        bounds = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        raise ValueError(f"{name} must be {bounds}, got {v}")
    return v
