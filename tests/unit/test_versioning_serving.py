"""Unit tests of mlbook_utils.versioning, mlbook_utils.export, mlbook_utils.serverrun and the
parts of mlbook_utils.serving that need no server (tests/test_service.py runs the real server)."""

from __future__ import annotations

import json
import os
import typing

import numpy as np
import pytest

from mlbook_utils import build_churn_pipeline, library_versions, make_churn
from mlbook_utils import synthetic
from mlbook_utils.churn import RAW_COLUMNS
from mlbook_utils.export import export_model, main
from mlbook_utils.serverrun import LoadTestResult, free_port, load_test, run_server
from mlbook_utils.serving import EXAMPLE_CUSTOMER, Batch, Customer, create_app, to_records
from mlbook_utils.versioning import (
    LATEST_FILE, METADATA_FILE, MODEL_FILE, MODEL_LIBRARIES, ONNX_FILE, list_versions,
    load_model_version, load_onnx_model, save_model_version, set_latest,
)

GOOD = dict(EXAMPLE_CUSTOMER)


@pytest.fixture(scope="module")
def fitted():
    df = make_churn(400, seed=1)
    X, y = df[list(RAW_COLUMNS)], df["churned"]
    return build_churn_pipeline().fit(X, y), X


@pytest.fixture(scope="module")
def fitted_onnx(fitted):
    from mlbook_utils.onnxchurn import churn_to_onnx

    return churn_to_onnx(fitted[0])


@pytest.fixture()
def store(tmp_path, fitted, fitted_onnx):
    model, X = fitted
    save_model_version(model, tmp_path, "churn", input_example=X.head(3), metrics={"auc": 0.8},
                       onnx_model=fitted_onnx)
    return tmp_path


def test_save_and_load_round_trip(store, fitted):
    model, X = fitted
    loaded, meta = load_model_version(store, "churn")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert meta["version"] == 1 and meta["metrics"] == {"auc": 0.8}
    assert list(meta["input_schema"]) == list(RAW_COLUMNS)
    assert meta["libraries"] == library_versions(MODEL_LIBRARIES)
    assert (store / "churn" / LATEST_FILE).read_text() == "1\n"


def test_the_onnx_graph_is_stored_with_its_digest(store, fitted_onnx, tmp_path_factory, fitted):
    meta = load_model_version(store, "churn")[1]
    assert load_onnx_model(store, "churn", meta["version"]) == fitted_onnx
    assert meta["onnx_sha256"] and (store / "churn" / "v1" / ONNX_FILE).is_file()
    with pytest.raises(ValueError, match="a number here"):
        load_onnx_model(store, "churn", "latest")
    with pytest.raises(FileNotFoundError, match="no version 4"):
        load_onnx_model(store, "churn", 4)
    path = store / "churn" / "v1" / ONNX_FILE
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    for load in (lambda: load_model_version(store, "churn"), lambda: load_onnx_model(store, "churn", 1)):
        with pytest.raises(ValueError, match="onnx_sha256"):
            load()
    path.unlink()
    with pytest.raises(FileNotFoundError, match="model.onnx is missing"):
        load_model_version(store, "churn")
    plain = tmp_path_factory.mktemp("plain")
    save_model_version(fitted[0], plain, "churn", input_example=fitted[1].head(3), metrics={})
    assert load_model_version(plain, "churn")[1]["onnx_sha256"] is None
    with pytest.raises(ValueError, match="without an ONNX graph"):
        load_onnx_model(plain, "churn", 1)
    with pytest.raises(TypeError, match="onnx_model must be bytes"):
        save_model_version(fitted[0], plain, "churn", input_example=fitted[1], metrics={}, onnx_model="x")


def test_onnx_matches_scikit_learn_with_gaps_cents_and_swapped_dates(fitted, fitted_onnx):
    from mlbook_utils.onnxchurn import PARITY_TOLERANCE, OnnxChurnModel, churn_to_onnx, max_parity_error

    model, _ = fitted
    fast = OnnxChurnModel(fitted_onnx, model.named_steps["features"].snapshot_date)
    df = make_churn(600, seed=5)  # messy: missing values, charges in cents, swapped dates
    X = df[list(RAW_COLUMNS)]
    assert X.isna().any().any() and (X["monthly_charges"] > 1000).any()
    assert (X["last_login_date"] < X["signup_date"]).any()
    assert max_parity_error(model, fast, X) < PARITY_TOLERANCE
    record = to_records(X.head(1))[0]
    one = fast.predict_proba({k: [v] for k, v in record.items()})
    assert one.shape == (1,) and one.dtype == np.float64
    with pytest.raises(TypeError, match="build_churn_pipeline"):
        churn_to_onnx(model[-1])
    with pytest.raises(TypeError, match="bytes"):
        OnnxChurnModel("model.onnx", "2025-12-31")


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
    with pytest.raises(ValueError, match="version must be >= 1"):
        load_model_version(store, "churn", 0)
    with pytest.raises(TypeError, match="trusted must be a list"):
        load_model_version(store, "churn", trusted="numpy.dtype")
    with pytest.raises(TypeError, match="check_libraries must be True or False"):
        load_model_version(store, "churn", check_libraries="no")
    with pytest.raises(ValueError, match="no version 5"):
        set_latest(store, "churn", 5)
    with pytest.raises(TypeError, match="version must be"):
        set_latest(store, "churn", 1.0)


def test_a_damaged_store_is_refused_with_the_reason(store):
    folder = store / "churn"
    (folder / LATEST_FILE).write_text("v1\n")
    with pytest.raises(ValueError, match="must hold a version number"):
        load_model_version(store, "churn")
    meta_path = folder / "v1" / METADATA_FILE
    meta_path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model_version(store, "churn", 1)
    meta_path.write_text(json.dumps({"version": 1}))
    with pytest.raises(ValueError, match="lacks .*sha256"):
        load_model_version(store, "churn", 1)
    (folder / "v1" / MODEL_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="model.skops is missing"):
        load_model_version(store, "churn", 1)
    with pytest.raises(FileNotFoundError, match="no version 1"):
        (folder / "v1" / METADATA_FILE).unlink()
        load_onnx_model(store, "churn", 1)


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
    assert Customer.model_validate(GOOD).age == EXAMPLE_CUSTOMER["age"]
    assert Customer.model_json_schema()["examples"] == [GOOD]
    with pytest.raises(TypeError):
        EXAMPLE_CUSTOMER["age"] = 1  # read-only: no test can change it for the others
    for bad in ({**GOOD, "age": float("nan")}, {**GOOD, "age": "37"}, {**GOOD, "extra": 1},
                {**GOOD, "last_login_date": "2024-01-01"}, {**GOOD, "region": "mars"}):
        with pytest.raises(ValueError):
            Customer.model_validate(bad)
    with pytest.raises(ValueError, match="at least 1"):
        Batch.model_validate({"customers": []})


def literal_values(annotation: object) -> tuple:
    """The values of ``Literal[...]`` or of ``Literal[...] | None``."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    (literal,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    return typing.get_args(literal)


def test_schema_categories_are_the_generators():
    fields = Customer.model_fields

    def values(name: str) -> tuple:
        return literal_values(fields[name].annotation)

    assert values("region") == synthetic.REGIONS
    assert values("contract") == synthetic.CONTRACTS
    assert values("internet_service") == synthetic.INTERNET
    assert values("payment_method") == synthetic.PAYMENT_METHODS
    assert list(fields) == list(RAW_COLUMNS), "the schema's fields are the model's columns, in order"


def test_create_app_refuses_unsafe_or_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="any web site"):
        create_app(tmp_path, allow_origins=["*"], allow_credentials=True)
    with pytest.raises(TypeError, match="allow_origins must be a list of strings, not one string"):
        create_app(tmp_path, allow_origins="https://a.example")
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(tmp_path, max_body_bytes=10)
    with pytest.raises(ValueError, match="name must be"):
        create_app(tmp_path, name="../etc")
    with pytest.raises(TypeError, match="version must be"):
        create_app(tmp_path, version="2")
    with pytest.raises(TypeError, match="allow_credentials must be True or False"):
        create_app(tmp_path, allow_origins=["https://a.example"], allow_credentials="false")
    with pytest.raises(TypeError, match="non-empty strings"):
        create_app(tmp_path, allow_origins=["https://a.example", ""])
    with pytest.raises(ValueError, match="engine must be one of"):
        create_app(tmp_path, engine="torch")
    with pytest.raises(ValueError, match="max_in_flight"):
        create_app(tmp_path, max_in_flight=0)
    with pytest.raises(TypeError, match="docs must be True or False"):
        create_app(tmp_path, docs="yes")
    routes = {r.path for r in create_app(tmp_path, allow_origins=["*"]).routes}
    assert {"/health", "/metadata", "/predict", "/predict/batch"} <= routes
    assert not routes & {"/docs", "/redoc", "/openapi.json"}, "the docs are off by default"
    assert {"/docs", "/openapi.json"} <= {r.path for r in create_app(tmp_path, docs=True).routes}
    heads = {r.path for r in create_app(tmp_path).routes if "HEAD" in getattr(r, "methods", ())}
    assert heads == {"/health", "/metadata"}


def test_export_model_and_main(tmp_path, capsys):
    assert main(["export-model", str(tmp_path), "--seed", "3", "--n-customers", "2000"]) == 0
    assert "saved churn v1" in capsys.readouterr().out
    _, meta = load_model_version(tmp_path, "churn")
    assert 0.5 < meta["metrics"]["roc_auc"] <= 1 and meta["params"]["seed"] == 3
    # the messy table swaps the dates of 0.5 % of the customers; the schema refuses those rows
    assert meta["params"]["refused_rows"] == 2000 // 200
    with pytest.raises(ValueError, match="n_customers"):
        export_model(tmp_path, n_customers=10)
    with pytest.raises(TypeError, match="seed"):
        export_model(tmp_path, seed=1.5)
    with pytest.raises(SystemExit):
        main(["export-model", str(tmp_path), "--n-customers", "10"])
    assert "n_customers must be >= 200" in capsys.readouterr().err


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
    with pytest.raises(TypeError, match="startup_timeout"):
        with run_server(tmp_path, startup_timeout="60"):
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


@pytest.mark.parametrize(("variable", "value", "error", "says"), [
    ("MLBOOK_MODEL_VERSION", "v2", TypeError, "MLBOOK_MODEL_VERSION must be an int or 'latest'"),
    ("MLBOOK_MODEL_VERSION", "0", ValueError, "MLBOOK_MODEL_VERSION must be >= 1"),
    ("MLBOOK_MODEL_NAME", "../x", ValueError, "MLBOOK_MODEL_NAME must be"),
    ("MLBOOK_LOG_LEVEL", "loud", ValueError, "MLBOOK_LOG_LEVEL must be"),
    ("MLBOOK_ENGINE", "torch", ValueError, "MLBOOK_ENGINE must be one of onnx, sklearn"),
    ("MLBOOK_MAX_IN_FLIGHT", "0", ValueError, "MLBOOK_MAX_IN_FLIGHT must be a whole number >= 1"),
    ("MLBOOK_MAX_IN_FLIGHT", "lots", ValueError, "MLBOOK_MAX_IN_FLIGHT must be"),
    ("MLBOOK_DOCS", "yes", ValueError, "MLBOOK_DOCS must be 0 or 1"),
])
def test_app_from_env_names_the_bad_variable(monkeypatch, tmp_path, variable, value, error, says):
    from mlbook_utils.serving import app_from_env

    monkeypatch.setenv("MLBOOK_MODEL_ROOT", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(error, match=says):
        app_from_env()


def test_app_from_env_reads_its_settings(monkeypatch, tmp_path):
    from mlbook_utils.serving import app_from_env

    monkeypatch.setenv("MLBOOK_MODEL_ROOT", str(tmp_path))
    monkeypatch.setenv("MLBOOK_MODEL_VERSION", " 3 ")
    monkeypatch.setenv("MLBOOK_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("MLBOOK_LOG_LEVEL", "warning")
    app = app_from_env()
    (cors,) = [m for m in app.user_middleware if m.cls.__name__ == "CORSMiddleware"]
    assert cors.kwargs["allow_origins"] == ["https://a.example", "https://b.example"]


def test_served_probabilities_are_the_in_process_ones_with_missing_text(store, fitted):
    """JSON null in a text column must reach the model as NaN (pandas 2 would keep None, which
    scikit-learn's imputers do not count as missing)."""
    import httpx

    model, _ = fitted
    df = make_churn(300, seed=4)
    df = df[df["last_login_date"] >= df["signup_date"]]
    X = df[list(RAW_COLUMNS)]
    assert X["payment_method"].isna().any(), "the test needs rows with a missing category"
    for engine, tolerance in (("sklearn", 1e-12), ("onnx", 1e-5)):  # ONNX Runtime: float32
        with run_server(store, env={"MLBOOK_ENGINE": engine}) as server:
            answer = httpx.post(f"{server.url}/predict/batch", json={"customers": to_records(X)})
            assert httpx.get(f"{server.url}/metadata").json()["engine"] == engine
        served = np.array([p["churn_probability"] for p in answer.json()["predictions"]])
        assert np.abs(served - model.predict_proba(X)[:, 1]).max() < tolerance, engine


def test_the_service_refuses_an_onnx_graph_that_disagrees_with_its_model(tmp_path, fitted):
    """Both artefacts intact (their digests match) but from different models: no start."""
    import httpx

    from mlbook_utils.onnxchurn import churn_to_onnx

    model, X = fitted
    other = make_churn(400, seed=9)
    other_model = build_churn_pipeline().fit(other[list(RAW_COLUMNS)], other["churned"])
    save_model_version(model, tmp_path, "churn", input_example=X.head(3), metrics={},
                       onnx_model=churn_to_onnx(other_model))
    with pytest.raises(RuntimeError, match="differ from the scikit-learn pipeline's"):
        with run_server(tmp_path):
            pass
    with run_server(tmp_path, env={"MLBOOK_ENGINE": "sklearn"}) as server:  # no graph used
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_create_app_refuses_a_fastapi_without_the_body_limit(tmp_path, monkeypatch):
    import fastapi

    class OldFastAPI:  # takes any keyword, as FastAPI before 0.164 took max_body_size
        def __init__(self, **extra: object) -> None:
            pass

    monkeypatch.setattr(fastapi, "FastAPI", OldFastAPI)
    with pytest.raises(RuntimeError, match="FastAPI 0.164 or newer"):
        create_app(tmp_path)


# ---------------------------------------------------------------- parsing and logging rules

@pytest.mark.parametrize(("body", "error", "says"), [
    (b'{"age": 1, "age": 2}', ValueError, "same key twice"),
    (b'{"customers": [{"a": 1}, {"b": 1, "b": 1}]}', ValueError, "same key twice"),
    ('{"age": 1}'.encode("utf-16"), UnicodeError, "."),
    ('{"age": 1}'.encode("utf-16-le"), UnicodeError, "NUL"),
    ('{"age": 1}'.encode("utf-32"), UnicodeError, "."),
    ('{"region": "w\u00e9st"}'.encode("latin-1"), UnicodeError, "can't decode"),
    (b'{"age": ' + b"9" * 40 + b"}", ValueError, "40 characters"),
    (b'{"age": 1.' + b"5" * 5000 + b"}", ValueError, "characters, at most"),
    (b'{"age": 1e99999}', ValueError, "."),  # 8 characters: parsed, inf (the schema refuses it)
])
def test_parse_json_body_refuses_what_the_contract_excludes(body, error, says):
    from mlbook_utils.serving import parse_json_body

    if body == b'{"age": 1e99999}':
        assert parse_json_body(body) == {"age": float("inf")}
        return
    with pytest.raises(error, match=says):
        parse_json_body(body)


def test_parse_json_body_keeps_what_json_allows():
    from mlbook_utils.serving import parse_json_body

    text = json.dumps({"customers": [GOOD, GOOD], "é": "ü"}).encode()
    assert parse_json_body(text) == json.loads(text)
    assert np.isnan(parse_json_body(b'{"age": NaN}')["age"]), "read, then refused as not finite"


def test_log_text_is_escaped_and_capped():
    from mlbook_utils.serving import _printable

    assert _printable("/predict") == "/predict"
    assert _printable("/a\nb\r\x1b[31m\x7f") == "/a\\x0ab\\x0d\\x1b[31m\\x7f"
    assert _printable("/caf\u00e9") == "/caf\\xe9"
    assert len(_printable("x" * 10_000)) == 203


def test_dates_must_be_text_in_iso_form():
    for bad in (1736640000, 1736640000.0, "2025-01-12T00:00:00", "12/01/2025", "2025-1-12"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            Customer.model_validate({**GOOD, "signup_date": bad})
    for bad in ("0001-01-01", "9999-12-31"):
        with pytest.raises(ValueError, match="than or equal"):
            Customer.model_validate({**GOOD, "signup_date": bad, "last_login_date": bad})


def test_the_connection_guard_reads_its_settings(monkeypatch):
    from mlbook_utils.httpguard import _setting

    monkeypatch.setenv("MLBOOK_REQUEST_TIMEOUT_S", " 2.5 ")
    assert _setting("MLBOOK_REQUEST_TIMEOUT_S", 10.0, 0.1) == 2.5
    monkeypatch.delenv("MLBOOK_REQUEST_TIMEOUT_S")
    assert _setting("MLBOOK_REQUEST_TIMEOUT_S", 10.0, 0.1) == 10.0
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("MLBOOK_MAX_CONNECTIONS", bad)
        with pytest.raises(ValueError, match="MLBOOK_MAX_CONNECTIONS must be a number >= 1"):
            _setting("MLBOOK_MAX_CONNECTIONS", 1000, 1)
