"""Benchmark the prediction service: the scikit-learn path beside the ONNX path, in one run.

``make bench-service`` (or ``python -m tools.bench_service``) trains the churn model, then for
each engine (``MLBOOK_ENGINE=sklearn``, ``onnx``) and each number of uvicorn workers
(``WEB_CONCURRENCY=1``, ``2``) starts the real server and measures

- ``POST /predict``, one customer per request, at concurrency 32: requests/s, p50 and p99;
- ``POST /predict/batch``, 100 customers per request, at concurrency 8: customers (rows) per s.

The client is a small asyncio HTTP/1.1 client on keep-alive connections with the requests
encoded once, so that it costs the shared CPU far less than the server it measures (httpx in
threads, as in :func:`mlbook_utils.serverrun.load_test`, costs about as much as the ONNX server).
The machine's load average is printed beside the figures: on a busy machine they are low.
A benchmark, not a test: it asserts nothing but that every request got a 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time

import numpy as np

from mlbook_utils.export import export_model
from mlbook_utils.serverrun import run_server
from mlbook_utils.serving import EXAMPLE_CUSTOMER


def _request(host: str, port: int, path: str, payload: object) -> bytes:
    body = json.dumps(payload).encode()
    return (f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def _run(url: str, path: str, payload: object, n_requests: int, concurrency: int) -> dict:
    host, port = url.removeprefix("http://").split(":")
    request = _request(host, int(port), path, payload)
    latencies: list[float] = []
    statuses: list[int] = []
    todo = iter(range(n_requests))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for _ in todo:
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - start) * 1000)
                statuses.append(int(head[9:12]))
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    errors = sum(s != 200 for s in statuses) + n_requests - len(statuses)
    return {"req_s": n_requests / seconds, "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)), "errors": errors}


def measure(root: str, engine: str, workers: int, n_single: int, n_batch: int) -> dict:
    batch = {"customers": [dict(EXAMPLE_CUSTOMER)] * 100}
    env = {"MLBOOK_ENGINE": engine, "WEB_CONCURRENCY": str(workers),
           "MLBOOK_MAX_IN_FLIGHT": "1000"}  # measure the engine, not the overload guard
    with run_server(root, env=env, startup_timeout=300) as server:
        asyncio.run(_run(server.url, "/predict", dict(EXAMPLE_CUSTOMER), 4 * 32, 32))  # warm up
        single = asyncio.run(_run(server.url, "/predict", dict(EXAMPLE_CUSTOMER), n_single, 32))
        batched = asyncio.run(_run(server.url, "/predict/batch", batch, n_batch, 8))
    return {"engine": engine, "workers": workers, **single, "rows_s": 100 * batched["req_s"],
            "errors": single["errors"] + batched["errors"]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_service")
    parser.add_argument("--requests", type=int, default=4000, help="/predict requests (ONNX)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlbook-bench-") as root:
        export_model(root, n_customers=2000)
        rows = []
        for workers in args.workers:
            for engine in ("sklearn", "onnx"):
                # the scikit-learn path answers about 25 requests/s: fewer requests, same concurrency
                n_single = args.requests if engine == "onnx" else max(args.requests // 10, 64)
                n_batch = max(n_single // 10, 32)
                rows.append(measure(root, engine, workers, n_single, n_batch))
                r = rows[-1]
                print(f"{engine:8} workers={workers}  /predict c=32: {r['req_s']:7.0f} req/s  "
                      f"p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms | /predict/batch 100 rows: "
                      f"{r['rows_s']:8.0f} rows/s | errors {r['errors']} | "
                      f"load {os.getloadavg()[0]:.2f}", flush=True)
    by = {(r["engine"], r["workers"]): r for r in rows}
    for workers in args.workers:
        sk, ox = by["sklearn", workers], by["onnx", workers]
        print(f"workers={workers}: ONNX/scikit-learn = {ox['req_s'] / sk['req_s']:.1f}x req/s, "
              f"{ox['rows_s'] / sk['rows_s']:.1f}x rows/s")
    if len(args.workers) > 1:
        one, more = args.workers[0], args.workers[-1]
        print(f"ONNX, {more} workers / {one}: {by['onnx', more]['req_s'] / by['onnx', one]['req_s']:.2f}x "
              f"req/s, {by['onnx', more]['rows_s'] / by['onnx', one]['rows_s']:.2f}x rows/s")
    print(f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
