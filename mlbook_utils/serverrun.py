"""Running the prediction service as a real server, and measuring it.

- :func:`run_server` starts ``uvicorn mlbook_utils.serving:app_from_env --factory`` in its own
  process on a free loopback port, waits until it answers, and stops it again.
- :func:`load_test` sends a server concurrent requests and records each latency
  (:class:`LoadTestResult`).
- :func:`free_port` finds a port to listen on.

The pages and ``tests/test_service.py`` use them to call the service over real HTTP, as any other
program would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlbook_utils._validate import check_int, check_positive

#: The factory uvicorn imports in the server process.
APP_FACTORY = "mlbook_utils.serving:app_from_env"
#: uvicorn's HTTP/1.1 protocol with request deadlines and a connection cap (the image uses it too).
HTTP_PROTOCOL = "mlbook_utils.httpguard:GuardedH11Protocol"


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
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 120.0,
    log_level: str = "WARNING",
) -> Iterator[Server]:
    """Run the service in a real uvicorn process on a free 127.0.0.1 port, for a ``with`` block.

    Waits until ``/health`` answers 200 (raising ``RuntimeError`` with the server's log if the
    process dies or ``startup_timeout`` seconds pass: importing the libraries and loading the
    model take seconds, more on a busy machine), yields a :class:`Server`, and stops the
    process on exit (SIGTERM, then SIGKILL after 10 s). The log goes to a temporary file that is
    removed.

    ``env`` adds environment variables (``MLBOOK_ALLOWED_ORIGINS``, ``MLBOOK_MODEL_VERSION``,
    ``MLBOOK_ENGINE``, ``WEB_CONCURRENCY`` for the number of worker processes...).
    """
    import httpx

    if not Path(model_root).is_dir():
        raise FileNotFoundError(f"model_root {model_root} is not a folder")
    startup_timeout = check_positive("startup_timeout", startup_timeout)
    with tempfile.TemporaryDirectory(prefix="mlbook-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", APP_FACTORY, "--factory", "--http", HTTP_PROTOCOL,
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
                    raise RuntimeError(f"the server did not answer /health in {startup_timeout:g} s:\n"
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
