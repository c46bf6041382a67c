import numpy as np
import pandas as pd
import pytest

from mlbook_utils import make_churn, make_sine_data


def test_churn_is_reproducible_and_seed_dependent():
    pd.testing.assert_frame_equal(make_churn(300, seed=3), make_churn(300, seed=3))
    assert not make_churn(300, seed=3).equals(make_churn(300, seed=4))


def test_churn_columns_and_types():
    df = make_churn(1000, seed=0)
    assert list(df.columns) == [
        "customer_id", "signup_date", "last_login_date", "age", "region", "contract",
        "payment_method", "internet_service", "monthly_charges", "total_charges",
        "support_calls", "num_products", "churned",
    ]
    assert pd.api.types.is_datetime64_any_dtype(df["signup_date"])
    assert pd.api.types.is_datetime64_any_dtype(df["last_login_date"])
    assert pd.api.types.is_string_dtype(df["contract"])
    assert set(df["churned"].unique()) == {0, 1}
    assert (df["signup_date"] <= pd.Timestamp("2025-12-31")).all()
    assert (df["last_login_date"] <= pd.Timestamp("2025-12-31")).all()


def test_churn_is_messy_as_documented():
    df = make_churn(2000, seed=0)
    assert len(df) > 2000  # duplicated rows
    assert df.duplicated().sum() == len(df) - 2000
    assert df["customer_id"].nunique() == 2000
    for col in ("age", "total_charges", "payment_method"):
        assert df[col].isna().any(), col
    # Charges entered in cents: far above any plausible monthly price.
    assert (df["monthly_charges"] > 1000).sum() >= 5


@pytest.mark.parametrize("seed", range(5))
def test_clean_churn_dates_are_consistent(seed):
    df = make_churn(3000, messy=False, seed=seed)
    assert (df["signup_date"] <= df["last_login_date"]).all()
    assert (df["last_login_date"] <= pd.Timestamp("2025-12-31")).all()


def test_messy_churn_has_swapped_dates_as_documented():
    df = make_churn(2000, seed=0).drop_duplicates()
    impossible = df["last_login_date"] < df["signup_date"]
    assert impossible.sum() == 2000 // 200


def test_clean_churn_has_no_problems():
    df = make_churn(2000, messy=False, seed=0)
    assert len(df) == 2000
    assert not df.isna().any().any()
    assert df["monthly_charges"].max() < 1000


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5])
def test_churn_rate_is_respected(rate):
    df = make_churn(5000, churn_rate=rate, messy=False, seed=1)
    assert abs(df["churned"].mean() - rate) < 0.03


def test_churn_is_learnable_but_not_trivial():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    df = make_churn(3000, messy=False, seed=2)
    X = pd.get_dummies(df[["contract", "payment_method", "support_calls"]], dtype=float)
    X["tenure_days"] = (pd.Timestamp("2025-12-31") - df["signup_date"]).dt.days
    X["idle_days"] = (pd.Timestamp("2025-12-31") - df["last_login_date"]).dt.days
    X = (X - X.mean()) / X.std()
    proba = LogisticRegression().fit(X[:2000], df["churned"][:2000]).predict_proba(X[2000:])[:, 1]
    auc = roc_auc_score(df["churned"][2000:], proba)
    assert 0.7 < auc < 0.97


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_customers": 5}, ValueError, "n_customers must be >= 10"),
        ({"n_customers": 100.0}, TypeError, "n_customers must be an int"),
        ({"n_customers": True}, TypeError, "n_customers must be an int"),
        ({"churn_rate": 1.0}, ValueError, "churn_rate must be strictly between 0 and 1"),
        ({"churn_rate": "0.2"}, TypeError, "churn_rate must be a number"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"seed": 2**40}, ValueError, "seed must be <= 2\\*\\*32 - 1"),
        ({"messy": 1}, TypeError, "messy must be True or False"),
        ({"snapshot_date": "yesterday-ish"}, ValueError, "snapshot_date must look like"),
        ({"snapshot_date": 20251231}, TypeError, "snapshot_date must be"),
    ],
)
def test_churn_rejects_bad_input(kwargs, error, match):
    kwargs = {"n_customers": 100, **kwargs}
    with pytest.raises(error, match=match):
        make_churn(**kwargs)


def test_sine_data_shapes_and_truth():
    X, y = make_sine_data(25, noise=0.0, seed=5)
    assert X.shape == (25, 1) and y.shape == (25,)
    assert np.all(np.diff(X[:, 0]) >= 0)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * X[:, 0]))


def test_sine_noise_has_the_requested_scale():
    X, y = make_sine_data(20000, noise=0.3, seed=0)
    assert abs(np.std(y - np.sin(2 * np.pi * X[:, 0])) - 0.3) < 0.01


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"n_samples": 1}, ValueError),
        ({"n_samples": "10"}, TypeError),
        ({"noise": -0.1}, ValueError),
        ({"noise": float("nan")}, ValueError),
        ({"noise": None}, TypeError),
        ({"seed": 1.5}, TypeError),
    ],
)
def test_sine_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        make_sine_data(**kwargs)
