"""Argument checks shared by the public functions, so every error message has one shape."""

from __future__ import annotations

import math
import numbers
import re


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


_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a safe model name: 1-64 lowercase letters, digits, '-' or '_'.

    The name becomes a folder of the model store, so it must not contain a path separator,
    ``..`` or anything else a file system gives a meaning to.
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"{what} must be 1-64 lowercase letters, digits, '-' or '_', got {value!r}")
    return value


def check_version(value: object, what: str = "version") -> int | str:
    """Return ``value`` if it names a model version: ``"latest"`` or an int of at least 1."""
    if value == "latest":
        return "latest"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int or 'latest', got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be >= 1, got {value}")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is ``True`` or ``False`` (a string such as ``"false"`` is refused)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number greater than 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def check_strings(name: str, value: object) -> list[str]:
    """Return ``value`` as a list if it is an iterable of non-empty strings (not one string)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not one string: {value!r}")
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__}") from None
    bad = [v for v in items if not isinstance(v, str) or not v.strip()]
    if bad:
        raise TypeError(f"{name} must hold non-empty strings, got {bad!r}")
    return items
