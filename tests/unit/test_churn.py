import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

from mlbook_utils import ChurnFeatures, build_churn_pipeline, make_churn


@pytest.fixture(scope="module")
def churn():
    df = make_churn(1500, seed=0).drop_duplicates()
    return df.drop(columns="churned"), df["churned"]


def test_features_fix_cents_and_add_columns(churn):
    X, _ = churn
    out = ChurnFeatures().fit(X).transform(X)
    assert out["monthly_charges"].max() < 1000
    assert {"tenure_months", "days_since_login", "charges_per_product"} <= set(out.columns)
    assert (out["days_since_login"] >= 0).all()
    np.testing.assert_allclose(out["charges_per_product"], out["monthly_charges"] / out["num_products"])
    assert list(ChurnFeatures().fit(X).get_feature_names_out()) == list(out.columns)


def test_features_work_with_set_output(churn):
    X, _ = churn
    out = ChurnFeatures().set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame)


def test_pipeline_learns_and_pickles(churn):
    X, y = churn
    model = build_churn_pipeline().fit(X[:1000], y[:1000])
    ap = average_precision_score(y[1000:], model.predict_proba(X[1000:])[:, 1])
    assert ap > 2 * y.mean()
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.predict_proba(X[1000:]), model.predict_proba(X[1000:]))


def test_pipeline_accepts_another_classifier(churn):
    X, y = churn
    model = build_churn_pipeline(HistGradientBoostingClassifier(max_iter=20, random_state=0))
    assert model.fit(X, y).predict(X[:5]).shape == (5,)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda X: ChurnFeatures().fit(X.to_numpy()), TypeError, "DataFrame"),
        (lambda X: ChurnFeatures().fit(X.drop(columns="signup_date")), ValueError, "signup_date"),
        (lambda X: ChurnFeatures(snapshot_date="soon").fit(X), ValueError, "snapshot_date"),
        (lambda X: ChurnFeatures().fit(X).transform(X.iloc[:, ::-1]), ValueError, "different columns"),
        (lambda X: build_churn_pipeline("logistic"), TypeError, "estimator"),
    ],
)
def test_bad_input(churn, call, error, match):
    X, _ = churn
    with pytest.raises(error, match=match):
        call(X)
