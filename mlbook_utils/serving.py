"""The churn model as an HTTP service: the request and response schemas and the application.

- :class:`Customer` and :class:`Batch` are the contract: what a request may contain. The
  categories are the generator's (:mod:`mlbook_utils.synthetic`), so the schema accepts exactly
  the values the model was trained on. :data:`EXAMPLE_CUSTOMER` is one valid customer.
- :func:`create_app` builds the FastAPI application: ``GET /health``, ``GET /metadata``,
  ``POST /predict`` (one customer) and ``POST /predict/batch`` (up to :data:`MAX_BATCH`).
  Requests are validated by pydantic; every bad request gets a 4xx that says what is wrong
  (JSON ``{"detail": ...}``, except a body over the size limit, which FastAPI refuses with the
  plain-text 413 "Content Too Large" before this app sees it), and no request makes it answer 500.
- :func:`app_from_env` is the factory a server starts
  (``uvicorn mlbook_utils.serving:app_from_env --factory``), configured by environment variables,
  as in the container of ``deploy/Dockerfile``.
- :func:`to_records` turns rows of a churn table into the JSON customers the service takes.

Running the service as a process and load-testing it is :mod:`mlbook_utils.serverrun`; training
and saving the model it serves is :mod:`mlbook_utils.export`.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlbook_utils._validate import check_bool, check_int, check_name, check_strings, check_version
from mlbook_utils.synthetic import CONTRACTS, INTERNET, PAYMENT_METHODS, REGIONS

#: Most customers in one ``POST /predict/batch``.
MAX_BATCH = 1000
#: Largest request body accepted, in bytes. A full batch of MAX_BATCH customers is about 0.3 MB.
MAX_BODY_BYTES = 1_000_000
_MAX_ERRORS = 20
LOGGER = logging.getLogger("mlbook_utils.serving")

#: One valid customer, as a client sends it (read-only; ``dict(EXAMPLE_CUSTOMER)`` for a copy).
#: The OpenAPI schema shows it as the example, and the tests start their bad requests from it.
EXAMPLE_CUSTOMER: Mapping[str, Any] = MappingProxyType({
    "signup_date": "2025-01-12", "last_login_date": "2025-12-08", "age": 37.0,
    "region": "west", "contract": "month-to-month", "payment_method": "card",
    "internet_service": "dsl", "monthly_charges": 55.17, "total_charges": 605.41,
    "support_calls": 2, "num_products": 2,
})

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True)]


class Customer(BaseModel):
    """One customer, as the churn model takes it: every column present, none extra.

    Numbers must be finite JSON numbers (strings such as ``"42"`` are refused), categories one
    of the values the model was trained on (the generator's lists in
    :mod:`mlbook_utils.synthetic`), and ``null`` is allowed only where the training data had
    missing values (the pipeline imputes them).
    """

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [dict(EXAMPLE_CUSTOMER)]})

    signup_date: date
    last_login_date: date
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

    from mlbook_utils.versioning import load_model_version

    check_name(name)
    version = check_version(version)
    allow_origins = check_strings("allow_origins", allow_origins)
    check_bool("allow_credentials", allow_credentials)
    if "*" in allow_origins and allow_credentials:
        raise ValueError("allow_origins=['*'] with allow_credentials=True would let any web site "
                         "call the API with a visitor's cookies; list the trusted origins instead")
    max_body_bytes = check_int("max_body_bytes", max_body_bytes, minimum=1024)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        model, metadata = load_model_version(model_root, name, version)
        state.update(model=model, metadata=metadata, columns=list(metadata["input_schema"]),
                     lock=threading.Lock())
        LOGGER.info("loaded %s v%s", name, metadata["version"])
        yield
        state.clear()

    if "max_body_size" not in inspect.signature(FastAPI).parameters:
        # Older FastAPI takes the unknown keyword silently, and the limit would not exist.
        raise RuntimeError("the body-size limit needs FastAPI 0.164 or newer; "
                           f"this is {importlib.metadata.version('fastapi')}")
    app = FastAPI(title="Churn prediction", version="1", lifespan=lifespan,
                  summary="The churn model of 'AI/ML Crash Course', served over HTTP.",
                  max_body_size=max_body_bytes)

    def predict(customers: list[Customer]) -> list[Prediction]:
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
        app.add_middleware(CORSMiddleware, allow_origins=allow_origins,
                           allow_credentials=allow_credentials, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600)
    return app


def app_from_env() -> Any:
    """The app configured by environment variables (the container's entry point).

    ``MLBOOK_MODEL_ROOT`` (required), ``MLBOOK_MODEL_NAME`` (``churn``),
    ``MLBOOK_MODEL_VERSION`` (``latest`` or a number), ``MLBOOK_ALLOWED_ORIGINS`` (comma-separated,
    empty by default) and ``MLBOOK_LOG_LEVEL`` (``INFO``). A missing root or a malformed value
    stops the start-up with an error that names the variable.
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
    return create_app(root, name, version, allow_origins=origins)


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
