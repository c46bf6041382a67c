"""The churn model as an HTTP service: the request and response schemas and the application.

- :class:`Customer` and :class:`Batch` are the contract: what a request may contain. The
  categories are the generator's (:mod:`mlbook_utils.synthetic`), so the schema accepts exactly
  the values the model was trained on. :data:`EXAMPLE_CUSTOMER` is one valid customer.
- :func:`create_app` builds the FastAPI application: ``GET /health``, ``GET /metadata``,
  ``POST /predict`` (one customer) and ``POST /predict/batch`` (up to :data:`MAX_BATCH`).
  Requests are validated by pydantic; every bad request gets a 4xx that says what is wrong
  (JSON ``{"detail": ...}``, except a body over the size limit, which FastAPI refuses with the
  plain-text 413 "Content Too Large" before this app sees it), and no request makes it answer 500.
  Predictions run on ONNX Runtime (:mod:`mlbook_utils.onnxchurn`), checked against the
  scikit-learn pipeline when the model loads; more predictions in progress than the server can
  work through are refused with 503 and ``Retry-After``, while ``/health`` and ``/metadata``
  never wait for them.
- :func:`app_from_env` is the factory a server starts
  (``uvicorn mlbook_utils.serving:app_from_env --factory``), configured by environment variables,
  as in the container of ``deploy/Dockerfile``.
- :func:`to_records` turns rows of a churn table into the JSON customers the service takes.

Running the service as a process and load-testing it is :mod:`mlbook_utils.serverrun` (and the
connection timeouts that protect it, :mod:`mlbook_utils.httpguard`); training and saving the
model it serves is :mod:`mlbook_utils.export`.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mlbook_utils._validate import check_bool, check_int, check_name, check_strings, check_version
from mlbook_utils.synthetic import CONTRACTS, INTERNET, PAYMENT_METHODS, REGIONS

#: Most customers in one ``POST /predict/batch``.
MAX_BATCH = 1000
#: Largest request body accepted, in bytes. A full batch of MAX_BATCH customers is about 0.3 MB.
MAX_BODY_BYTES = 1_000_000
#: Most characters in one JSON number (a float needs at most 24).
MAX_NUMBER_CHARS = 32
#: Most prediction requests in progress in one worker; the next ones get 503 and Retry-After.
MAX_IN_FLIGHT = 64
#: How predictions are computed: ONNX Runtime (the default) or the scikit-learn pipeline itself.
ENGINES: tuple[str, ...] = ("onnx", "sklearn")
#: Dates outside these are refused by the schema; the model's own range is narrower (create_app).
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(2099, 12, 31)
_MAX_ERRORS = 20
_PREDICT_PATHS = frozenset({"/predict", "/predict/batch"})
LOGGER = logging.getLogger("mlbook_utils.serving")

#: One valid customer, as a client sends it (read-only; ``dict(EXAMPLE_CUSTOMER)`` for a copy).
#: The OpenAPI schema shows it as the example, and the tests start their bad requests from it.
EXAMPLE_CUSTOMER: Mapping[str, Any] = MappingProxyType({
    "signup_date": "2025-01-12", "last_login_date": "2025-12-08", "age": 37.0,
    "region": "west", "contract": "month-to-month", "payment_method": "card",
    "internet_service": "dsl", "monthly_charges": 55.17, "total_charges": 605.41,
    "support_calls": 2, "num_products": 2,
})


def _date_text(value: Any) -> Any:
    """A date must arrive as ``YYYY-MM-DD`` text: a number would be read as a Unix timestamp."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True)]
Day = Annotated[date, Field(ge=FIRST_DATE, le=LAST_DATE), BeforeValidator(_date_text)]


class Customer(BaseModel):
    """One customer, as the churn model takes it: every column present, none extra.

    Numbers must be finite JSON numbers (strings such as ``"42"`` are refused), categories one
    of the values the model was trained on (the generator's lists in
    :mod:`mlbook_utils.synthetic`), dates ``YYYY-MM-DD`` text (the served model also refuses
    dates outside the range it was trained on), and ``null`` is allowed only where the training
    data had missing values (the pipeline imputes them).
    """

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [dict(EXAMPLE_CUSTOMER)]})

    signup_date: Day
    last_login_date: Day
    age: Annotated[Number, Field(ge=16, le=120)] | None
    region: Literal[REGIONS]
    contract: Literal[CONTRACTS]
    payment_method: Literal[PAYMENT_METHODS] | None
    internet_service: Literal[INTERNET]
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
    """The model's answer for one customer: the probability and the decision at the threshold."""

    churn_probability: float
    will_churn: bool


class PredictResponse(BaseModel):
    """The answer to ``POST /predict``, with the model version that gave it."""

    prediction: Prediction
    model_version: int


class BatchResponse(BaseModel):
    """The answer to ``POST /predict/batch``: one prediction per customer, in the order sent."""

    predictions: list[Prediction]
    model_version: int


class Health(BaseModel):
    """The answer to ``GET /health``: which model is loaded."""

    status: Literal["ok"]
    model: str
    model_version: int


class _BadJSON(ValueError):
    """A body that is JSON text but breaks a rule of the contract (raised while parsing)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _BadJSON("an object has the same key twice (keys must be unique)")
    return obj


def _number(text: str, kind: type) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise _BadJSON(f"a number has {len(text)} characters, at most {MAX_NUMBER_CHARS} are accepted")
    return kind(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys,
                            parse_int=lambda t: _number(t, int),
                            parse_float=lambda t: _number(t, float))


def parse_json_body(body: bytes) -> Any:
    """Parse a request body as the contract says: UTF-8 JSON text, unique keys, sane numbers.

    Raises ``ValueError`` with the reason: ``UnicodeError`` for bytes that are not UTF-8 (UTF-16
    and UTF-32 included, which ``json.loads`` would otherwise detect and accept),
    ``json.JSONDecodeError`` for malformed JSON, ``RecursionError`` for absurd nesting, and a
    plain ``ValueError`` for a repeated key (which ``json.loads`` resolves silently: last wins) or
    a number with more than :data:`MAX_NUMBER_CHARS` characters.

    Examples
    --------
    >>> parse_json_body(b'{"age": 37}')
    {'age': 37}
    >>> parse_json_body(b'{"age": 37, "age": 38}')
    Traceback (most recent call last):
    ...
    mlbook_utils.serving._BadJSON: an object has the same key twice (keys must be unique)
    """
    if b"\x00" in body:  # UTF-16 and UTF-32 text of JSON always has NUL bytes
        raise UnicodeError("NUL bytes: UTF-16 or UTF-32, not UTF-8")
    text = body.decode("utf-8")  # strict: UnicodeDecodeError on anything else
    return _DECODER.decode(text)


def _printable(text: str, limit: int = 200) -> str:
    """``text`` safe for a log line: control and non-ASCII characters escaped, length capped."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m[0]):02x}", escaped)
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


def _parity_frame(metadata: Mapping[str, Any], earliest: date, snapshot: date) -> Any:
    """Customers to compare the two engines on: the saved input example and a generated table
    (with missing values and entry errors), limited to what the service would accept."""
    import pandas as pd
    from pydantic import ValidationError

    from mlbook_utils.churn import RAW_COLUMNS
    from mlbook_utils.synthetic import make_churn

    example = pd.DataFrame(metadata["input_example"]).astype(metadata["input_schema"])
    generated = make_churn(400, seed=0, snapshot_date=snapshot.isoformat())[list(RAW_COLUMNS)]
    keep = []
    for record in to_records(generated):
        try:
            c = Customer.model_validate(record)
        except ValidationError:
            keep.append(False)
            continue
        keep.append(earliest <= c.signup_date and c.last_login_date <= snapshot)
    return pd.concat([example[list(RAW_COLUMNS)], generated[keep]], ignore_index=True)


def create_app(
    model_root: str | os.PathLike[str],
    name: str = "churn",
    version: int | str = "latest",
    *,
    allow_origins: Sequence[str] = (),
    allow_credentials: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    engine: str = "onnx",
    max_in_flight: int = MAX_IN_FLIGHT,
    docs: bool = False,
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
    engine:
        ``"onnx"``: predict with ONNX Runtime on the graph saved with the model (the date
        features in NumPy); at start-up its probabilities must match the scikit-learn
        pipeline's within :data:`mlbook_utils.onnxchurn.PARITY_TOLERANCE`, or the server refuses
        to start. ``"sklearn"``: call the pipeline's ``predict_proba``, one request at a time
        (20-35 ms each, whatever the number of rows).
    max_in_flight:
        Prediction requests in progress beyond this number are refused at once with 503 and
        ``Retry-After: 1`` instead of queueing without bound; ``/health`` is never refused.
    docs:
        Serve the interactive documentation (``/docs``, ``/redoc``, ``/openapi.json``). Off by
        default: a public service need not publish a map of itself.

    Returns
    -------
    fastapi.FastAPI
    """
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    from mlbook_utils.versioning import load_model_version, load_onnx_model

    check_name(name)
    version = check_version(version)
    allow_origins = check_strings("allow_origins", allow_origins)
    check_bool("allow_credentials", allow_credentials)
    if "*" in allow_origins and allow_credentials:
        raise ValueError("allow_origins=['*'] with allow_credentials=True would let any web site "
                         "call the API with a visitor's cookies; list the trusted origins instead")
    max_body_bytes = check_int("max_body_bytes", max_body_bytes, minimum=1024)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    max_in_flight = check_int("max_in_flight", max_in_flight, minimum=1)
    check_bool("docs", docs)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        from mlbook_utils.onnxchurn import PARITY_TOLERANCE, OnnxChurnModel, max_parity_error

        model, metadata = load_model_version(model_root, name, version)
        dates = metadata.get("dates") or {}
        snapshot = date.fromisoformat(dates.get("snapshot") or model.named_steps["features"].snapshot_date)
        earliest = date.fromisoformat(dates["earliest"]) if "earliest" in dates else FIRST_DATE
        state.update(model=model, metadata=metadata, columns=list(metadata["input_schema"]),
                     lock=threading.Lock(), earliest=earliest, snapshot=snapshot,
                     version=metadata["version"], threshold=metadata["threshold"])
        if engine == "onnx":
            fast = OnnxChurnModel(load_onnx_model(model_root, name, metadata["version"]),
                                  snapshot.isoformat())
            error = max_parity_error(model, fast, _parity_frame(metadata, earliest, snapshot))
            if not error <= PARITY_TOLERANCE:  # NaN fails too
                raise RuntimeError(f"{name} v{metadata['version']}: the ONNX graph's probabilities "
                                   f"differ from the scikit-learn pipeline's by {error:.2g} "
                                   f"(> {PARITY_TOLERANCE:g}); refusing to serve it")
            state.update(fast=fast, parity=error)
        LOGGER.info("loaded %s v%s (engine %s)", name, metadata["version"], engine)
        yield
        state.clear()

    if "max_body_size" not in inspect.signature(FastAPI).parameters:
        # Older FastAPI takes the unknown keyword silently, and the limit would not exist.
        raise RuntimeError("the body-size limit needs FastAPI 0.164 or newer; "
                           f"this is {importlib.metadata.version('fastapi')}")

    class ContractRoute(APIRoute):
        """Reads and parses the body by the contract's rules before FastAPI validates it."""

        def get_route_handler(self) -> Any:
            handle = super().get_route_handler()

            async def parse_then_handle(request: Request) -> Any:
                if request.method == "POST":
                    try:
                        body = await request.body()
                    except ClientDisconnect:  # the client left, or httpguard cut a slow body
                        raise HTTPException(408, "the request body did not arrive in time") from None
                    if body:
                        request._json = parse_body(body)  # FastAPI's request.json() reads this
                return await handle(request)

            return parse_then_handle

    def parse_body(body: bytes) -> Any:
        try:
            return parse_json_body(body)
        except UnicodeError:
            raise HTTPException(400, "cannot parse the body as JSON: it is not UTF-8 text") from None
        except RecursionError:
            raise HTTPException(400, "cannot parse the body as JSON: it is nested too deeply") from None
        except json.JSONDecodeError as err:
            problem, where = err.msg, ("body", err.pos)
        except ValueError as err:  # _BadJSON; also int() of a huge number
            problem, where = str(err), ("body",)
        raise RequestValidationError([{"type": "json_invalid", "loc": where, "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": problem}}])

    app = FastAPI(title="Churn prediction", version="1", lifespan=lifespan,
                  summary="The churn model of 'AI/ML Crash Course', served over HTTP.",
                  max_body_size=max_body_bytes, redirect_slashes=False,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    app.router.route_class = ContractRoute

    def check_dates(customers: Sequence[Customer], where: Any) -> None:
        """Refuse dates outside the range the model was trained on (the schema allows more)."""
        earliest, snapshot = state["earliest"], state["snapshot"]
        errors = [{"type": "value_error", "loc": (*where(i), field), "input": None,
                   "msg": f"must be between {earliest} and {snapshot}, the dates model "
                          f"v{state['version']} was trained on"}
                  for i, c in enumerate(customers)
                  for field in ("signup_date", "last_login_date")
                  if not earliest <= getattr(c, field) <= snapshot]
        if errors:
            raise RequestValidationError(errors)

    def sklearn_proba(customers: Sequence[Customer]) -> Any:
        import pandas as pd
        from sklearn import config_context

        frame = pd.DataFrame([c.model_dump() for c in customers], columns=state["columns"])
        # JSON null arrives as None. pandas 2 keeps None in a text column, which scikit-learn's
        # imputers do not count as missing (pandas 3 stores NaN): make it NaN on every version.
        frame = frame.where(frame.notna(), float("nan"))
        for column in ("signup_date", "last_login_date"):
            frame[column] = pd.to_datetime(frame[column])
        # One prediction at a time: under the GIL, threads interleaving pandas code only slow
        # each other down, and the event loop (which answers /health) stays free.
        with state["lock"], config_context(assume_finite=True):  # NaN and inf were refused
            return state["model"].predict_proba(frame)[:, 1]

    async def predict(customers: Sequence[Customer], where: Any) -> list[dict[str, Any]]:
        check_dates(customers, where)
        if engine == "onnx":  # about 0.2 ms for one row: run it in the event loop
            columns = {c: [getattr(x, c) for x in customers] for c in state["columns"]}
            proba = state["fast"].predict_proba(columns)
        else:  # 20-35 ms: in a worker thread, so that /health is not blocked
            proba = await run_in_threadpool(sklearn_proba, customers)
        threshold = state["threshold"]
        return [{"churn_probability": p, "will_churn": p >= threshold} for p in proba.tolist()]

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = []
        for err in errors[:_MAX_ERRORS]:
            loc, message = err["loc"], err["msg"]
            if err["type"] == "extra_forbidden":
                # The last part of the location is the unknown key itself: any string of any
                # size, chosen by the client. Say where it was, not what it was.
                loc, message = loc[:-1], f"{message}: an unknown field (its name is not repeated)"
            elif err["type"] == "json_invalid":
                message = f"malformed JSON: {err.get('ctx', {}).get('error', 'cannot parse')}"
            detail.append({"field": ".".join(str(part) for part in loc), "message": message})
        return JSONResponse({"detail": detail, "error_count": len(errors)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        # FastAPI answers "There was an error parsing the body" for bodies that are not even
        # JSON text; say why.
        cause = exc.__cause__
        if exc.status_code == 400 and cause is not None:
            reason = {UnicodeDecodeError: "it is not UTF-8 text",
                      RecursionError: "it is nested too deeply"}.get(type(cause), type(cause).__name__)
            return JSONResponse({"detail": f"cannot parse the body as JSON: {reason}"}, status_code=400)
        return await http_exception_handler(request, exc)

    @app.api_route("/health", methods=["GET", "HEAD"], response_model=Health)
    async def health() -> Health:
        """Liveness and readiness: the model is loaded and the process answers."""
        return Health(status="ok", model=name, model_version=state["version"])

    @app.api_route("/metadata", methods=["GET", "HEAD"])
    async def metadata() -> dict[str, Any]:
        """What is being served: the model's name, version, digests, metrics, threshold, input
        schema and training dates, and the engine (not the versions of the libraries)."""
        hidden = {"input_example", "libraries"}
        return {**{k: v for k, v in state["metadata"].items() if k not in hidden}, "engine": engine}

    @app.post("/predict", response_model=PredictResponse)
    async def predict_one(customer: Customer) -> Any:
        """Churn probability for one customer."""
        (prediction,) = await predict([customer], lambda i: ("body",))
        return JSONResponse({"prediction": prediction, "model_version": state["version"]})

    @app.post("/predict/batch", response_model=BatchResponse)
    async def predict_batch(batch: Batch) -> Any:
        """Churn probabilities for 1 to MAX_BATCH customers, in the order sent."""
        predictions = await predict(batch.customers, lambda i: ("body", "customers", i))
        return JSONResponse({"predictions": predictions, "model_version": state["version"]})

    app.add_middleware(RequestGate, max_in_flight=max_in_flight)
    if allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=allow_origins,
                           allow_credentials=allow_credentials, allow_methods=["GET", "HEAD", "POST"],
                           allow_headers=["Content-Type"], max_age=600)
    return app


class RequestGate:
    """ASGI middleware in front of the routes: refusals that need no parsing, and the log.

    - a ``POST`` to a prediction route must be ``application/json`` (``charset=utf-8`` if a
      charset is named) without a ``Content-Encoding`` the server would have to decode (415);
    - more than ``max_in_flight`` prediction requests in progress: 503 with ``Retry-After: 1``
      at once, before the body is read (``/health`` and ``/metadata`` are never counted);
    - every request is logged in one line, its path with control characters escaped, and the
      response carries the server's time in ``X-Process-Time-Ms``.

    A plain ASGI class rather than ``@app.middleware("http")``, whose per-request task and
    streams cost more than a whole ONNX prediction.
    """

    def __init__(self, app: Any, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    @staticmethod
    def refusal(scope: Mapping[str, Any]) -> tuple[int, str] | None:
        headers = dict(scope["headers"])
        kind, _, params = headers.get(b"content-type", b"").decode("latin-1").partition(";")
        kind = kind.strip().lower()
        if kind != "application/json":
            return 415, f"Content-Type must be application/json, got {_printable(kind, 60) or 'none'}"
        charset = re.search(r"charset\s*=\s*\"?([\w-]+)", params, re.IGNORECASE)
        if charset and charset[1].lower() not in ("utf-8", "utf8"):
            return 415, f"the body must be UTF-8 JSON, got charset={_printable(charset[1], 30)}"
        coding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
        if coding not in ("", "identity"):
            return 415, (f"Content-Encoding {_printable(coding, 30)} is not supported: "
                         "send the body uncompressed")
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 0

        async def timed_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                ms = (time.perf_counter() - start) * 1000
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"x-process-time-ms", f"{ms:.2f}".encode())]}
            await send(message)

        gated = scope["method"] == "POST" and scope["path"] in _PREDICT_PATHS
        refused = self.refusal(scope) if gated else None
        if refused is None and gated and self.in_flight >= self.max_in_flight:
            refused = 503, f"overloaded: {self.in_flight} predictions in progress; retry in a second"
        if refused is not None:
            from starlette.responses import JSONResponse

            extra = {"Retry-After": "1"} if refused[0] == 503 else {}
            await JSONResponse({"detail": refused[1]}, status_code=refused[0], headers=extra)(
                scope, receive, timed_send)
        elif gated:
            self.in_flight += 1
            try:
                await self.app(scope, receive, timed_send)
            finally:
                self.in_flight -= 1
        else:
            await self.app(scope, receive, timed_send)
        LOGGER.info("%s %s %d %.1f ms", scope["method"], _printable(scope["path"]), status,
                    (time.perf_counter() - start) * 1000)


def app_from_env() -> Any:
    """The app configured by environment variables (the container's entry point).

    ``MLBOOK_MODEL_ROOT`` (required), ``MLBOOK_MODEL_NAME`` (``churn``),
    ``MLBOOK_MODEL_VERSION`` (``latest`` or a number), ``MLBOOK_ALLOWED_ORIGINS`` (comma-separated,
    empty by default), ``MLBOOK_LOG_LEVEL`` (``INFO``), ``MLBOOK_ENGINE`` (``onnx`` or
    ``sklearn``), ``MLBOOK_MAX_IN_FLIGHT`` (64) and ``MLBOOK_DOCS`` (``1`` serves ``/docs``).
    A missing root or a malformed value stops the start-up with an error that names the
    variable. The number of worker processes is uvicorn's ``WEB_CONCURRENCY``.
    """
    root = os.environ.get("MLBOOK_MODEL_ROOT")
    if not root:
        raise RuntimeError("set MLBOOK_MODEL_ROOT to the folder that holds the saved models")
    level = os.environ.get("MLBOOK_LOG_LEVEL", "INFO").strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"MLBOOK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    raw_version = os.environ.get("MLBOOK_MODEL_VERSION", "latest").strip()
    version = check_version(int(raw_version) if raw_version.isdecimal() else raw_version,
                            "MLBOOK_MODEL_VERSION")
    name = check_name(os.environ.get("MLBOOK_MODEL_NAME", "churn"), "MLBOOK_MODEL_NAME")
    origins = [o.strip() for o in os.environ.get("MLBOOK_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    engine = os.environ.get("MLBOOK_ENGINE", "onnx").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"MLBOOK_ENGINE must be one of {', '.join(ENGINES)}, got {engine!r}")
    raw_limit = os.environ.get("MLBOOK_MAX_IN_FLIGHT", str(MAX_IN_FLIGHT)).strip()
    if not raw_limit.isdecimal() or int(raw_limit) < 1:
        raise ValueError(f"MLBOOK_MAX_IN_FLIGHT must be a whole number >= 1, got {raw_limit!r}")
    raw_docs = os.environ.get("MLBOOK_DOCS", "0").strip()
    if raw_docs not in ("0", "1"):
        raise ValueError(f"MLBOOK_DOCS must be 0 or 1, got {raw_docs!r}")
    return create_app(root, name, version, allow_origins=origins, engine=engine,
                      max_in_flight=int(raw_limit), docs=raw_docs == "1")


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
