"""One HTTP client for every outside service.

:class:`HttpClient` wraps :mod:`httpx` and :mod:`tenacity` with the habits
every source needs:

- timeouts, and bounded retries with exponential backoff on HTTP 429, 5xx,
  transport errors and source-specific "error body with HTTP 200" answers,
  honouring ``Retry-After`` (seconds or an HTTP date);
- a token-bucket :class:`RateLimiter` (requests per minute) shared by every
  thread of the client; a 429 with ``Retry-After`` holds back all threads;
- :meth:`HttpClient.map` for batch lookups with bounded concurrency, results in
  input order, one exception per failed item;
- a response cache on disk (:class:`ResponseCache`, sqlite) keyed by method +
  URL + params *minus secrets*, so a re-run costs no calls;
- secrets (``token`` and friends) never reach cache keys, logs or exception
  messages: every text leaving this module goes through :func:`redact`;
- a total time limit: each call has a ``deadline`` (all attempts, waits and
  reads together; httpx's own timeouts are per read, so a server that trickles
  a byte at a time would otherwise hold a call for ever), and :func:`deadline`
  bounds every call made inside a block, e.g. one item's calls to several
  sources. The earlier limit wins.

Errors map onto :mod:`toolkit.exceptions`: 401/403 -> ``FatalSourceError``;
connection refused, unknown host, no route -> ``SourceUnreachableError`` (a
``FatalSourceError``: every other item would fail the same way, so the job
pauses at once instead of spending retries on each item); 404 ->
``NotFoundError``; time limit reached -> ``DeadlineExceededError`` (the item
fails); malformed body or exhausted retries -> ``SourceError``. Timeouts, 429
and 5xx are retried, within the deadline.
"""

from __future__ import annotations

import contextvars
import email.utils
import errno
import hashlib
import json
import logging
import math
import random
import re
import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import tenacity

from toolkit.exceptions import (
    DeadlineExceededError,
    FatalSourceError,
    NotFoundError,
    SourceError,
    SourceUnreachableError,
    ValidationError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Query-parameter names whose values are secrets: kept out of cache keys,
#: logs and messages.
SECRET_PARAMS = frozenset(
    {"token", "api_key", "apikey", "key", "access_token", "password", "secret", "client_secret"}
)

#: Default requests/minute per source. Regrid's figure is a third-party
#: description (DOMAIN.md, *unverified*); the others are our own politeness
#: defaults, not published limits. All are configurable.
DEFAULT_RATE_PER_MINUTE: dict[str, float] = {
    "regrid": 200.0,
    "fema_nfhl": 60.0,
    "epa_echo": 60.0,
    "usfws_wetlands": 60.0,
}
FALLBACK_RATE_PER_MINUTE = 60.0
DEFAULT_CONCURRENCY = 4
#: Seconds one call may take in all (attempts, backoff, rate-limit waits, reads).
DEFAULT_DEADLINE = 120.0
#: Largest answer body read into memory (a JSON answer is kilobytes).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_SECRET_QS = re.compile(r"(?i)\b(" + "|".join(sorted(SECRET_PARAMS)) + r")=([^&\s\"'<>]+)")

# Every secret any client was given, so the httpx log filter can scrub them too.
_KNOWN_SECRETS: set[str] = set()
_KNOWN_LOCK = threading.Lock()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace secret values and ``token=…``-style query parameters with ``***``.

    Examples
    --------
    >>> redact("GET /x?parcelnumb=1&token=abc123", ["abc123"])
    'GET /x?parcelnumb=1&token=***'
    """
    out = str(text)
    for secret in sorted({*secrets, *_KNOWN_SECRETS}, key=len, reverse=True):
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    return _SECRET_QS.sub(lambda m: f"{m.group(1)}=***", out)


class _RedactingFilter(logging.Filter):
    """Scrub secrets from records of third-party loggers (httpx logs full URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken record is not ours to fix
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = _RedactingFilter()
for _name in ("httpx", "httpcore"):
    if _FILTER not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_FILTER)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    Returns ``None`` when the header is absent or unreadable; never negative.

    Examples
    --------
    >>> parse_retry_after("7")
    7.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC))
    10.0
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


# --- deadlines ---------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A point in time (``time.monotonic()``) by which calls must be done, and its name."""

    at: float
    seconds: float  # the limit as configured, for messages
    what: str  # e.g. "item deadline (TOOLKIT_ITEM_DEADLINE)"

    def left(self) -> float:
        return self.at - time.monotonic()


_SCOPE: contextvars.ContextVar[Limit | None] = contextvars.ContextVar(
    "toolkit_http_deadline", default=None
)


def _check_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(f"{name} must be a positive number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


@contextmanager
def deadline(seconds: float | None, *, what: str = "deadline") -> Iterator[Limit | None]:
    """Bound every source call made inside the block to finish ``seconds`` from now.

    Nested blocks keep the earlier limit. A call that would pass it stops and
    raises :class:`~toolkit.exceptions.DeadlineExceededError`, naming ``what``.
    ``None`` adds no limit. The limit follows the code into :meth:`HttpClient.map`'s
    threads.

    Examples
    --------
    >>> with deadline(60, what="item deadline"):       # doctest: +SKIP
    ...     flood.zone_at(lon, lat); epa.within(lon, lat, 0.5)
    """
    if seconds is None:
        yield _SCOPE.get()
        return
    limit = Limit(time.monotonic() + _check_seconds(what, seconds), float(seconds), what)
    outer = _SCOPE.get()
    if outer is not None and outer.at <= limit.at:
        limit = outer
    token = _SCOPE.set(limit)
    try:
        yield limit
    finally:
        _SCOPE.reset(token)


def time_left() -> float | None:
    """Seconds left under the innermost :func:`deadline` block (None outside any)."""
    scope = _SCOPE.get()
    return None if scope is None else scope.left()


class _TimeUp(Exception):
    """Internal: the helper thread was still working when the limit came."""


def run_until(limit: Limit, fn: Callable[[threading.Event], T]) -> T:
    """Run ``fn(cancel)`` in a helper thread; stop waiting for it at ``limit``.

    httpx bounds each read, not a whole answer; this bounds the whole. At the
    limit ``cancel`` is set (``fn`` checks it between chunks and lets go of its
    connection) and :class:`_TimeUp` is raised here at once.
    """
    left = limit.left()
    if left <= 0:
        raise _TimeUp
    box: dict[str, Any] = {}
    done = threading.Event()
    cancel = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn(cancel)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="toolkit-http", daemon=True).start()
    if not done.wait(left if math.isfinite(left) else None):
        cancel.set()
        raise _TimeUp
    if "error" in box:
        raise box["error"]
    return box["value"]


def describe_connect_error(exc: BaseException) -> str | None:
    """Why a connection could not be made, in words; None when it is no such failure.

    Looks through the exception's causes for the operating system's error:
    DNS (``socket.gaierror``), connection refused, no route / network
    unreachable, or a failed TLS handshake.

    Examples
    --------
    >>> describe_connect_error(ConnectionRefusedError(111, "Connection refused"))
    'connection refused'
    >>> describe_connect_error(ValueError("x")) is None
    True
    """
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, socket.gaierror):
            return "the host name cannot be resolved (DNS)"
        if isinstance(seen, ssl.SSLError):
            return f"the TLS handshake failed ({getattr(seen, 'reason', None) or seen})"
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == (
            errno.ECONNREFUSED
        ):
            return "connection refused"
        if getattr(seen, "errno", None) in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "no route to the host (network unreachable)"
        if getattr(seen, "errno", None) == errno.EADDRNOTAVAIL:
            return "the address is not available from this machine"
        seen = seen.__cause__ or seen.__context__
    return None


# --- rate limit --------------------------------------------------------------


class RateLimitWait(Exception):
    """The next request slot comes after the caller's limit (``.seconds`` from now)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the next request slot is {seconds:.1f} s away")
        self.seconds = seconds


class RateLimiter:
    """Token bucket (GCRA form) limiting requests per minute across threads.

    The bucket is checked at the moment a thread actually proceeds, so a thread
    that wakes late never lets the next one in early. With ``burst=1`` (the
    default) requests are at least ``60 / rate`` seconds apart, so no sliding
    60-second window ever holds more than ``rate`` requests; with ``burst=b``
    the bound is ``rate + b - 1``. ``safety`` stretches the interval a little
    (default 1 %, i.e. 0.6 s of slack per minute) so that jitter between here
    and the server's clock cannot squeeze one request too many into a window.

    Examples
    --------
    >>> limiter = RateLimiter(6000)       # 100 per second
    >>> limiter.acquire() >= 0.0
    True
    """

    def __init__(
        self,
        rate_per_minute: float,
        *,
        burst: int = 1,
        safety: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate_per_minute or rate_per_minute <= 0:
            raise ValidationError(
                f"rate_per_minute must be a positive number, got {rate_per_minute!r}"
            )
        if int(burst) < 1:
            raise ValidationError(f"burst must be an integer >= 1, got {burst!r}")
        self.rate_per_minute = float(rate_per_minute)
        self.burst = int(burst)
        self.interval = 60.0 / self.rate_per_minute * (1.0 + max(0.0, safety))
        self._tau = (self.burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tat = clock()  # theoretical arrival time of the next request

    def acquire(self, until: float | None = None) -> float:
        """Block until a request may be sent; return the seconds spent waiting.

        With ``until`` (a time on this limiter's clock), raise :class:`RateLimitWait`
        at once, without taking a slot, when the slot comes later than that.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                allowed_at = self._tat - self._tau
                if now >= allowed_at:
                    self._tat = max(self._tat, now) + self.interval
                    return waited
                if until is not None and allowed_at > until:
                    raise RateLimitWait(allowed_at - now)
                pause = allowed_at - now
            self._sleep(pause)
            waited += pause

    def defer(self, seconds: float) -> None:
        """Hold every thread back for ``seconds`` (after a 429 with Retry-After)."""
        with self._lock:
            self._tat = max(self._tat, self._clock() + max(0.0, seconds) + self._tau)


# --- disk cache --------------------------------------------------------------


class ResponseCache:
    """Responses on disk in one sqlite file, safe to share between threads.

    Keys come from :meth:`HttpClient.cache_key` and never contain secrets.
    Only answers that passed validation are stored (status 200 or 404).

    Examples
    --------
    >>> import tempfile
    >>> with ResponseCache(tempfile.mkdtemp()) as cache:
    ...     cache.put("k", "regrid", "https://x/parcels", 200, b"{}")
    ...     cache.get("k")
    (200, b'{}')
    """

    FILENAME = "http_cache.sqlite"

    def __init__(self, cache_dir: str | Path, *, ttl: float | None = None) -> None:
        self.path = Path(cache_dir) / self.FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS http_cache (key TEXT PRIMARY KEY, source TEXT,"
                " url TEXT, status INTEGER, body BLOB, created REAL)"
            )
        except sqlite3.Error as exc:
            raise SourceError(f"cannot open the HTTP cache {self.path}: {exc}") from exc

    def get(self, key: str) -> tuple[int, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, body, created FROM http_cache WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        if self.ttl is not None and time.time() - row[2] > self.ttl:
            return None
        return int(row[0]), bytes(row[1])

    def put(self, key: str, source: str, url: str, status: int, body: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO http_cache VALUES (?, ?, ?, ?, ?, ?)",
                (key, source, url, status, body, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM http_cache").fetchone()[0])

    def dump(self) -> list[tuple[str, str, str]]:
        """Every (key, source, url) stored; for tests and inspection."""
        with self._lock:
            return list(self._db.execute("SELECT key, source, url FROM http_cache"))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- counters ----------------------------------------------------------------


@dataclass
class Counters:
    """What a client did; read by tests and benchmarks (``client.counters``)."""

    requests: int = 0  # HTTP requests actually sent (each retry counts)
    cache_hits: int = 0
    retries: int = 0
    throttled: int = 0  # HTTP 429 answers
    errors: int = 0  # calls that ended in an exception
    rate_wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, float]:
        """The counters as a plain dict, read under the lock.

        Examples
        --------
        >>> Counters(requests=2).snapshot()["requests"]
        2
        """
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}


class _Retryable(SourceError):
    """Internal: an attempt failed in a way another attempt may fix."""

    def __init__(
        self, message: str, retry_after: float | None = None, *, time_up: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.time_up = time_up  # the limit came during this attempt


# --- the client --------------------------------------------------------------


class HttpClient:
    """HTTP JSON client for one outside service.

    Parameters
    ----------
    source
        Short name (``"regrid"``) used in messages, cache rows and to pick the
        default rate from :data:`DEFAULT_RATE_PER_MINUTE`.
    base_url
        Prefix joined with the ``path`` given to :meth:`get_json`.
    secret_params
        Parameters sent with every request and redacted everywhere else.
    rate_per_minute, burst
        Token bucket; ``None`` takes the source's default.
    concurrency
        Threads used by :meth:`map`, and the connection pool size.
    timeout
        Seconds per request (connect, read, write, pool).
    max_attempts
        Total tries per request, including the first.
    backoff_initial, backoff_max
        Exponential backoff (with jitter) when no ``Retry-After`` is given.
    max_retry_after
        Cap on a server's ``Retry-After``.
    cache_dir, cache_ttl
        Disk cache location (``None`` = no cache) and age limit in seconds.
    error_body
        ``f(json) -> message | None``: detects an error answered with HTTP 200
        (USFWS does this); such answers are retried and never cached.
    auth_hint
        Appended to 401/403 messages, e.g. "set REGRID_TOKEN to a valid token".
    deadline
        Seconds one :meth:`get_json` call may take in all: every attempt,
        backoff, rate-limit wait and read (default :data:`DEFAULT_DEADLINE`;
        ``None``: only the attempts bound it). A :func:`deadline` block around
        the call can shorten it.
    unreachable_hint
        What to do when the service cannot be reached at all (connection
        refused, unknown host, no route), e.g. "check the network, or set
        TOOLKIT_ENV_SOURCES=<file> to use local layers".
    max_response_bytes
        Largest answer read into memory; a bigger one is a ``SourceError``.

    Examples
    --------
    >>> with HttpClient("regrid", "http://127.0.0.1:9/api/") as client:  # doctest: +SKIP
    ...     client.get_json("parcels/apn", {"parcelnumb": "1"})
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        secret_params: Mapping[str, str] | None = None,
        rate_per_minute: float | None = None,
        burst: int = 1,
        limiter: RateLimiter | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        cache_dir: str | Path | None = None,
        cache_ttl: float | None = None,
        error_body: Callable[[Any], str | None] | None = None,
        auth_hint: str = "check the credentials",
        headers: Mapping[str, str] | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        unreachable_hint: str = "check the network connection, then resume the job",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if int(concurrency) < 1:
            raise ValidationError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if int(max_attempts) < 1:
            raise ValidationError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        if timeout <= 0:
            raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.source = source
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._secret_params = {k: str(v) for k, v in (secret_params or {}).items()}
        self._secrets = [v for v in self._secret_params.values() if v]
        with _KNOWN_LOCK:
            _KNOWN_SECRETS.update(s for s in self._secrets if len(s) >= 4)
        rate = rate_per_minute or DEFAULT_RATE_PER_MINUTE.get(source, FALLBACK_RATE_PER_MINUTE)
        self.limiter = limiter or RateLimiter(rate, burst=burst)
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_attempts = int(max_attempts)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(backoff_max)
        self.max_retry_after = float(max_retry_after)
        self.error_body = error_body
        self.auth_hint = auth_hint
        self.deadline = None if deadline is None else _check_seconds("deadline", deadline)
        self.unreachable_hint = unreachable_hint
        if int(max_response_bytes) < 1:
            raise ValidationError(
                f"max_response_bytes must be a positive integer, got {max_response_bytes!r}"
            )
        self.max_response_bytes = int(max_response_bytes)
        self.counters = Counters()
        self.cache = ResponseCache(cache_dir, ttl=cache_ttl) if cache_dir is not None else None
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
            headers={"User-Agent": "taxsale-toolkit", **dict(headers or {})},
            follow_redirects=True,
        )

    # -- helpers -------------------------------------------------------------

    def url(self, path: str) -> str:
        """Full URL for ``path`` (no query string)."""
        return self.base_url + path.lstrip("/")

    def redact(self, text: str) -> str:
        """:func:`redact` with this client's secrets."""
        return redact(text, self._secrets)

    def shown_url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The URL as it may appear in messages: public params only, redacted."""
        public = self._public(params)
        query = httpx.QueryParams(public)
        return self.redact(self.url(path) + (f"?{query}" if public else ""))

    def cache_key(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> str:
        """Stable key of a request: method + URL + sorted public params (no secrets)."""
        public = sorted(self._public(params).items())
        text = json.dumps([method.upper(), self.url(path), public], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @staticmethod
    def _public(params: Mapping[str, Any] | None) -> dict[str, str]:
        return {
            str(k): str(v)
            for k, v in (params or {}).items()
            if v is not None and str(k).lower() not in SECRET_PARAMS
        }

    # -- requests ------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        validate: Callable[[Any], str | None] | None = None,
        use_cache: bool = True,
    ) -> Any:
        """GET ``path`` and return the decoded JSON body.

        ``validate(json) -> problem | None`` checks the shape; a problem raises
        :class:`SourceError` naming the (redacted) URL, and nothing is cached.

        Raises
        ------
        FatalSourceError
            401 / 403: retrying cannot help; the message says what to fix.
        NotFoundError
            404.
        SourceError
            Malformed body, other 4xx, or retries exhausted.

        Examples
        --------
        >>> client.get_json("parcels/apn", {"parcelnumb": "01.02-003"})  # doctest: +SKIP
        {'parcels': {...}}
        """
        shown = self.shown_url(path, params)
        key = self.cache_key("GET", path, params)
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.counters.add("cache_hits")
                status, body = hit
                if status == 404:
                    raise NotFoundError(f"{self.source}: nothing at {shown} (HTTP 404, cached)")
                return json.loads(body)
        query = {**self._public(params), **self._secret_params}
        limit = self.limit()
        tries = [0]

        def stop(state: tenacity.RetryCallState) -> bool:
            # stop when attempts are used up, or when the next one would start too late
            return (
                state.attempt_number >= self.max_attempts
                or time.monotonic() + (state.upcoming_sleep or 0.0) >= limit.at
            )

        try:
            for attempt in tenacity.Retrying(
                stop=stop,
                wait=self._wait,
                retry=tenacity.retry_if_exception_type(_Retryable),
                before_sleep=self._before_sleep,
                reraise=True,
            ):
                with attempt:
                    tries[0] += 1
                    status, body, data = self._attempt(path, query, shown, validate, limit)
        except _Retryable as exc:
            self.counters.add("errors")
            if exc.time_up or tries[0] < self.max_attempts:
                last = "the last was cut off" if exc.time_up else f"last: {exc}"
                raise DeadlineExceededError(
                    f"{self.source}: no answer from {shown} within the {limit.seconds:g} s"
                    f" {limit.what} ({tries[0]} attempt(s), {last}). The item failed;"
                    " retry it later (toolkit retry), or allow more time."
                ) from None
            raise SourceError(
                f"{self.source}: gave up on {shown} after {self.max_attempts} attempt(s): {exc}"
            ) from None
        except SourceError as exc:
            self.counters.add("errors")
            if isinstance(exc, NotFoundError) and use_cache and self.cache is not None:
                self.cache.put(key, self.source, shown, 404, b"")
            raise
        except FatalSourceError:
            self.counters.add("errors")
            raise
        if use_cache and self.cache is not None:
            self.cache.put(key, self.source, shown, status, body)
        return data

    def limit(self) -> Limit:
        """The time limit of a call starting now: this client's deadline or the block's."""
        scope = _SCOPE.get()
        if self.deadline is None:
            own = Limit(math.inf, math.inf, "deadline")
        else:
            own = Limit(
                time.monotonic() + self.deadline, self.deadline, f"deadline of {self.source} calls"
            )
        return scope if scope is not None and scope.at <= own.at else own

    def unreachable(self, exc: BaseException, url: str | None = None) -> SourceUnreachableError:
        """The error for a connection that could not be made (names source, host and fix)."""
        parts = urlsplit(url or self.base_url)
        host = parts.hostname or "?"
        if parts.port:
            host += f":{parts.port}"
        why = describe_connect_error(exc) or f"cannot connect ({type(exc).__name__})"
        return SourceUnreachableError(
            self.redact(f"{self.source} is unreachable: {why} ({host}); {self.unreachable_hint}.")
        )

    def _read(
        self, url: str, query: Mapping[str, str], timeout: float, cancel: threading.Event
    ) -> tuple[int, str, httpx.Headers, bytes] | None:
        """One GET, the body read in chunks (runs in :func:`run_until`'s helper thread)."""
        try:
            with self._http.stream("GET", url, params=query, timeout=timeout) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    if cancel.is_set():
                        return None  # the caller has gone; let go of the connection
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise SourceError(
                            f"{self.source}: the answer is larger than"
                            f" {self.max_response_bytes:,} bytes; not read"
                        )
                    chunks.append(chunk)
                return (
                    response.status_code,
                    response.reason_phrase,
                    response.headers,
                    b"".join(chunks),
                )
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {timeout:g} s ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            if describe_connect_error(exc) is not None:
                raise self.unreachable(exc, url) from None
            raise _Retryable(
                f"connection failed ({type(exc).__name__}: {self.redact(str(exc))})"
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(
                f"connection failed ({type(exc).__name__}: {self.redact(str(exc))})"
            ) from None
        except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded: never raw httpx
            raise SourceError(
                f"{self.source}: unreadable answer from {self.redact(url)}"
                f" ({type(exc).__name__}: {self.redact(str(exc))})"
            ) from None

    def _attempt(
        self,
        path: str,
        query: Mapping[str, str],
        shown: str,
        validate: Callable[[Any], str | None] | None,
        limit: Limit | None = None,
    ) -> tuple[int, bytes, Any]:
        limit = limit or self.limit()
        time_up = f"no complete answer within the {limit.seconds:g} s {limit.what}"
        try:
            waited = self.limiter.acquire(until=limit.at if math.isfinite(limit.at) else None)
        except RateLimitWait as exc:
            raise _Retryable(
                f"the rate limit's next slot ({exc.seconds:.1f} s) is past the {limit.what}",
                time_up=True,
            ) from None
        self.counters.add("rate_wait_s", waited)
        left = limit.left()
        if left <= 0:
            raise _Retryable(time_up, time_up=True)
        self.counters.add("requests")
        timeout = min(self.timeout, left)
        try:
            answer = run_until(
                limit, lambda cancel: self._read(self.url(path), query, timeout, cancel)
            )
        except _TimeUp:
            raise _Retryable(time_up, time_up=True) from None
        if answer is None:  # pragma: no cover - only after a time-up, handled above
            raise _Retryable(time_up, time_up=True)
        status, reason, headers, body = answer
        log.debug("%s GET %s -> %s", self.source, shown, status)
        if status == 429 or status >= 500:
            wait = parse_retry_after(headers.get("Retry-After"))
            if status == 429:
                self.counters.add("throttled")
                # Everyone waits, not just this thread: the server throttles the token.
                self.limiter.defer(min(wait, self.max_retry_after) if wait is not None else 0.0)
            raise _Retryable(f"HTTP {status} {reason}".rstrip(), retry_after=wait)
        if status in (401, 403):
            raise FatalSourceError(
                f"{self.source} refused the request with HTTP {status} ({shown}): {self.auth_hint}."
            )
        if status == 404:
            raise NotFoundError(f"{self.source}: nothing at {shown} (HTTP 404)")
        if status >= 400 or status < 200:
            snippet = self.redact(body[:200].decode("utf-8", "replace").strip())
            raise SourceError(f"{self.source}: HTTP {status} from {shown}: {snippet!r}")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            snippet = self.redact(body[:80].decode("utf-8", "replace"))
            raise SourceError(
                f"{self.source}: malformed response from {shown}: not JSON"
                f" ({exc.__class__.__name__} at start {snippet!r})"
            ) from None
        if self.error_body is not None:
            problem = self.error_body(data)
            if problem:
                raise _Retryable(f"error in HTTP 200 body: {self.redact(problem)}")
        if validate is not None:
            problem = validate(data)
            if problem:
                raise SourceError(f"{self.source}: malformed response from {shown}: {problem}")
        return status, body, data

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(float(after), self.max_retry_after)
        base = min(self.backoff_max, self.backoff_initial * 2 ** (state.attempt_number - 1))
        return base * (0.5 + random.random() / 2)  # jitter spreads threads apart

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.counters.add("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "%s: attempt %d failed (%s); retrying",
            self.source,
            state.attempt_number,
            self.redact(str(exc)),
        )

    # -- batches -------------------------------------------------------------

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        *,
        item_deadline: float | None = None,
        what: str = "item deadline",
    ) -> list[R | Exception]:
        """Run ``fn`` over ``items`` with :attr:`concurrency` threads.

        Results come back in input order; an item that raised gets its
        exception in its place. After a :class:`FatalSourceError` (bad
        credentials, an unreachable service) the items not yet started get
        that same error without a request, so a wrong token costs one call,
        not a batch. ``item_deadline`` bounds each item's calls together (seconds
        from the item's start, see :func:`deadline`); a caller's
        :func:`deadline` block applies in the threads too.

        Examples
        --------
        >>> client.map(lambda pid: source.lookup(pid, county="Blair"), ids)  # doctest: +SKIP
        [{...}, NotFoundError(...), ...]
        """
        fatal: list[FatalSourceError] = []
        outer = _SCOPE.get()

        def run(item: T) -> R | Exception:
            if fatal:
                return fatal[0]
            token = _SCOPE.set(outer)
            try:
                with deadline(item_deadline, what=what):
                    return fn(item)
            except FatalSourceError as exc:
                fatal.append(exc)
                return exc
            except Exception as exc:  # one item's failure must not sink the batch
                return exc
            finally:
                _SCOPE.reset(token)

        items = list(items)
        if self.concurrency == 1 or len(items) <= 1:
            return [run(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(run, items))

    def close(self) -> None:
        """Close the connection pool and the cache."""
        self._http.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
