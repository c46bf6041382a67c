"""The churn model as an HTTP service, and the tools to run and measure it.

- :func:`create_app` builds the FastAPI application: ``GET /health``, ``GET /metadata``,
  ``POST /predict`` (one customer) and ``POST /predict/batch`` (up to :data:`MAX_BATCH`).
  Requests are validated by pydantic; every bad request gets a 4xx that says what is wrong
  (JSON ``{"detail": ...}``, except a body over the size limit, which FastAPI refuses with the
  plain-text 413 "Content Too Large" before this app sees it), and no request makes it answer 500.
- :func:`app_from_env` is the factory a server starts
  (``uvicorn mlbook_utils.serving:app_from_env --factory``), configured by environment variables,
  as in the container of ``deploy/Dockerfile``.
- :func:`run_server` starts that server as a real uvicorn process on a free loopback port and
  stops it again; :func:`load_test` sends it concurrent requests and measures latency.
- ``python -m mlbook_utils.serving export-model DIR`` trains the book's churn model and saves it
  as a new version in ``DIR`` (what the container build does).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH = 1000
#: Largest request body accepted, in bytes. A full batch of MAX_BATCH customers is about 0.3 MB.
MAX_BODY_BYTES = 1_000_000
_MAX_ERRORS = 20
LOGGER = logging.getLogger("mlbook_utils.serving")

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True)]


class Customer(BaseModel):
    """One customer, as the churn model takes it: every column present, none extra.

    Numbers must be finite JSON numbers (strings such as ``"42"`` are refused), categories one
    of the values the model was trained on, and ``null`` is allowed only where the training
    data had missing values (the pipeline imputes them).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "signup_date": "2025-01-12", "last_login_date": "2025-12-08", "age": 37.0,
            "region": "west", "contract": "month-to-month", "payment_method": "card",
            "internet_service": "dsl", "monthly_charges": 55.17, "total_charges": 605.41,
            "support_calls": 2, "num_products": 2,
        }]},
    )

    signup_date: date
    last_login_date: date
    age: Annotated[Number, Field(ge=16, le=120)] | None
    region: Literal["north", "south", "east", "west"]
    contract: Literal["month-to-month", "one-year", "two-year"]
    payment_method: Literal["mailed check", "card", "electronic check", "bank transfer"] | None
    internet_service: Literal["dsl", "fiber", "none"]
    monthly_charges: Annotated[Number, Field(gt=0, le=100_000)]
    total_charges: Annotated[Number, Field(ge=0, le=10_000_000)] | None
    support_calls: Annotated[Count, Field(ge=0, le=1000)]
    num_products: Annotated[Count, Field(ge=1, le=100)]

    @model_validator(mode="after")
    def _login_after_signup(self) -> Customer:
        if self.last_login_date < self.signup_date:
            raise ValueError("last_login_date is before signup_date")
        return self


class Batch(BaseModel):
    """Between 1 and :data:`MAX_BATCH` customers."""

    model_config = ConfigDict(extra="forbid")
    customers: list[Customer] = Field(min_length=1, max_length=MAX_BATCH)


class Prediction(BaseModel):
    churn_probability: float
    will_churn: bool


class PredictResponse(BaseModel):
    prediction: Prediction
    model_version: int


class BatchResponse(BaseModel):
    predictions: list[Prediction]
    model_version: int


class Health(BaseModel):
    status: Literal["ok"]
    model: str
    model_version: int


def create_app(
    model_root: str | os.PathLike[str],
    name: str = "churn",
    version: int | str = "latest",
    *,
    allow_origins: Sequence[str] = (),
    allow_credentials: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Any:
    """Build the prediction service for one version of a saved model.

    Parameters
    ----------
    model_root, name, version:
        Which model to serve, from a store written by
        :func:`mlbook_utils.versioning.save_model_version`. It is loaded when the server starts
        (the lifespan), so a missing or untrusted model stops the start-up, not the first request.
    allow_origins:
        Web origins (``"https://app.example.com"``) whose pages may call the API from a browser.
        Empty (the default): no CORS headers, which is right for server-to-server calls.
    allow_credentials:
        Let those pages send cookies. Refused together with the wildcard origin ``"*"``: that
        pair would let any web site make calls with a visitor's credentials.
    max_body_bytes:
        Larger bodies are refused with 413 ("Content Too Large") before they are parsed,
        whether they announce their length or arrive in chunks (FastAPI's ``max_body_size``).

    Returns
    -------
    fastapi.FastAPI
    """
    from fastapi import FastAPI, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from mlbook_utils.versioning import _check_name, load_model_version

    _check_name(name)
    if isinstance(allow_origins, str):
        raise TypeError("allow_origins must be a list of origins, not one string")
    if "*" in allow_origins and allow_credentials:
        raise ValueError("allow_origins=['*'] with allow_credentials=True would let any web site "
                         "call the API with a visitor's cookies; list the trusted origins instead")
    if not isinstance(max_body_bytes, int) or max_body_bytes < 1024:
        raise ValueError(f"max_body_bytes must be an int >= 1024, got {max_body_bytes!r}")
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        model, metadata = load_model_version(model_root, name, version)
        state.update(model=model, metadata=metadata, columns=list(metadata["input_schema"]),
                     lock=threading.Lock())
        LOGGER.info("loaded %s v%s", name, metadata["version"])
        yield
        state.clear()

    app = FastAPI(title="Churn prediction", version="1", lifespan=lifespan,
                  summary="The churn model of 'AI/ML Crash Course', served over HTTP.",
                  max_body_size=max_body_bytes)

    def predict(customers: list[Customer]) -> list[Prediction]:
        import pandas as pd
        from sklearn import config_context

        frame = pd.DataFrame([c.model_dump() for c in customers], columns=state["columns"])
        for column in ("signup_date", "last_login_date"):
            frame[column] = pd.to_datetime(frame[column])
        # One prediction at a time: under the GIL, threads interleaving pandas code only slow
        # each other down, and the event loop (which answers /health) stays free.
        with state["lock"], config_context(assume_finite=True):  # NaN and inf were refused
            proba = state["model"].predict_proba(frame)[:, 1]
        threshold = state["metadata"]["threshold"]
        return [Prediction(churn_probability=float(p), will_churn=bool(p >= threshold)) for p in proba]

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = []
        for err in errors[:_MAX_ERRORS]:
            where = ".".join(str(part) for part in err["loc"])
            message = err["msg"]
            if err["type"] == "json_invalid":
                message = f"malformed JSON: {err.get('ctx', {}).get('error', 'cannot parse')}"
            detail.append({"field": where, "message": message})
        return JSONResponse({"detail": detail, "error_count": len(errors)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        # FastAPI answers "There was an error parsing the body" for bodies that are not even
        # JSON text; say why.
        cause = exc.__cause__
        if exc.status_code == 400 and cause is not None:
            reason = {UnicodeDecodeError: "it is not UTF-8 text",
                      RecursionError: "it is nested too deeply"}.get(type(cause), type(cause).__name__)
            return JSONResponse({"detail": f"cannot parse the body as JSON: {reason}"}, status_code=400)
        return await http_exception_handler(request, exc)

    @app.middleware("http")
    async def log_and_check_type(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "POST" and kind != "application/json":
            response = JSONResponse(
                {"detail": f"Content-Type must be application/json, got {kind or 'none'}"},
                status_code=415)
        else:
            response = await call_next(request)
        ms = (time.perf_counter() - start) * 1000
        response.headers["X-Process-Time-Ms"] = f"{ms:.2f}"
        LOGGER.info("%s %s %d %.1f ms", request.method, request.url.path, response.status_code, ms)
        return response

    @app.get("/health", response_model=Health)
    def health() -> Health:
        """Liveness and readiness: the model is loaded and the process answers."""
        return Health(status="ok", model=name, model_version=state["metadata"]["version"])

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        """What is being served: version, metrics, threshold, input schema, library versions."""
        return {k: v for k, v in state["metadata"].items() if k != "input_example"}

    @app.post("/predict", response_model=PredictResponse)
    def predict_one(customer: Customer) -> PredictResponse:
        """Churn probability for one customer."""
        return PredictResponse(prediction=predict([customer])[0],
                               model_version=state["metadata"]["version"])

    @app.post("/predict/batch", response_model=BatchResponse)
    def predict_batch(batch: Batch) -> BatchResponse:
        """Churn probabilities for 1 to MAX_BATCH customers, in the order sent."""
        return BatchResponse(predictions=predict(batch.customers),
                             model_version=state["metadata"]["version"])

    if allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(allow_origins),
                           allow_credentials=allow_credentials, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600)
    return app


def app_from_env() -> Any:
    """The app configured by environment variables (the container's entry point).

    ``MLBOOK_MODEL_ROOT`` (required), ``MLBOOK_MODEL_NAME`` (``churn``),
    ``MLBOOK_MODEL_VERSION`` (``latest`` or a number), ``MLBOOK_ALLOWED_ORIGINS`` (comma-separated,
    empty by default) and ``MLBOOK_LOG_LEVEL`` (``INFO``).
    """
    root = os.environ.get("MLBOOK_MODEL_ROOT")
    if not root:
        raise RuntimeError("set MLBOOK_MODEL_ROOT to the folder that holds the saved models")
    level = os.environ.get("MLBOOK_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    raw_version = os.environ.get("MLBOOK_MODEL_VERSION", "latest")
    origins = [o.strip() for o in os.environ.get("MLBOOK_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    return create_app(root, os.environ.get("MLBOOK_MODEL_NAME", "churn"),
                      raw_version if raw_version == "latest" else int(raw_version),
                      allow_origins=origins)


def export_model(root: str | os.PathLike[str], *, n_customers: int = 5000, seed: int = 0) -> int:
    """Train the book's churn model on :func:`mlbook_utils.make_churn` data and save it.

    Scores it on a held-out quarter (ROC AUC and average precision), saves it as the next
    version under ``root/churn`` and returns the version number.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from mlbook_utils._validate import check_int, check_seed
    from mlbook_utils.churn import RAW_COLUMNS, build_churn_pipeline
    from mlbook_utils.synthetic import make_churn
    from mlbook_utils.versioning import save_model_version

    check_int("n_customers", n_customers, minimum=200)
    df = make_churn(n_customers, seed=check_seed(seed)).drop_duplicates()
    X, y = df[list(RAW_COLUMNS)], df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    model = build_churn_pipeline().fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    metrics = {"roc_auc": roc_auc_score(y_test, proba),
               "average_precision": average_precision_score(y_test, proba)}
    return save_model_version(model, root, "churn", input_example=X_test.head(5), metrics=metrics,
                              params={"n_customers": n_customers, "seed": seed,
                                      "classifier": type(model[-1]).__name__})


def to_records(frame: Any) -> list[dict[str, Any]]:
    """Rows of a churn table as the JSON customers the service takes.

    Keeps the model's columns (:data:`mlbook_utils.churn.RAW_COLUMNS`) in order, writes dates
    as ``YYYY-MM-DD`` and missing values as ``None`` (JSON ``null``).

    Examples
    --------
    >>> from mlbook_utils import make_churn
    >>> record = to_records(make_churn(10, seed=0))[0]
    >>> record["signup_date"], sorted(record) == sorted(Customer.model_fields)
    ('2025-04-02', True)
    """
    import json

    import pandas as pd

    from mlbook_utils.churn import RAW_COLUMNS

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the model's columns {missing}")
    X = frame[list(RAW_COLUMNS)]
    dates = {c: pd.to_datetime(X[c]).dt.strftime("%Y-%m-%d") for c in ("signup_date", "last_login_date")}
    return json.loads(X.assign(**dates).to_json(orient="records"))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running server started by :func:`run_server`."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_server(
    model_root: str | os.PathLike[str],
    *,
    env: dict[str, str] | None = None,
    startup_timeout: float = 60.0,
    log_level: str = "WARNING",
) -> Iterator[Server]:
    """Run the service in a real uvicorn process on a free 127.0.0.1 port, for a ``with`` block.

    Waits until ``/health`` answers 200 (raising ``RuntimeError`` with the server's log if the
    process dies or ``startup_timeout`` passes), yields a :class:`Server`, and stops the process
    on exit (SIGTERM, then SIGKILL after 10 s). The log goes to a temporary file that is removed.

    ``env`` adds environment variables (``MLBOOK_ALLOWED_ORIGINS``, ``MLBOOK_MODEL_VERSION``...).
    """
    import httpx

    if not Path(model_root).is_dir():
        raise FileNotFoundError(f"model_root {model_root} is not a folder")
    if startup_timeout <= 0:
        raise ValueError(f"startup_timeout must be positive, got {startup_timeout}")
    with tempfile.TemporaryDirectory(prefix="mlbook-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "mlbook_utils.serving:app_from_env", "--factory",
                   "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                   "--log-level", log_level.lower()]
        child_env = {**os.environ, "MLBOOK_MODEL_ROOT": str(model_root),
                     "MLBOOK_LOG_LEVEL": log_level, **(env or {})}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env,
                                       stdin=subprocess.DEVNULL)
        server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with code {process.returncode}:\n{server.log()}")
                try:
                    if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer /health in {startup_timeout} s:\n"
                                       f"{server.log()}")
                time.sleep(0.05)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class LoadTestResult:
    """What :func:`load_test` measured. Latencies are per request, in milliseconds."""

    n_requests: int
    concurrency: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    @property
    def throughput(self) -> float:
        """Requests per second over the whole run."""
        return self.n_requests / self.seconds

    def percentile(self, q: float) -> float:
        """The q-th percentile of the latencies (q in [0, 100])."""
        return float(np.percentile(self.latencies_ms, q))

    def __str__(self) -> str:
        return (f"{self.n_requests} requests at concurrency {self.concurrency}: {self.errors} errors, "
                f"{self.throughput:.0f} req/s, p50 {self.percentile(50):.1f} ms, "
                f"p99 {self.percentile(99):.1f} ms")


def load_test(
    url: str,
    payload: Any,
    *,
    n_requests: int = 1000,
    concurrency: int = 16,
    timeout: float = 30.0,
) -> LoadTestResult:
    """POST ``payload`` as JSON to ``url`` ``n_requests`` times from ``concurrency`` threads.

    Each thread keeps one connection open (as a client with a connection pool would). A
    response other than 200, or a transport error, counts as an error. Threads rather than
    asyncio, so that it also runs inside a notebook's event loop.
    """
    import httpx

    from mlbook_utils._validate import check_int

    n_requests = check_int("n_requests", n_requests, minimum=1)
    concurrency = check_int("concurrency", concurrency, minimum=1)
    if concurrency > n_requests:
        raise ValueError(f"concurrency ({concurrency}) must not exceed n_requests ({n_requests})")
    latencies = np.empty(n_requests)
    errors = [0] * concurrency
    next_index = iter(range(n_requests))
    lock = threading.Lock()

    def worker(k: int) -> None:
        with httpx.Client(timeout=timeout) as client:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                start = time.perf_counter()
                try:
                    ok = client.post(url, json=payload).status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies[i] = (time.perf_counter() - start) * 1000
                errors[k] += not ok

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return LoadTestResult(n_requests=n_requests, concurrency=concurrency, errors=sum(errors),
                          seconds=time.perf_counter() - start, latencies_ms=latencies)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlbook_utils.serving export-model DIR``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mlbook_utils.serving")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export-model", help="train the churn model and save it as a new version")
    export.add_argument("root", type=Path)
    export.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    version = export_model(args.root, seed=args.seed)
    print(f"saved churn v{version} in {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
