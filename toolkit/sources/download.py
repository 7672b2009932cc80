"""Bounded downloads of a file from a URL (a county's sale-list PDF).

:func:`download` streams the answer into a temporary file in the folder given,
hashing as it goes, so memory stays flat whatever the size; and it holds the
download to limits, each a clear toolkit error when crossed (never a raw
httpx exception):

- **size**: ``max_bytes`` (default 200 MB, ``$TOOLKIT_MAX_DOWNLOAD_MB``); an
  answer announcing more is refused before its body is read, one sending more
  is cut off at the cap;
- **time**: ``deadline`` seconds for the whole download -- every redirect,
  retry and read (default 120, ``$TOOLKIT_DOWNLOAD_DEADLINE``). httpx's
  timeout is per read: a server that trickles a byte every few seconds would
  otherwise hold the download for ever;
- **redirects**: followed here, one at a time, at most ``max_redirects``
  (default 5); a loop is named as a loop;
- **where**: only ``http`` and ``https``, and only to public addresses. Each
  host is resolved and every address it resolves to must be public (not
  loopback, private, link-local -- where cloud metadata services answer --,
  multicast, reserved or otherwise non-global); the connection then goes to
  the address that was checked, so a second DNS answer cannot swap it.

Private addresses (an intranet server, a test server on 127.0.0.1) are
fetched only when allowed: ``allow_private=True`` or
``$TOOLKIT_ALLOW_PRIVATE_URLS=1``. The allowance covers the host you named
and redirects that stay on that same host name; a redirect to another host
must lead to a public address, always. (You vouch for the host you typed, not
for where it sends you.) Proxies from the environment are not used, since the
checked address must be the one connected to.

Example::

    got = download("https://county.example/taxsale/2027-upset.pdf", Path("documents"))
    got.path, got.sha256, got.size
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import tenacity

from toolkit.exceptions import (
    BlockedURLError,
    DownloadError,
    FatalSourceError,
    NotFoundError,
    SourceError,
    ValidationError,
)
from toolkit.sources.http import (
    Limit,
    RateLimitWait,
    _TimeUp,
    describe_connect_error,
    redact,
    run_until,
)

if TYPE_CHECKING:
    from toolkit.sources.http import HttpClient

DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # a sale list is a few MB; this stops a runaway answer
DEFAULT_DEADLINE = 120.0  # a sale list of a few MB needs seconds; raise it for slow links
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 30.0  # per connect / read
ALLOW_PRIVATE_ENV = "TOOLKIT_ALLOW_PRIVATE_URLS"
MAX_MB_ENV = "TOOLKIT_MAX_DOWNLOAD_MB"
DEADLINE_ENV = "TOOLKIT_DOWNLOAD_DEADLINE"
SCHEMES = ("http", "https")
REDIRECTS = (301, 302, 303, 307, 308)
HEAD_BYTES = 1024


@dataclass(frozen=True)
class Download:
    """A finished download: a temporary file in the folder given (the caller keeps or moves it)."""

    path: Path
    sha256: str
    size: int
    url: str  # where the file came from, after redirects (redacted)
    content_type: str
    head: bytes = field(repr=False)  # the first bytes, for checks


#: ``check(content_type, head)`` may refuse an answer from its first bytes (raise).
Check = Callable[[str, bytes], None]


def allow_private_default() -> bool:
    """``$TOOLKIT_ALLOW_PRIVATE_URLS`` as a flag (1 / true / yes)."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"{name}={raw!r} is not a number (default {default:g}).") from None
    if not value > 0:
        raise ValidationError(f"{name}={raw!r} must be positive (default {default:g}).")
    return value


def blocked_reason(address: str) -> str | None:
    """Why an IP address is not public (None when it is).

    Examples
    --------
    >>> blocked_reason("169.254.169.254")
    'a link-local address (cloud metadata services answer there)'
    >>> blocked_reason("8.8.8.8") is None
    True
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services answer there)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private network address"
    if not ip.is_global:
        return "an address that is not public"
    return None


class _Again(SourceError):
    """Internal: this attempt failed in a way another attempt may fix."""


@dataclass
class _State:
    """What one attempt knows, shared with the thread doing it."""

    url: str
    allow_private: bool
    max_bytes: int
    max_redirects: int
    timeout: float
    check: Check | None
    part: Path
    counters: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    received: int = 0


def download(
    url: str,
    folder: str | Path,
    *,
    max_bytes: int | None = None,
    deadline: float | None = None,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    allow_private: bool | None = None,
    check: Check | None = None,
    client: HttpClient | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_attempts: int = 3,
) -> Download:
    """Download ``url`` into a temporary file in ``folder``, within limits (see module doc).

    Parameters
    ----------
    url
        ``http(s)://…``.
    folder
        Where the temporary file is written (``.<random>.part``).
    max_bytes, deadline
        Size cap and total seconds; default ``$TOOLKIT_MAX_DOWNLOAD_MB`` (200) and
        ``$TOOLKIT_DOWNLOAD_DEADLINE`` (120).
    max_redirects
        Redirects followed at most.
    allow_private
        Let the URL's own host be a private / loopback address (default
        ``$TOOLKIT_ALLOW_PRIVATE_URLS``); redirects to other hosts stay public-only.
    check
        ``check(content_type, first_bytes)``: raise to refuse the answer early
        (an HTML page instead of a PDF) without reading the rest.
    client
        An :class:`~toolkit.sources.http.HttpClient` whose rate limit, counters,
        attempts and backoff to use (its connection pool is not: redirects
        are followed here, to checked addresses).
    timeout
        Seconds per connect / read (the deadline bounds the whole).
    max_attempts
        Tries for timeouts, HTTP 429 and 5xx (without ``client``).

    Raises
    ------
    BlockedURLError
        Not http(s), or a host (the URL's or a redirect's) that is not public.
    DownloadError
        Too large, too slow, too many redirects or a loop, host unknown or
        refusing connections.
    FatalSourceError
        HTTP 401 / 403: the file needs a login.
    NotFoundError
        HTTP 404.
    SourceError
        Another HTTP error, or retries used up.
    """
    shown = redact(url)
    folder = Path(folder)
    cap = int(max_bytes) if max_bytes is not None else int(_env_number(MAX_MB_ENV, 200) * 2**20)
    if cap < 1:
        raise ValidationError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
    seconds = (
        float(deadline) if deadline is not None else _env_number(DEADLINE_ENV, DEFAULT_DEADLINE)
    )
    if not seconds > 0:
        raise ValidationError(f"deadline must be a positive number of seconds, got {deadline!r}")
    if int(max_redirects) < 0:
        raise ValidationError(f"max_redirects must be >= 0, got {max_redirects!r}")
    limit = Limit(time.monotonic() + seconds, seconds, "download deadline")
    attempts = client.max_attempts if client is not None else int(max_attempts)
    backoff = (client.backoff_initial, client.backoff_max) if client is not None else (0.5, 10.0)
    state = _State(
        url=url,
        allow_private=allow_private_default() if allow_private is None else bool(allow_private),
        max_bytes=cap,
        max_redirects=int(max_redirects),
        timeout=float(timeout),
        check=check,
        part=folder / f".{uuid.uuid4().hex}.part",
        counters=client.counters if client is not None else None,
        headers={"User-Agent": "taxsale-toolkit"},
    )
    _check_scheme(url, shown)
    folder.mkdir(parents=True, exist_ok=True)

    def wait(rs: tenacity.RetryCallState) -> float:
        base = min(backoff[1], backoff[0] * 2 ** (rs.attempt_number - 1))
        return base * (0.5 + random.random() / 2)

    def stop(rs: tenacity.RetryCallState) -> bool:
        return rs.attempt_number >= attempts or (
            time.monotonic() + (rs.upcoming_sleep or 0.0) >= limit.at
        )

    tries = 0
    try:
        for attempt in tenacity.Retrying(
            stop=stop, wait=wait, retry=tenacity.retry_if_exception_type(_Again), reraise=True
        ):
            with attempt:
                tries += 1
                if client is not None:
                    try:
                        client.counters.add("rate_wait_s", client.limiter.acquire(until=limit.at))
                    except RateLimitWait:  # the next slot is after the deadline
                        raise _too_slow(shown, limit, state) from None
                try:
                    return run_until(limit, lambda cancel: _attempt(state, cancel))
                except _TimeUp:
                    raise _too_slow(shown, limit, state) from None
    except _Again as exc:
        _discard(state.part)
        if tries >= attempts:
            raise SourceError(
                f"Gave up downloading {shown} after {attempts} attempt(s): {exc}"
            ) from None
        raise DownloadError(
            f"Gave up downloading {shown} after {tries} attempt(s): {exc}, and another try"
            f" would pass the {seconds:g} s {limit.what}; try again later."
        ) from None
    except BaseException:
        _discard(state.part)
        raise
    raise AssertionError("unreachable")  # pragma: no cover


def _too_slow(shown: str, limit: Limit, state: _State) -> DownloadError:
    _discard(state.part)
    return DownloadError(
        f"{shown} did not finish within the {limit.seconds:g} s {limit.what}"
        f" ({state.received:,} bytes received); the server is too slow. Try again later,"
        f" or allow more time with {DEADLINE_ENV}=<seconds>."
    )


def _discard(part: Path) -> None:
    try:
        part.unlink(missing_ok=True)
    except OSError:  # pragma: no cover - e.g. still open on Windows
        pass


def _check_scheme(url: str, shown: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise BlockedURLError(f"{shown} is not a valid URL ({exc}).") from None
    if parsed.scheme not in SCHEMES:
        raise BlockedURLError(
            f"{shown}: only http and https URLs are downloaded, not {parsed.scheme or 'none'!r}."
        )
    if not parsed.host:
        raise BlockedURLError(f"{shown} has no host name.")
    return parsed


def _resolve(parsed: httpx.URL, shown: str, *, private_ok: bool, first: bool) -> list[str]:
    """The addresses to connect to, all checked; refuse a host that is not public."""
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DownloadError(
            f"Cannot download {shown}: the host name {host!r} cannot be resolved (DNS: {exc});"
            " check the link and the network."
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if private_ok:
        return addresses
    for address in addresses:
        why = blocked_reason(address)
        if why is not None:
            what = "The URL" if first else "A redirect"
            hint = (
                f" If you trust this server, allow it with {ALLOW_PRIVATE_ENV}=1"
                " (allow_private=True)."
                if first
                else " Redirects to other hosts must lead to public addresses."
            )
            raise BlockedURLError(
                f"{what} leads to {host} = {address}, {why}; the toolkit fetches files from"
                f" public addresses only, so {shown} was not downloaded.{hint}"
            )
    return addresses


def _attempt(state: _State, cancel: threading.Event) -> Download:
    """One try: follow redirects by hand, stream the final answer to the part file."""
    first_host = httpx.URL(state.url).host
    seen = [state.url]
    current = state.url
    with httpx.Client(
        timeout=httpx.Timeout(state.timeout), follow_redirects=False, trust_env=False
    ) as http:
        for hop in range(state.max_redirects + 1):
            shown = redact(current)
            parsed = _check_scheme(current, shown)
            private_ok = state.allow_private and parsed.host == first_host
            addresses = _resolve(parsed, redact(state.url), private_ok=private_ok, first=hop == 0)
            response = _open(http, parsed, addresses, state, shown)
            try:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise DownloadError(
                            f"{shown} answered HTTP {response.status_code} (a redirect) without"
                            " saying where to; nothing was added."
                        )
                    try:
                        nxt = str(httpx.URL(current).join(location))
                    except (httpx.InvalidURL, ValueError) as exc:
                        raise BlockedURLError(
                            f"{shown} redirects to {redact(location)!r}, which is not a valid"
                            f" URL ({exc}); nothing was added."
                        ) from None
                    if nxt in seen:
                        chain = " -> ".join(redact(u) for u in [*seen, nxt])
                        raise DownloadError(f"Redirect loop: {chain}; nothing was added.")
                    seen.append(nxt)
                    current = nxt
                    continue
                return _save(response, state, cancel, current)
            finally:
                response.close()
        raise DownloadError(
            f"{redact(state.url)} redirected more than {state.max_redirects} times"
            f" (the next one to {redact(current)}); nothing was added."
        )


def _open(
    http: httpx.Client, parsed: httpx.URL, addresses: list[str], state: _State, shown: str
) -> httpx.Response:
    """GET ``parsed`` from the checked address (Host header and TLS name stay the host's)."""
    last: BaseException | None = None
    for address in addresses:
        target = parsed.copy_with(host=address.split("%", 1)[0], fragment=None)
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        host_header = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
        if parsed.port is not None:
            host_header += f":{parsed.port}"
        request = http.build_request(
            "GET", target, headers={**state.headers, "Host": host_header}, extensions=extensions
        )
        if state.counters is not None:
            state.counters.add("requests")
        try:
            return http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise _Again(f"timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            last = exc  # try the host's next address
            continue
        except httpx.TransportError as exc:
            if isinstance(exc.__cause__ or exc.__context__, httpx.InvalidURL):
                # httpx reads a redirect's Location even when it does not follow it
                raise BlockedURLError(
                    f"{shown} redirects to a Location that is not a valid URL ({exc});"
                    " nothing was added."
                ) from None
            raise _Again(f"connection failed ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:  # never let a raw httpx error out
            raise DownloadError(f"Cannot download {shown}: {type(exc).__name__}: {exc}") from None
    why = describe_connect_error(last) if last is not None else None
    raise DownloadError(
        f"Cannot download {shown}: {why or 'no connection'} ({parsed.host});"
        " check the link and the network."
    )


def _save(response: httpx.Response, state: _State, cancel: threading.Event, url: str) -> Download:
    shown = redact(url)
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Again(f"HTTP {status}")
    if status in (401, 403):
        raise FatalSourceError(
            f"{shown} refused the download with HTTP {status}; the file needs a login —"
            " download it in a browser and add the local file."
        )
    if status == 404:
        raise NotFoundError(f"Nothing at {shown} (HTTP 404); check the link on the county's site.")
    if status >= 400 or status < 200:
        raise SourceError(f"{shown} answered HTTP {status}; nothing was added.")
    announced = response.headers.get("content-length", "").strip()
    if announced.isdigit() and int(announced) > state.max_bytes:
        raise DownloadError(
            f"{shown} announces {int(announced):,} bytes, more than the"
            f" {state.max_bytes:,}-byte limit; that is not a sale list. If it is right,"
            f" raise the limit with {MAX_MB_ENV}=<megabytes>."
        )
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    digest = hashlib.sha256()
    head = b""
    checked = state.check is None
    size = 0
    try:
        with state.part.open("wb") as out:
            for chunk in response.iter_bytes():
                if cancel.is_set():
                    raise _Again("stopped at the deadline")
                size += len(chunk)
                state.received = size
                if size > state.max_bytes:
                    raise DownloadError(
                        f"{shown} sent more than the {state.max_bytes:,}-byte limit; stopped"
                        f" there. If it is right, raise the limit with {MAX_MB_ENV}=<megabytes>."
                    )
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                if not checked and len(head) >= HEAD_BYTES:
                    state.check(ctype, head)  # type: ignore[misc]
                    checked = True
                digest.update(chunk)
                out.write(chunk)
        if not checked:
            state.check(ctype, head)  # type: ignore[misc]
    except httpx.TimeoutException as exc:
        _discard(state.part)
        raise _Again(f"timed out while reading ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        _discard(state.part)
        raise _Again(f"the connection broke while reading ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:  # e.g. a body that cannot be decoded
        _discard(state.part)
        raise DownloadError(f"{shown} sent an unreadable answer ({type(exc).__name__})") from None
    except BaseException:
        _discard(state.part)
        raise
    return Download(state.part, digest.hexdigest(), size, shown, ctype, head)
