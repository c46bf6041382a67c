"""Unit tests of mlbook_utils.versioning and the parts of mlbook_utils.serving that need no server
(tests/test_service.py runs the real server)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mlbook_utils import build_churn_pipeline, make_churn
from mlbook_utils.churn import RAW_COLUMNS
from mlbook_utils.serving import (
    Batch, Customer, LoadTestResult, create_app, export_model, free_port, load_test, main, run_server,
    to_records,
)
from mlbook_utils.versioning import (
    LATEST_FILE, METADATA_FILE, MODEL_FILE, list_versions, load_model_version, save_model_version,
    set_latest,
)

GOOD = {"signup_date": "2025-01-12", "last_login_date": "2025-12-08", "age": 37.0,
        "region": "west", "contract": "month-to-month", "payment_method": "card",
        "internet_service": "dsl", "monthly_charges": 55.17, "total_charges": 605.41,
        "support_calls": 2, "num_products": 2}


@pytest.fixture(scope="module")
def fitted():
    df = make_churn(400, seed=1)
    X, y = df[list(RAW_COLUMNS)], df["churned"]
    return build_churn_pipeline().fit(X, y), X


@pytest.fixture()
def store(tmp_path, fitted):
    model, X = fitted
    save_model_version(model, tmp_path, "churn", input_example=X.head(3), metrics={"auc": 0.8})
    return tmp_path


def test_save_and_load_round_trip(store, fitted):
    model, X = fitted
    loaded, meta = load_model_version(store, "churn")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert meta["version"] == 1 and meta["metrics"] == {"auc": 0.8}
    assert list(meta["input_schema"]) == list(RAW_COLUMNS)
    assert meta["libraries"]["scikit-learn"]
    assert (store / "churn" / LATEST_FILE).read_text() == "1\n"


def test_versions_sort_numerically_and_latest_moves(store, fitted):
    model, X = fitted
    for _ in range(10):
        save_model_version(model, store, "churn", input_example=X, metrics={})
    assert list_versions(store, "churn") == list(range(1, 12))
    assert load_model_version(store, "churn")[1]["version"] == 11
    set_latest(store, "churn", 2)
    assert load_model_version(store, "churn")[1]["version"] == 2
    n = save_model_version(model, store, "churn", input_example=X, metrics={}, make_latest=False)
    assert n == 12 and load_model_version(store, "churn")[1]["version"] == 2
    assert load_model_version(store, "churn", 12)[1]["version"] == 12


def test_list_versions_of_nothing_is_empty(tmp_path):
    assert list_versions(tmp_path, "churn") == []


@pytest.mark.parametrize("name", ["", "Churn", "../x", "a/b", "x" * 65, 3])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="name must be"):
        list_versions(tmp_path, name)


def test_bad_save_arguments(tmp_path, fitted):
    model, X = fitted
    with pytest.raises(TypeError, match="predict_proba"):
        save_model_version(object(), tmp_path, "m", input_example=X, metrics={})
    with pytest.raises(TypeError, match="input_example"):
        save_model_version(model, tmp_path, "m", input_example=X.to_numpy(), metrics={})
    with pytest.raises(ValueError, match="threshold"):
        save_model_version(model, tmp_path, "m", input_example=X, metrics={}, threshold=1.0)


def test_load_errors_say_what_is_wrong(store, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing saved"):
        load_model_version(tmp_path / "empty", "churn")
    with pytest.raises(FileNotFoundError, match="no version 7"):
        load_model_version(store, "churn", 7)
    with pytest.raises(TypeError, match="version must be"):
        load_model_version(store, "churn", "1")
    with pytest.raises(ValueError, match="no version 5"):
        set_latest(store, "churn", 5)


def test_a_changed_file_is_refused(store):
    path = store / "churn" / "v1" / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        load_model_version(store, "churn")


def test_other_library_versions_are_refused_unless_accepted(store):
    meta_path = store / "churn" / "v1" / METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["libraries"]["scikit-learn"] = "0.24.2"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RuntimeError, match="scikit-learn saved with 0.24.2"):
        load_model_version(store, "churn")
    load_model_version(store, "churn", check_libraries=False)


def test_untrusted_types_are_refused(store):
    with pytest.raises(ValueError, match="not trusted.*ChurnFeatures"):
        load_model_version(store, "churn", trusted=["numpy.dtype"])


# ---------------------------------------------------------------- serving, without a server

def test_customer_schema_accepts_good_and_refuses_bad():
    assert Customer.model_validate(GOOD).age == 37.0
    for bad in ({**GOOD, "age": float("nan")}, {**GOOD, "age": "37"}, {**GOOD, "extra": 1},
                {**GOOD, "last_login_date": "2024-01-01"}, {**GOOD, "region": "mars"}):
        with pytest.raises(ValueError):
            Customer.model_validate(bad)
    with pytest.raises(ValueError, match="at least 1"):
        Batch.model_validate({"customers": []})


def test_create_app_refuses_unsafe_or_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="any web site"):
        create_app(tmp_path, allow_origins=["*"], allow_credentials=True)
    with pytest.raises(TypeError, match="list of origins"):
        create_app(tmp_path, allow_origins="https://a.example")
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(tmp_path, max_body_bytes=10)
    with pytest.raises(ValueError, match="name must be"):
        create_app(tmp_path, name="../etc")
    routes = {r.path for r in create_app(tmp_path, allow_origins=["*"]).routes}
    assert {"/health", "/metadata", "/predict", "/predict/batch"} <= routes


def test_export_model_and_main(tmp_path, capsys):
    assert main(["export-model", str(tmp_path), "--seed", "3"]) == 0
    assert "saved churn v1" in capsys.readouterr().out
    _, meta = load_model_version(tmp_path, "churn")
    assert 0.5 < meta["metrics"]["roc_auc"] <= 1 and meta["params"]["seed"] == 3
    with pytest.raises(ValueError, match="n_customers"):
        export_model(tmp_path, n_customers=10)


def test_to_records_gives_valid_customers():
    df = make_churn(300, seed=2)
    records = to_records(df)
    assert len(records) == len(df) and list(records[0]) == list(RAW_COLUMNS)
    assert any(r["age"] is None for r in records), "NaN becomes null"
    valid = [r for r in records if r["last_login_date"] >= r["signup_date"]]
    for r in valid:
        Customer.model_validate(r)
    with pytest.raises(ValueError, match="lacks the model's columns"):
        to_records(df.drop(columns="age"))
    with pytest.raises(TypeError, match="DataFrame"):
        to_records(records)


def test_free_port_is_an_unprivileged_port():
    assert 1024 <= free_port() <= 65535


def test_run_server_and_load_test_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        with run_server(tmp_path / "missing"):
            pass
    with pytest.raises(ValueError, match="startup_timeout"):
        with run_server(tmp_path, startup_timeout=0):
            pass
    with pytest.raises(ValueError, match="concurrency"):
        load_test("http://127.0.0.1:9/predict", {}, n_requests=2, concurrency=4)
    with pytest.raises(TypeError, match="n_requests"):
        load_test("http://127.0.0.1:9/predict", {}, n_requests=1.5)


def test_run_server_reports_a_server_that_cannot_start(tmp_path):
    with pytest.raises(RuntimeError, match="exited with code"):
        with run_server(tmp_path):  # an empty store: the lifespan cannot load a model
            pass


def test_load_test_counts_transport_errors():
    port = free_port()  # nothing listens there
    result = load_test(f"http://127.0.0.1:{port}/predict", GOOD, n_requests=4, concurrency=2, timeout=2)
    assert result.errors == 4 and result.latencies_ms.shape == (4,)


def test_load_test_result_summary():
    r = LoadTestResult(n_requests=4, concurrency=2, errors=0, seconds=2.0,
                       latencies_ms=np.array([1.0, 2.0, 3.0, 4.0]))
    assert r.throughput == 2.0 and r.percentile(50) == 2.5
    assert str(r).startswith("4 requests at concurrency 2: 0 errors, 2 req/s")


def test_app_from_env_needs_the_model_root(monkeypatch):
    from mlbook_utils.serving import app_from_env

    monkeypatch.delenv("MLBOOK_MODEL_ROOT", raising=False)
    with pytest.raises(RuntimeError, match="MLBOOK_MODEL_ROOT"):
        app_from_env()
    assert os.environ.get("MLBOOK_MODEL_ROOT") is None
