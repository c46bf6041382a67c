"""Train the book's churn model and save it as a new version of a model store.

``python -m mlbook_utils.export export-model DIR`` does what :func:`export_model` does, from the
command line: the container build (``deploy/Dockerfile``) runs it to put a model in the image.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from mlbook_utils._validate import check_int, check_seed


def export_model(root: str | os.PathLike[str], *, n_customers: int = 5000, seed: int = 0) -> int:
    """Train the book's churn model on :func:`mlbook_utils.make_churn` data and save it.

    The table is the messy one, as collected. Duplicated rows are dropped, and so are the rows
    the service's schema (:class:`mlbook_utils.serving.Customer`) refuses, such as a last login
    before the signup: a model should learn only from rows it can be asked about. The model is
    scored on a held-out quarter (ROC AUC and average precision) and saved as the next version
    under ``root/churn``, with ``seed``, ``n_customers`` and the number of refused rows in its
    parameters. The ONNX graph of the same model (:func:`mlbook_utils.onnxchurn.churn_to_onnx`),
    which the service runs, is saved beside it, and the metadata records the range of the
    training dates (``dates``: the earliest signup and the snapshot date the features count
    back from), the only dates the model can say anything about.

    Returns
    -------
    int
        The version number saved.

    Examples
    --------
    >>> import tempfile
    >>> from mlbook_utils.versioning import load_model_version
    >>> with tempfile.TemporaryDirectory() as root:
    ...     version = export_model(root, n_customers=500, seed=1)
    ...     metadata = load_model_version(root, "churn")[1]
    >>> version, metadata["params"]["seed"], metadata["params"]["refused_rows"]
    (1, 1, 2)
    """
    from pydantic import ValidationError
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from mlbook_utils.churn import RAW_COLUMNS, build_churn_pipeline
    from mlbook_utils.onnxchurn import churn_to_onnx
    from mlbook_utils.serving import Customer, to_records
    from mlbook_utils.synthetic import make_churn
    from mlbook_utils.versioning import save_model_version

    n_customers = check_int("n_customers", n_customers, minimum=200)
    seed = check_seed(seed)
    df = make_churn(n_customers, seed=seed).drop_duplicates()

    def accepted(record: dict) -> bool:
        try:
            Customer.model_validate(record)
        except ValidationError:
            return False
        return True

    keep = [accepted(r) for r in to_records(df)]
    refused = len(keep) - sum(keep)
    df = df[keep]
    X, y = df[list(RAW_COLUMNS)], df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    model = build_churn_pipeline().fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    metrics = {"roc_auc": roc_auc_score(y_test, proba),
               "average_precision": average_precision_score(y_test, proba)}
    dates = {"earliest": X_train["signup_date"].min().strftime("%Y-%m-%d"),
             "snapshot": model.named_steps["features"].snapshot_date}
    return save_model_version(model, root, "churn", input_example=X_test.head(5), metrics=metrics,
                              params={"n_customers": n_customers, "seed": seed,
                                      "refused_rows": refused,
                                      "classifier": type(model[-1]).__name__},
                              onnx_model=churn_to_onnx(model), extra={"dates": dates})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlbook_utils.export export-model DIR [--seed N] [--n-customers N]``.

    Returns the exit status (0); bad arguments exit with argparse's usage message (status 2).
    """
    parser = argparse.ArgumentParser(prog="python -m mlbook_utils.export")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export-model", help="train the churn model and save it as a new version")
    export.add_argument("root", type=Path, help="the model store folder (created if needed)")
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--n-customers", type=int, default=5000)
    args = parser.parse_args(argv)
    try:
        version = export_model(args.root, n_customers=args.n_customers, seed=args.seed)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    print(f"saved churn v{version} in {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
