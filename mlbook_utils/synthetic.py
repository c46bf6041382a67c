"""Synthetic data the book generates instead of downloading.

:func:`make_churn` is the book's running example: a customer table with the problems real tables
have. Later chapters clean, model, track and serve it.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from mlbook_utils._validate import check_fraction, check_int, check_seed

CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS = ("card", "bank transfer", "electronic check", "mailed check")
INTERNET = ("fiber", "dsl", "none")
REGIONS = ("north", "south", "east", "west")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _intercept_for_rate(logit: np.ndarray, rate: float) -> float:
    """Bisection for the intercept b with mean(sigmoid(logit + b)) == rate."""
    lo, hi = -30.0, 30.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if _sigmoid(logit + mid).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def make_churn(
    n_customers: int = 2000,
    *,
    churn_rate: float = 0.2,
    snapshot_date: str = "2025-12-31",
    messy: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate a customer-churn table, reproducible from ``seed``.

    Each row is one customer of a subscription business on ``snapshot_date``; ``churned`` says
    whether they cancelled in the following month. Churn depends on the contract, tenure, recent
    activity, support calls, payment method and charges through a logistic model, so models can
    learn it but not perfectly.

    Parameters
    ----------
    n_customers:
        Number of distinct customers (at least 10). With ``messy=True`` about 1 % of them appear
        twice, so the frame has slightly more rows.
    churn_rate:
        Expected fraction of churners, strictly between 0 and 1 (default 0.2: a mild imbalance).
    snapshot_date:
        The date the table describes, ``YYYY-MM-DD``.
    messy:
        If ``True`` (default), add what real tables have: missing ``age``, ``total_charges``
        and ``payment_method`` values, a few ``monthly_charges`` entered in cents instead of
        dollars (outliers), a few rows whose two dates were swapped at entry (so
        ``last_login_date`` precedes ``signup_date``: 0.5 % of customers), and duplicated rows.
        ``False`` gives the clean table, in which every date is consistent
        (``signup_date <= last_login_date <= snapshot_date``).
    seed:
        Seed for every random draw.

    Returns
    -------
    pandas.DataFrame
        Columns: ``customer_id`` (str), ``signup_date`` and ``last_login_date`` (datetime64),
        ``age`` (float, may be missing), ``region``, ``contract``, ``payment_method``,
        ``internet_service`` (str), ``monthly_charges``, ``total_charges`` (float),
        ``support_calls``, ``num_products`` (int) and ``churned`` (int, 0 or 1).

    Examples
    --------
    >>> df = make_churn(500, seed=1)
    >>> round(float(df["churned"].mean()), 1)
    0.2
    """
    n = check_int("n_customers", n_customers, minimum=10)
    rate = check_fraction("churn_rate", churn_rate)
    seed = check_seed(seed)
    if not isinstance(messy, bool):
        raise TypeError(f"messy must be True or False, got {messy!r}")
    if not isinstance(snapshot_date, str):
        raise TypeError(f"snapshot_date must be a 'YYYY-MM-DD' string, got {snapshot_date!r}")
    try:
        snapshot = pd.Timestamp(snapshot_date)
    except ValueError as exc:
        raise ValueError(f"snapshot_date must look like 'YYYY-MM-DD', got {snapshot_date!r}") from exc

    rng = np.random.default_rng(seed)
    tenure_months = rng.gamma(shape=1.5, scale=16.0, size=n).clip(0, 96)
    tenure_days = np.round(tenure_months * 30.44)
    signup = snapshot - pd.to_timedelta(tenure_days, unit="D")
    # Nobody logs in before signing up: a new customer's last login lies within their tenure.
    days_since_login = np.minimum(rng.exponential(scale=12.0, size=n).round(), tenure_days)
    last_login = snapshot - pd.to_timedelta(days_since_login, unit="D")

    contract = rng.choice(CONTRACTS, size=n, p=[0.55, 0.25, 0.20])
    payment = rng.choice(PAYMENT_METHODS, size=n, p=[0.35, 0.25, 0.25, 0.15])
    internet = rng.choice(INTERNET, size=n, p=[0.45, 0.40, 0.15])
    region = rng.choice(REGIONS, size=n)
    age = rng.normal(45, 14, size=n).clip(18, 90).round()

    base_charge = np.select([internet == "fiber", internet == "dsl"], [80.0, 55.0], 25.0)
    num_products = 1 + rng.binomial(4, 0.3, size=n)
    monthly = (base_charge + 6.0 * (num_products - 1) + rng.normal(0, 8, size=n)).clip(15, None)
    total = monthly * tenure_months * rng.normal(1.0, 0.03, size=n)
    support_calls = rng.poisson(0.8 + 0.6 * (internet == "fiber"), size=n)

    logit = (
        1.1 * (contract == "month-to-month")
        - 1.3 * (contract == "two-year")
        - 0.035 * tenure_months
        + 0.45 * support_calls
        + 0.04 * days_since_login
        + 0.6 * (payment == "electronic check")
        + 0.015 * (monthly - 60)
        - 0.15 * (num_products - 1)
        - 0.01 * (age - 45)
    )
    churned = rng.random(n) < _sigmoid(logit + _intercept_for_rate(logit, rate))

    df = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in rng.permutation(n) + 1],
            "signup_date": signup.normalize(),
            "last_login_date": last_login.normalize(),
            "age": age,
            "region": region,
            "contract": contract,
            "payment_method": payment,
            "internet_service": internet,
            "monthly_charges": monthly.round(2),
            "total_charges": total.round(2),
            "support_calls": support_calls.astype("int64"),
            "num_products": num_products.astype("int64"),
            "churned": churned.astype("int64"),
        }
    )
    if messy:
        df.loc[rng.random(n) < 0.06, "age"] = np.nan
        df.loc[rng.random(n) < 0.03, "total_charges"] = np.nan
        df.loc[rng.random(n) < 0.02, "payment_method"] = np.nan
        cents = rng.choice(n, size=max(1, n // 200), replace=False)
        df.loc[cents, "monthly_charges"] = df.loc[cents, "monthly_charges"] * 100
        # Impossible rows: the two dates swapped at entry, so the last login precedes signup.
        swapped = rng.choice(np.flatnonzero(df["last_login_date"] > df["signup_date"]),
                             size=max(1, n // 200), replace=False)
        df.loc[swapped, ["signup_date", "last_login_date"]] = (
            df.loc[swapped, ["last_login_date", "signup_date"]].to_numpy())
        dupes = df.sample(n=max(1, n // 100), random_state=seed)
        df = pd.concat([df, dupes]).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return df


def make_sine_data(
    n_samples: int = 30, *, noise: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw noisy samples of :math:`y = \\sin(2\\pi x)` with :math:`x` uniform on [0, 1].

    The classic curve for showing under- and overfitting (Bishop 2006, section 1.1).

    Parameters
    ----------
    n_samples:
        Number of points, at least 2.
    noise:
        Standard deviation of the Gaussian noise added to ``y``; zero or positive.
    seed:
        Seed for the draws.

    Returns
    -------
    X, y
        ``X`` of shape ``(n_samples, 1)``, sorted, and ``y`` of shape ``(n_samples,)``.

    Examples
    --------
    >>> X, y = make_sine_data(10, noise=0.0)
    >>> bool(np.allclose(y, np.sin(2 * np.pi * X[:, 0])))
    True
    """
    n = check_int("n_samples", n_samples, minimum=2)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"noise must be a number, got {type(noise).__name__}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, size=n))
    y = np.sin(2 * np.pi * x) + rng.normal(0.0, float(noise), size=n)
    return x.reshape(-1, 1), y
