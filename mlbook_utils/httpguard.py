"""Connection timeouts for uvicorn: slow and idle clients cannot hold the server's sockets.

uvicorn's HTTP/1.1 protocol times out an idle keep-alive connection after a response, but not a
connection that never sends a request, nor headers or a body trickled in byte by byte: each
such client holds a socket (one file descriptor) for as long as it likes, and a few thousand of
them stop the server from accepting connections, ``/health`` included. :class:`GuardedH11Protocol`
adds what a reverse proxy in front would enforce (nginx's ``client_header_timeout``,
``client_body_timeout`` and connection limits):

- every request must arrive completely (request line, headers and body) within
  ``MLBOOK_REQUEST_TIMEOUT_S`` seconds (10) of its first byte, or of the connection's opening;
  otherwise the server answers 408 and closes the connection;
- at most ``MLBOOK_MAX_CONNECTIONS`` connections (1000) per worker: beyond that, the connection
  that has waited longest for a request to complete is closed to make room, so a crowd of idle
  sockets cannot lock out a real client.

Use it with ``uvicorn --http mlbook_utils.httpguard:GuardedH11Protocol`` (``deploy/Dockerfile``
and :func:`mlbook_utils.serverrun.run_server` do). Requests that have fully arrived are never
timed out here: how long a prediction may take is the application's business.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: What the server answers before it closes a connection whose request did not arrive in time.
TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"content-length: 40\r\nconnection: close\r\n\r\n"
                    b"the request did not arrive in time: 408\n")


def _setting(variable: str, default: float, minimum: float) -> float:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum:
        raise ValueError(f"{variable} must be a number >= {minimum:g}, got {raw!r}")
    return value


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline per request and a cap on connections."""

    #: Connections whose deadline is running, oldest first (dicts keep insertion order).
    waiting: dict[GuardedH11Protocol, None] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = _setting("MLBOOK_REQUEST_TIMEOUT_S", 10.0, 0.1)
        self.max_connections = int(_setting("MLBOOK_MAX_CONNECTIONS", 1000, 1))
        self.deadline: asyncio.TimerHandle | None = None
        self.partial = False  # bytes of a request have arrived since the last response

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            oldest = next((p for p in self.waiting if p is not self), None)
            if oldest is not None:
                oldest.expire()
        self.arm()

    def arm(self) -> None:
        if self.deadline is None:
            self.deadline = self.loop.call_later(self.request_timeout, self.expire)
            self.waiting[self] = None

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        self.waiting.pop(self, None)

    def expire(self) -> None:
        """The request did not arrive in time: say so if nothing was answered yet, and close."""
        self.disarm()
        if self.transport.is_closing():
            return
        if self.partial and self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.write(TIMEOUT_RESPONSE)  # nothing answered to this request yet
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.partial = True
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self.arm()  # still waiting for (the rest of) a request; the deadline is not reset
        else:
            self.disarm()  # the whole request is here

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.partial = False
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.arm()  # the next request has as long as the first (keep-alive may close it sooner)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)
