"""The churn model's preprocessing, packaged so that a saved model can be loaded anywhere.

Chapter 1 (the pipeline page) and Chapter 7 (scikit-learn pipelines) build this step by step on
the page; it lives here so that a pickled or MLflow-logged pipeline refers to an importable class
instead of a function defined in a notebook, which no other process could load.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

#: Columns of :func:`mlbook_utils.make_churn` that a model may use (the target and id excluded).
RAW_COLUMNS: tuple[str, ...] = (
    "signup_date", "last_login_date", "age", "region", "contract", "payment_method",
    "internet_service", "monthly_charges", "total_charges", "support_calls", "num_products",
)
#: Columns :class:`ChurnFeatures` adds.
ENGINEERED: tuple[str, ...] = ("tenure_months", "days_since_login", "charges_per_product")
NUMERIC: tuple[str, ...] = ("age", "monthly_charges", "total_charges", "support_calls",
                            "num_products", *ENGINEERED)
CATEGORICAL: tuple[str, ...] = ("region", "contract", "payment_method", "internet_service")
CENTS_THRESHOLD = 1000.0


class ChurnFeatures(TransformerMixin, BaseEstimator):
    """Fix charges entered in cents and swapped dates; add tenure, days since login, charges per product.

    Parameters
    ----------
    snapshot_date:
        The date the features are counted back from, ``YYYY-MM-DD`` (the date of the table).

    Notes
    -----
    Row-level repairs, both stateless: ``monthly_charges`` above 1,000 were entered in cents and
    are divided by 100; a row whose ``last_login_date`` precedes its ``signup_date`` cannot be
    right (nobody logs in before signing up) and had its two dates swapped at entry (as
    :func:`mlbook_utils.make_churn` with ``messy=True`` does to 0.5 % of customers), so they are
    swapped back before the durations are computed. The output carries the repaired dates.

    Stateless apart from remembering the input columns, so fitting on training data only is
    trivially leak-free. Supports ``get_feature_names_out`` and ``set_output``.

    Examples
    --------
    >>> X = pd.DataFrame({"signup_date": pd.to_datetime(["2025-01-01", "2025-12-01"]),
    ...                   "last_login_date": pd.to_datetime(["2025-12-21", "2025-06-01"]),
    ...                   "monthly_charges": [50.0, 6000.0], "num_products": [1, 2]})
    >>> out = ChurnFeatures().fit_transform(X)
    >>> out["days_since_login"].tolist(), out["monthly_charges"].tolist()
    ([10.0, 30.0], [50.0, 60.0])
    """

    def __init__(self, snapshot_date: str = "2025-12-31") -> None:
        self.snapshot_date = snapshot_date

    def fit(self, X: pd.DataFrame, y: Any = None) -> ChurnFeatures:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ChurnFeatures needs a DataFrame with named columns, got {type(X).__name__}")
        missing = sorted({"signup_date", "last_login_date", "monthly_charges", "num_products"}
                         - set(X.columns))
        if missing:
            raise ValueError(f"ChurnFeatures needs the columns {missing}")
        try:
            pd.Timestamp(self.snapshot_date)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"snapshot_date must look like 'YYYY-MM-DD', got {self.snapshot_date!r}") from exc
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self)
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"ChurnFeatures needs a DataFrame with named columns, got {type(X).__name__}")
        if list(X.columns) != list(self.feature_names_in_):
            raise ValueError("X has different columns from the data ChurnFeatures was fitted on")
        snapshot = pd.Timestamp(self.snapshot_date)
        charges = X["monthly_charges"].where(X["monthly_charges"] <= CENTS_THRESHOLD,
                                             X["monthly_charges"] / 100)
        signup, login = pd.to_datetime(X["signup_date"]), pd.to_datetime(X["last_login_date"])
        swapped = login < signup  # impossible order: the dates were entered the wrong way round
        signup, login = signup.where(~swapped, login), login.where(~swapped, signup)
        return X.assign(
            signup_date=signup,
            last_login_date=login,
            monthly_charges=charges,
            tenure_months=(snapshot - signup).dt.days / 30.44,
            days_since_login=(snapshot - login).dt.days.astype(float),
            charges_per_product=charges / X["num_products"],
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self)
        return np.asarray([*self.feature_names_in_, *ENGINEERED], dtype=object)


def build_churn_pipeline(classifier: Any = None, *, snapshot_date: str = "2025-12-31") -> Pipeline:
    """The book's churn model: features, imputation, scaling, one-hot encoding, a classifier.

    Parameters
    ----------
    classifier:
        Any scikit-learn classifier; ``None`` gives ``LogisticRegression(max_iter=1000)``.
    snapshot_date:
        Passed to :class:`ChurnFeatures`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; takes the columns of :func:`mlbook_utils.make_churn` (extra columns such as
        ``customer_id`` are dropped by the column transformer) and outputs pandas frames between
        steps.

    Examples
    --------
    >>> from mlbook_utils import make_churn
    >>> df = make_churn(300, seed=0)
    >>> model = build_churn_pipeline().fit(df.drop(columns="churned"), df["churned"])
    >>> model.predict_proba(df.drop(columns="churned").head(2)).shape
    (2, 2)
    """
    if classifier is None:
        classifier = LogisticRegression(max_iter=1000)
    elif not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
        raise TypeError(f"classifier must be a scikit-learn estimator, got {type(classifier).__name__}")
    preprocess = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(NUMERIC)),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
             list(CATEGORICAL)),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([
        ("features", ChurnFeatures(snapshot_date=snapshot_date)),
        ("preprocess", preprocess),
        ("model", classifier),
    ]).set_output(transform="pandas")
