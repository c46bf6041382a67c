"""The prediction service against a real uvicorn process on loopback.

Every malformed or hostile request gets a 4xx whose JSON says what is wrong, never a 500; the
server keeps answering correctly afterwards; and a bounded load test finishes without errors.
A second server, with short deadlines and small limits, is attacked as a crowd of slow clients
and as an overload would: it sheds predictions with 503 and ``Retry-After``, cuts the slow
connections, and ``/health`` answers within a second throughout.
Run by ``make test-service``, on its own, so that the load test cannot slow the page timings.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
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


def encoded(text_encoding: str) -> dict:
    return {"content": json.dumps(GOOD).encode(text_encoding), "headers": JSON}


def duplicate(field: str, value: object) -> dict:
    """The good customer as raw JSON with ``field`` given a second time, last."""
    text = json.dumps(GOOD)[:-1] + f", {json.dumps(field)}: {json.dumps(value)}}}"
    return raw(text)


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
    ("Unix timestamp for a date", "POST", "/predict", {"json": customer(signup_date=1736640000)}, 422, "YYYY-MM-DD"),
    ("float timestamp for a date", "POST", "/predict", {"json": customer(last_login_date=1765152000.5)}, 422, "YYYY-MM-DD"),
    ("date and time for a date", "POST", "/predict", {"json": customer(signup_date="2025-01-12T00:00:00Z")}, 422, "YYYY-MM-DD"),
    ("signup in the year 1", "POST", "/predict", {"json": customer(signup_date="0001-01-01")}, 422, "greater than or equal"),
    ("dates in 9999", "POST", "/predict",
     {"json": customer(signup_date="9999-01-01", last_login_date="9999-12-31")}, 422, "less than or equal"),
    ("login after the model's snapshot", "POST", "/predict", {"json": customer(last_login_date="2026-03-01")}, 422, "trained on"),
    ("signup before the training data", "POST", "/predict", {"json": customer(signup_date="2005-06-01")}, 422, "trained on"),
    ("a future customer in a batch", "POST", "/predict/batch",
     {"json": {"customers": [GOOD, customer(signup_date="2030-01-01", last_login_date="2030-02-01")]}}, 422,
     "body.customers.1.signup_date"),
    ("login before signup (dates swapped)", "POST", "/predict",
     {"json": customer(signup_date=GOOD["last_login_date"], last_login_date=GOOD["signup_date"])}, 422, "before signup"),
    ("a list of features", "POST", "/predict", {"json": list(GOOD.values())}, 422, "dictionary"),
    ("a bare number", "POST", "/predict", {"json": 42}, 422, "dictionary"),
    ("empty body", "POST", "/predict", {"content": b"", "headers": JSON}, 422, "Field required"),
    ("truncated JSON", "POST", "/predict", raw('{"age": '), 422, "malformed JSON"),
    ("trailing garbage", "POST", "/predict", raw(json.dumps(GOOD) + "}}"), 422, "malformed JSON"),
    ("invalid UTF-8", "POST", "/predict", {"content": b'{"region": "\xff\xfe"}', "headers": JSON}, 400, "not UTF-8"),
    ("UTF-16 body", "POST", "/predict", encoded("utf-16"), 400, "not UTF-8"),
    ("UTF-16 body without BOM", "POST", "/predict", encoded("utf-16-be"), 400, "not UTF-8"),
    ("UTF-32 body", "POST", "/predict", encoded("utf-32"), 400, "not UTF-8"),
    ("Latin-1 body", "POST", "/predict",
     {"content": json.dumps(customer(region="w\u00e9st"), ensure_ascii=False).encode("latin-1"), "headers": JSON},
     400, "not UTF-8"),
    ("charset other than UTF-8", "POST", "/predict",
     {"content": json.dumps(GOOD).encode("utf-16"), "headers": {"content-type": "application/json; charset=utf-16"}},
     415, "UTF-8"),
    ("duplicate key", "POST", "/predict", duplicate("age", 99.0), 422, "same key twice"),
    ("duplicate key overriding a bad value", "POST", "/predict", duplicate("region", "west"), 422, "same key twice"),
    ("duplicate key inside a batch", "POST", "/predict/batch",
     raw('{"customers": [' + json.dumps(GOOD)[:-1] + ', "age": 1.0}]}'), 422, "same key twice"),
    ("5000-digit integer", "POST", "/predict", with_text("support_calls", "1" * 5000), 422, "5000 characters"),
    ("5000-digit fraction", "POST", "/predict", with_text("age", "37." + "1" * 5000), 422, "characters, at most"),
    ("gzip body", "POST", "/predict", {"json": GOOD, "headers": {"content-encoding": "gzip"}}, 415, "Content-Encoding gzip"),
    ("brotli body", "POST", "/predict/batch", {"json": {"customers": [GOOD]}, "headers": {"content-encoding": "br"}},
     415, "send the body uncompressed"),
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
    ("POST to an unknown route", "POST", "/admin", {"json": GOOD}, 404, "Not Found"),
    ("POST to an unknown route, no content type", "POST", "/score", {"content": b"x"}, 404, "Not Found"),
    ("POST to /health", "POST", "/health", {"json": GOOD}, 405, "Method Not Allowed"),
    ("interactive docs", "GET", "/docs", {}, 404, "Not Found"),
    ("OpenAPI schema", "GET", "/openapi.json", {}, 404, "Not Found"),
    ("ReDoc", "GET", "/redoc", {}, 404, "Not Found"),
    ("trailing slash with a foreign Host", "GET", "/health/", {"headers": {"host": "evil.example"}}, 404, "Not Found"),
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


def test_there_are_at_least_65_hostile_cases():
    assert len(HOSTILE) >= 65
    assert len({case[0] for case in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("name, method, path, kwargs, status, says", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_request_gets_a_clear_4xx(client, first_answer, name, method, path, kwargs, status, says):
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, f"{name}: {r.status_code} {r.text[:300]}"
    assert 400 <= r.status_code < 500
    assert "location" not in r.headers, f"{name}: no redirect, least of all to another host"
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
    assert meta["engine"] == "onnx" and meta["onnx_sha256"] and meta["dates"]["snapshot"] == "2025-12-31"
    text = json.dumps(meta)
    for library in ("libraries", "scikit-learn", "numpy", "pandas", "fastapi", "onnxruntime"):
        assert library not in text, f"/metadata reports the model, not the stack: {library}"
    p = first_answer["prediction"]
    assert 0 <= p["churn_probability"] <= 1
    assert p["will_churn"] == (p["churn_probability"] >= meta["threshold"])


@pytest.mark.parametrize("path", ["/health", "/metadata"])
def test_head_answers_like_get_without_a_body(client, path):
    head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_unknown_fields_are_not_echoed(client):
    """21 unknown keys of 40 kB each, markup included: the answer stays small and names none."""
    keys = [f"<script>alert({i})</script>" + "k" * 40_000 for i in range(21)]
    r = client.post("/predict", json=customer(**{k: 1 for k in keys}))
    assert r.status_code == 422
    assert len(r.content) < 5_000, len(r.content)
    assert "<script>" not in r.text and "kkkk" not in r.text
    body = r.json()
    assert body["error_count"] == 21 and len(body["detail"]) == 20
    assert all(e["field"] == "body" and "Extra inputs" in e["message"] for e in body["detail"])
    nested = client.post("/predict/batch", json={"customers": [GOOD, customer(**{keys[0]: 1})]})
    assert nested.json()["detail"][0]["field"] == "body.customers.1" and "<script>" not in nested.text


def wait_for_log(server, text: str, timeout: float = 5.0) -> str:
    """The server's log once it holds ``text``: a request is logged after its answer is sent."""
    deadline = time.monotonic() + timeout
    while text not in (log := server.log()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


def test_control_characters_in_a_path_are_escaped_in_the_log(server, client):
    assert client.get("/x%0A2026-01-01 00:00:00,000 INFO forged%0D%1B[31m").status_code == 404
    log = wait_for_log(server, "forged")
    assert "forged" in log and not any(line.startswith("2026-01-01") for line in log.splitlines())
    assert "/x\\x0a2026-01-01" in log and "\\x1b[31m" in log and "\x1b" not in log


def test_batch_matches_single_predictions_in_order(client, first_answer):
    other = customer(contract="two-year", support_calls=0)
    single_other = client.post("/predict", json=other).json()["prediction"]
    batch = client.post("/predict/batch", json={"customers": [GOOD, other, GOOD]}).json()
    probs = [p["churn_probability"] for p in batch["predictions"]]
    assert probs == pytest.approx([first_answer["prediction"]["churn_probability"],
                                   single_other["churn_probability"],
                                   first_answer["prediction"]["churn_probability"]], abs=1e-6)
    # ONNX Runtime computes in float32 and its kernels may round a batch of one differently
    # from a longer batch: equal to the last bit or two (a float32 step near 0.5 is 6e-8).
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
    """A bounded load test: 5,000 requests from 32 concurrent clients, no errors, no 5xx."""
    result = load_test(f"{server.url}/predict", GOOD, n_requests=5000, concurrency=32)
    summary = str(result)
    print(summary)
    out = ROOT / "_build"
    out.mkdir(exist_ok=True)
    (out / "load-test.txt").write_text(
        f"{summary} ({result.seconds:.1f} s, {os.cpu_count()} CPUs, one uvicorn worker)\n")
    assert result.errors == 0, summary
    assert result.percentile(99) < 30_000  # no request came near the client timeout
    assert not re.search(r"POST /predict\S* 5\d\d ", server.log()), "a 5xx in the log"


# ---------------------------------------------------------------- slow clients and overload

GUARD_TIMEOUT_S = 2
GUARD_MAX_CONNECTIONS = 150


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server with a 2 s request deadline, 150 connections and 2 predictions in progress."""
    root = tmp_path_factory.mktemp("guarded")
    export_model(root, n_customers=2000)
    env = {"MLBOOK_REQUEST_TIMEOUT_S": str(GUARD_TIMEOUT_S), "MLBOOK_MAX_IN_FLIGHT": "2",
           "MLBOOK_MAX_CONNECTIONS": str(GUARD_MAX_CONNECTIONS)}
    with run_server(root, log_level="INFO", env=env) as s:
        yield s


def health_seconds(url: str) -> float:
    """Time for /health on a new connection (as a probe makes it); fails unless it is a 200."""
    start = time.perf_counter()
    r = httpx.get(f"{url}/health", timeout=5)
    assert r.status_code == 200, r.text
    return time.perf_counter() - start


def open_sockets(url: str, n: int, first_bytes: bytes = b"") -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)), timeout=5)
        if first_bytes:
            s.sendall(first_bytes)
        socks.append(s)
    return socks


def closed_by_server(s: socket.socket, within: float) -> bytes | None:
    """What the server sent before closing the socket, or None if it is still open."""
    s.settimeout(within)
    data = b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except (TimeoutError, socket.timeout):
        return None
    except ConnectionResetError:
        pass
    return data


@pytest.mark.parametrize("kind, first_bytes", [
    ("idle: connected, nothing sent", b""),
    ("headers trickled", b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-"),
    ("body trickled", b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                      b"content-length: 400\r\n\r\n{\"age\""),
])
def test_slow_clients_are_cut_and_health_still_answers(guarded, kind, first_bytes):
    n = 120
    socks = open_sockets(guarded.url, n, first_bytes)
    try:
        assert health_seconds(guarded.url) < 1, f"{kind}: /health with {n} sockets held"
        for s in socks[:5]:  # one more byte each: trickling does not extend the deadline
            s.sendall(b"x" if first_bytes else b"G")
        answers = [closed_by_server(s, within=GUARD_TIMEOUT_S + 3) for s in socks]
        assert all(a is not None for a in answers), f"{kind}: sockets still open after the deadline"
        if first_bytes:  # a request that never arrived: 408; one that waited for its body may
            # also have been shed (it counted as a prediction in progress): then 503, then cut
            assert all(a.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")) for a in answers), answers[:3]
            assert any(a.startswith(b"HTTP/1.1 408") for a in answers)
    finally:
        for s in socks:
            s.close()
    assert health_seconds(guarded.url) < 1


def test_a_crowd_of_idle_sockets_beyond_the_limit_cannot_lock_out_health(guarded):
    socks = open_sockets(guarded.url, 3 * GUARD_MAX_CONNECTIONS)  # 450 sockets, limit 150
    try:
        times = [health_seconds(guarded.url) for _ in range(5)]
        assert max(times) < 1, times
        still_open = sum(closed_by_server(s, within=0.01) is None for s in socks)
        assert still_open <= GUARD_MAX_CONNECTIONS, "the oldest idle connections made room"
    finally:
        for s in socks:
            s.close()


def test_a_keep_alive_connection_gets_the_deadline_for_each_request(guarded):
    (s,) = open_sockets(guarded.url, 1, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    try:
        s.settimeout(5)
        first = b""
        while not first.endswith(b"}"):  # the whole first answer: headers and JSON body
            first += s.recv(4096)
        assert first.startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /health HTTP/1.1\r\nho")  # then nothing more
        answer = closed_by_server(s, within=GUARD_TIMEOUT_S + 3)
        assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
    finally:
        s.close()


def test_predictions_beyond_the_limit_get_503_and_retry_after(guarded):
    """Two requests whose bodies never finish hold both slots: the next prediction is refused at
    once, /health is not; once the deadline cuts the two, predictions are served again."""
    head = (b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 400\r\n\r\n{")
    holders = open_sockets(guarded.url, 2, head)
    try:
        time.sleep(0.3)  # let the server start both requests
        r = httpx.post(f"{guarded.url}/predict", json=GOOD, timeout=5)
        assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
        assert "overloaded" in r.json()["detail"]
        assert health_seconds(guarded.url) < 1
        assert httpx.get(f"{guarded.url}/metadata", timeout=5).status_code == 200
        for s in holders:
            assert closed_by_server(s, within=GUARD_TIMEOUT_S + 3) is not None
    finally:
        for s in holders:
            s.close()
    assert httpx.post(f"{guarded.url}/predict", json=GOOD, timeout=5).status_code == 200


def test_overload_is_shed_with_503_and_health_does_not_wait(guarded):
    # full batches, encoded once, so that the client threads leave the CPU to the server
    batch = json.dumps({"customers": [GOOD] * MAX_BATCH}).encode()
    statuses: list[int] = []
    retry_after: set[str] = set()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=guarded.url, timeout=60) as c:
            for _ in range(10):
                r = c.post("/predict/batch", content=batch, headers=JSON)
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        retry_after.add(r.headers.get("retry-after", ""))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    health = []
    while any(t.is_alive() for t in threads):
        health.append(health_seconds(guarded.url))
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert set(statuses) <= {200, 503} and 200 in statuses, sorted(set(statuses))
    assert retry_after <= {"1"}
    assert len(health) >= 2 and max(health) < 1, f"/health took up to {max(health):.2f} s under load"
    log = guarded.log()
    assert "Traceback" not in log and " 500 " not in log
