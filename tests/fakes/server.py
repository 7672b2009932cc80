"""A real HTTP server on 127.0.0.1 for tests and benchmarks.

:class:`FakeService` answers GET requests from route handlers in a background
thread and records every request it received (path, params, arrival time).
Scripted one-shot replies (:meth:`FakeService.script`) come first, so a test
can stage a 429 storm, 500s, slow answers or malformed bodies before the
normal answer. Service-specific fakes (Regrid, later FEMA NFHL, EPA ECHO,
USFWS wetlands) subclass it and register their routes.

Example::

    with FakeService() as svc:
        svc.route("/ping", lambda req: Reply(json={"ok": True}))
        httpx.get(svc.url + "/ping").json()   # {'ok': True}
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    """One answer: JSON (``json``) or raw bytes (``body``), after ``delay`` seconds.

    ``trickle`` sends the body one ``trickle_bytes`` piece at a time, ``trickle``
    seconds apart (a server that never stalls long enough for a read timeout).
    ``stream`` (an iterable of byte pieces) is sent as it is produced, with
    ``Content-Length: length`` when given, else chunked; it lets a test serve
    gigabytes without holding them.
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json"
    trickle: float | None = None
    trickle_bytes: int = 1
    stream: Any = None
    length: int | None = None

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body
        if self.json is None:
            return b""
        return json.dumps(self.json).encode()


@dataclass(frozen=True)
class Request:
    """A request as the server saw it."""

    method: str
    path: str
    params: dict[str, str]
    raw_query: str
    at: float  # time.monotonic() on arrival


Handler = Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a slow handler must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out close the socket under a slow handler; that is expected here.
        pass


class FakeService:
    """Local HTTP server with routes, scripted replies and a request log.

    Parameters
    ----------
    latency
        Seconds added before every answer (simulates a distant service).
    """

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[Request] = []
        self._routes: dict[str, Handler] = {}
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- configuration -------------------------------------------------------

    def route(self, path: str, handler: Handler) -> None:
        """Answer GET ``path`` with ``handler(request)``."""
        self._routes[path] = handler

    def script(self, path: str, *replies: Reply) -> None:
        """Queue one-shot replies for ``path``, used before the route handler."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeService is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeService:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes

            def do_GET(self) -> None:
                service._dispatch(self, "GET")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving -------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        request = Request(
            method=method,
            path=parts.path,
            params=dict(parse_qsl(parts.query, keep_blank_values=True)),
            raw_query=parts.query,
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(request)
            queue = self._scripts.get(parts.path)
            reply = queue.popleft() if queue else None
        if reply is None:
            route = self._routes.get(parts.path)
            reply = route(request) if route else Reply(404, json={"error": "no such route"})
        pause = self.latency + reply.delay
        if pause:
            time.sleep(pause)
        payload = reply.payload()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            if reply.stream is not None:
                if reply.length is not None:
                    handler.send_header("Content-Length", str(reply.length))
                else:
                    handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if reply.stream is not None:
                for piece in reply.stream:
                    if reply.length is None:
                        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    else:
                        handler.wfile.write(piece)
                if reply.length is None:
                    handler.wfile.write(b"0\r\n\r\n")
            elif reply.trickle is not None:
                step = max(1, reply.trickle_bytes)
                for i in range(0, len(payload), step):
                    handler.wfile.write(payload[i : i + step])
                    handler.wfile.flush()
                    time.sleep(reply.trickle)
            else:
                handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


def max_in_window(times: list[float], window: float) -> int:
    """Most request times falling in any half-open window ``[t, t + window)``."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
