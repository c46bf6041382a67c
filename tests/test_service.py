"""The prediction service against a real uvicorn process on loopback.

Every malformed or hostile request gets a 4xx whose JSON says what is wrong, never a 500; the
server keeps answering correctly afterwards; and a bounded load test finishes without errors.
Run by ``make test-service``, on its own, so that the load test cannot slow the page timings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from mlbook_utils.export import export_model
from mlbook_utils.serverrun import load_test, run_server
from mlbook_utils.serving import EXAMPLE_CUSTOMER, MAX_BATCH, MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_ORIGIN = "https://app.example.com"
GOOD = dict(EXAMPLE_CUSTOMER)
DROP = object()
JSON = {"content-type": "application/json"}


def customer(**changes: object) -> dict:
    c = dict(GOOD)
    for key, value in changes.items():
        if value is DROP:
            c.pop(key)
        else:
            c[key] = value
    return c


def raw(text: str) -> dict:
    return {"content": text.encode(), "headers": JSON}


def with_text(field: str, text: str) -> dict:
    """The good customer as raw JSON, with ``text`` written verbatim as the value of ``field``."""
    marker = "@@value@@"
    return raw(json.dumps(customer(**{field: marker})).replace(json.dumps(marker), text))


def chunks():  # a body without Content-Length: httpx sends it chunked
    for _ in range(300):
        yield b" " * 10_000


# (name, method, path, request keyword arguments, expected status, text the message must contain)
HOSTILE = [
    ("NaN literal", "POST", "/predict", with_text("age", "NaN"), 422, "finite"),
    ("Infinity literal", "POST", "/predict", with_text("monthly_charges", "Infinity"), 422, "finite"),
    ("-Infinity literal", "POST", "/predict", with_text("total_charges", "-Infinity"), 422, "finite"),
    ("number overflowing to inf", "POST", "/predict", with_text("monthly_charges", "1e400"), 422, "finite"),
    ("'NaN' as a string", "POST", "/predict", {"json": customer(age="NaN")}, 422, "number"),
    ("text for a number", "POST", "/predict", {"json": customer(age="forty")}, 422, "number"),
    ("numeric string", "POST", "/predict", {"json": customer(monthly_charges=str(GOOD["monthly_charges"]))}, 422, "number"),
    ("bool for a count", "POST", "/predict", {"json": customer(support_calls=True)}, 422, "integer"),
    ("fraction for a count", "POST", "/predict", {"json": customer(num_products=1.5)}, 422, "integer"),
    ("negative count", "POST", "/predict", {"json": customer(support_calls=-1)}, 422, "greater than or equal"),
    ("age out of range", "POST", "/predict", {"json": customer(age=500)}, 422, "less than or equal"),
    ("zero products", "POST", "/predict", {"json": customer(num_products=0)}, 422, "greater than or equal"),
    ("null where not allowed", "POST", "/predict", {"json": customer(monthly_charges=None)}, 422, "number"),
    ("a feature missing", "POST", "/predict", {"json": customer(age=DROP)}, 422, "Field required"),
    ("an extra feature", "POST", "/predict", {"json": customer(favourite_colour="red")}, 422, "Extra inputs"),
    ("unknown category", "POST", "/predict", {"json": customer(region="mars")}, 422, "'north'"),
    ("10 kB string for a category", "POST", "/predict", {"json": customer(region="x" * 10_000)}, 422, "'north'"),
    ("10 kB string for a date", "POST", "/predict", {"json": customer(signup_date="2" * 10_000)}, 422, "date"),
    ("impossible date", "POST", "/predict", {"json": customer(signup_date="2025-13-45")}, 422, "date"),
    ("login before signup (dates swapped)", "POST", "/predict",
     {"json": customer(signup_date=GOOD["last_login_date"], last_login_date=GOOD["signup_date"])}, 422, "before signup"),
    ("a list of features", "POST", "/predict", {"json": list(GOOD.values())}, 422, "dictionary"),
    ("a bare number", "POST", "/predict", {"json": 42}, 422, "dictionary"),
    ("empty body", "POST", "/predict", {"content": b"", "headers": JSON}, 422, "Field required"),
    ("truncated JSON", "POST", "/predict", raw('{"age": '), 422, "malformed JSON"),
    ("trailing garbage", "POST", "/predict", raw(json.dumps(GOOD) + "}}"), 422, "malformed JSON"),
    ("invalid UTF-8", "POST", "/predict", {"content": b'{"region": "\xff\xfe"}', "headers": JSON}, 400, "not UTF-8"),
    ("100k nested arrays", "POST", "/predict", raw("[" * 100_000), 400, "nested too deeply"),
    ("text/plain body", "POST", "/predict", {"content": json.dumps(GOOD), "headers": {"content-type": "text/plain"}}, 415, "application/json"),
    ("form-encoded body", "POST", "/predict", {"data": {"age": "37"}}, 415, "application/json"),
    ("no content type", "POST", "/predict", {"content": json.dumps(GOOD).encode()}, 415, "application/json"),
    ("empty batch", "POST", "/predict/batch", {"json": {"customers": []}}, 422, "at least 1"),
    ("oversized batch", "POST", "/predict/batch", {"json": {"customers": [GOOD] * (MAX_BATCH + 1)}}, 422, f"at most {MAX_BATCH}"),
    ("batch of one object", "POST", "/predict/batch", {"json": {"customers": GOOD}}, 422, "valid list"),
    ("one bad customer in a batch", "POST", "/predict/batch", {"json": {"customers": [GOOD, customer(age="x")]}}, 422, "number"),
    ("batch with an extra key", "POST", "/predict/batch", {"json": {"customers": [GOOD], "debug": True}}, 422, "Extra inputs"),
    ("2 MB body", "POST", "/predict/batch", raw(" " * (2 * MAX_BODY_BYTES)), 413, "Content Too Large"),
    ("3 MB chunked body", "POST", "/predict/batch", {"content": chunks(), "headers": JSON}, 413, "Content Too Large"),
    ("unknown route", "GET", "/admin", {}, 404, "Not Found"),
    ("encoded path traversal", "GET", "/%2e%2e/%2e%2e/etc/passwd", {}, 404, "Not Found"),
    ("GET on /predict", "GET", "/predict", {}, 405, "Method Not Allowed"),
    ("DELETE on /health", "DELETE", "/health", {}, 405, "Method Not Allowed"),
    ("CORS preflight from another site", "OPTIONS", "/predict",
     {"headers": {"origin": "https://evil.example", "access-control-request-method": "POST"}}, 400, "Disallowed CORS origin"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    export_model(root, n_customers=2000)
    with run_server(root, log_level="INFO", env={"MLBOOK_ALLOWED_ORIGINS": ALLOWED_ORIGIN}) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def first_answer(client):
    r = client.post("/predict", json=GOOD)
    assert r.status_code == 200, r.text
    return r.json()


def test_there_are_at_least_30_hostile_cases():
    assert len(HOSTILE) >= 30
    assert len({case[0] for case in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("name, method, path, kwargs, status, says", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_request_gets_a_clear_4xx(client, first_answer, name, method, path, kwargs, status, says):
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, f"{name}: {r.status_code} {r.text[:300]}"
    assert 400 <= r.status_code < 500
    text = r.text
    assert says in text, f"{name}: the answer does not say {says!r}: {text[:300]}"
    if r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        assert body["detail"], name
        if status == 422:
            assert all(e["field"] and e["message"] for e in body["detail"])
    # and the server still answers correctly
    assert client.post("/predict", json=GOOD).json() == first_answer


def test_health_metadata_and_prediction(client, first_answer):
    health = client.get("/health").json()
    assert health == {"status": "ok", "model": "churn", "model_version": 1}
    meta = client.get("/metadata").json()
    assert meta["version"] == 1 and 0.5 < meta["metrics"]["roc_auc"] <= 1
    assert list(meta["input_schema"]) == list(GOOD)
    p = first_answer["prediction"]
    assert 0 <= p["churn_probability"] <= 1
    assert p["will_churn"] == (p["churn_probability"] >= meta["threshold"])


def test_batch_matches_single_predictions_in_order(client, first_answer):
    other = customer(contract="two-year", support_calls=0)
    single_other = client.post("/predict", json=other).json()["prediction"]
    batch = client.post("/predict/batch", json={"customers": [GOOD, other, GOOD]}).json()
    probs = [p["churn_probability"] for p in batch["predictions"]]
    assert probs == pytest.approx([first_answer["prediction"]["churn_probability"],
                                   single_other["churn_probability"],
                                   first_answer["prediction"]["churn_probability"]], abs=1e-12)
    full = client.post("/predict/batch", json={"customers": [GOOD] * MAX_BATCH})
    assert full.status_code == 200 and len(full.json()["predictions"]) == MAX_BATCH


def test_nulls_where_the_training_data_had_gaps_are_imputed(client):
    r = client.post("/predict", json=customer(age=None, payment_method=None, total_charges=None))
    assert r.status_code == 200, r.text


def test_cors_allows_only_the_configured_origin(client):
    ok = client.options("/predict", headers={"origin": ALLOWED_ORIGIN,
                                             "access-control-request-method": "POST"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in ok.headers
    plain = client.get("/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_the_log_has_one_line_per_request_and_no_tracebacks(server, client):
    client.get("/health")
    log = server.log()
    assert "GET /health 200" in log
    assert "Traceback" not in log and " 500 " not in log


def test_load(server, first_answer):
    """A bounded load test: 2,000 requests from 32 concurrent clients, no errors."""
    result = load_test(f"{server.url}/predict", GOOD, n_requests=2000, concurrency=32)
    summary = str(result)
    print(summary)
    out = ROOT / "_build"
    out.mkdir(exist_ok=True)
    (out / "load-test.txt").write_text(
        f"{summary} ({result.seconds:.1f} s, {os.cpu_count()} CPUs, one uvicorn worker)\n")
    assert result.errors == 0, summary
    assert result.percentile(99) < 30_000  # no request came near the client timeout
