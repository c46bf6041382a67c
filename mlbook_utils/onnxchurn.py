"""The book's churn pipeline as an ONNX graph, and a predictor that runs it without pandas.

scikit-learn's ``predict_proba`` on the churn pipeline costs 20-35 ms whatever the number of rows:
nearly all of it is the fixed per-call work of pandas and the ColumnTransformer. The service
therefore predicts with ONNX Runtime instead (``book/08-production/serving.md`` measures both):

- :func:`churn_to_onnx` converts the fitted pipeline's tail (imputation, scaling, one-hot
  encoding, classifier) with skl2onnx. The first step, :class:`mlbook_utils.churn.ChurnFeatures`,
  has no converter; its date features are computed in NumPy by :class:`OnnxChurnModel`.
- :class:`OnnxChurnModel` takes the customers column by column (plain Python lists, as the
  service has them after validation) and returns the churn probabilities.
- :func:`max_parity_error` compares it with the scikit-learn pipeline on the same customers;
  the service refuses to start when they differ by more than :data:`PARITY_TOLERANCE`.

ONNX Runtime computes in 32-bit floats, so the two agree to about 1e-7, not exactly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlbook_utils.churn import CATEGORICAL, CENTS_THRESHOLD, NUMERIC, RAW_COLUMNS

#: Largest difference of probabilities between ONNX Runtime and scikit-learn that is accepted.
PARITY_TOLERANCE = 1e-5
_DAYS_PER_MONTH = 30.44  # as in ChurnFeatures


def churn_to_onnx(pipeline: Any) -> bytes:
    """The fitted churn pipeline without its first step, as a serialized ONNX model.

    The graph has one ``(n, 1)`` input per column of :data:`mlbook_utils.churn.NUMERIC` (float32)
    and :data:`mlbook_utils.churn.CATEGORICAL` (strings, ``""`` for missing: an ONNX string tensor
    cannot hold NaN, so the categorical imputer of a copy of the tail looks for ``""``), and the
    outputs ``label`` and ``probabilities`` (no ZipMap). Needs skl2onnx (training time only).
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    steps = getattr(pipeline, "named_steps", {})
    if "features" not in steps or "preprocess" not in steps:
        raise TypeError("pipeline must be a fitted build_churn_pipeline() pipeline, "
                        f"got {type(pipeline).__name__}")
    tail = copy.deepcopy(pipeline[1:])
    tail.named_steps["preprocess"].named_transformers_["cat"][0].missing_values = ""
    inputs = ([(c, FloatTensorType([None, 1])) for c in NUMERIC]
              + [(c, StringTensorType([None, 1])) for c in CATEGORICAL])
    graph = convert_sklearn(tail, initial_types=inputs, options={id(tail[-1]): {"zipmap": False}})
    return graph.SerializeToString()


class OnnxChurnModel:
    """Churn probabilities from the ONNX graph of :func:`churn_to_onnx`, features in NumPy.

    Parameters
    ----------
    onnx_model:
        The serialized graph (bytes).
    snapshot_date:
        The fitted pipeline's ``ChurnFeatures.snapshot_date``: tenure and days since the last
        login are counted back from it, as in training.

    The session runs on one thread: the server's parallelism is its worker processes, and a
    thread pool per call costs more than it saves on batches of this size.
    """

    def __init__(self, onnx_model: bytes, snapshot_date: str) -> None:
        import onnxruntime as ort

        if not isinstance(onnx_model, bytes):
            raise TypeError(f"onnx_model must be bytes, got {type(onnx_model).__name__}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_model, sess_options=options,
                                            providers=["CPUExecutionProvider"])
        names = [i.name for i in self.session.get_inputs()]
        if sorted(names) != sorted([*NUMERIC, *CATEGORICAL]):
            raise ValueError(f"the ONNX graph's inputs {names} are not the churn pipeline's")
        self.snapshot = np.datetime64(snapshot_date, "D")
        self.output = self.session.get_outputs()[1].name

    def feed(self, columns: Mapping[str, Sequence[Any]]) -> dict[str, np.ndarray]:
        """The graph's inputs for customers given column by column (``RAW_COLUMNS``).

        Dates are ``datetime.date`` objects or ``YYYY-MM-DD`` strings, missing values ``None``.
        The same repairs and features as :class:`mlbook_utils.churn.ChurnFeatures`.
        """
        signup = np.array(columns["signup_date"], dtype="datetime64[D]")
        login = np.array(columns["last_login_date"], dtype="datetime64[D]")
        swapped = login < signup  # as ChurnFeatures: dates entered the wrong way round
        signup, login = np.where(swapped, login, signup), np.where(swapped, signup, login)
        charges = np.array(columns["monthly_charges"], dtype=np.float64)
        charges = np.where(charges <= CENTS_THRESHOLD, charges, charges / 100)
        products = np.array(columns["num_products"], dtype=np.float64)
        numbers = {
            "age": np.array(columns["age"], dtype=np.float64),  # None becomes NaN
            "monthly_charges": charges,
            "total_charges": np.array(columns["total_charges"], dtype=np.float64),
            "support_calls": np.array(columns["support_calls"], dtype=np.float64),
            "num_products": products,
            "tenure_months": (self.snapshot - signup).astype(np.float64) / _DAYS_PER_MONTH,
            "days_since_login": (self.snapshot - login).astype(np.float64),
            "charges_per_product": charges / products,
        }
        feed = {c: numbers[c].astype(np.float32).reshape(-1, 1) for c in NUMERIC}
        for c in CATEGORICAL:
            feed[c] = np.array(["" if v is None else v for v in columns[c]], dtype=object).reshape(-1, 1)
        return feed

    def predict_proba(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """The probability of churn (class 1) for each customer, as float64, shape ``(n,)``."""
        return self.session.run([self.output], self.feed(columns))[0][:, 1].astype(np.float64)


def max_parity_error(pipeline: Any, fast: OnnxChurnModel, frame: Any) -> float:
    """Largest absolute difference of churn probabilities between the two on ``frame``'s rows.

    ``frame`` holds the raw columns (dates as datetime64, missing values as NaN), as the
    scikit-learn pipeline takes them.
    """
    import pandas as pd

    X = frame[list(RAW_COLUMNS)]
    columns: dict[str, list[Any]] = {}
    for c in RAW_COLUMNS:
        values = X[c]
        if c in ("signup_date", "last_login_date"):
            columns[c] = pd.to_datetime(values).dt.strftime("%Y-%m-%d").tolist()
        else:
            columns[c] = [None if pd.isna(v) else v for v in values.tolist()]
    expected = pipeline.predict_proba(X)[:, 1]
    return float(np.abs(fast.predict_proba(columns) - expected).max())
