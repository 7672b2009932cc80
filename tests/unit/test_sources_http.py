"""The shared HTTP client against a real local server (toolkit.sources.http)."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes import FakeService, Reply, max_in_window  # tests/ is on sys.path (conftest)

from toolkit.exceptions import (
    DeadlineExceededError,
    FatalSourceError,
    NotFoundError,
    SourceError,
    SourceUnreachableError,
    ValidationError,
)
from toolkit.sources.http import (
    HttpClient,
    RateLimiter,
    deadline,
    parse_retry_after,
    redact,
    time_left,
)

TOKEN = "sEcReT-t0ken-9f8e7d"
OK = {"ok": True}


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as service:
        service.route("/api/thing", lambda req: Reply(json={"echo": req.params}))
        yield service


def make(svc: FakeService, **options: object) -> HttpClient:
    defaults: dict[str, object] = {
        "secret_params": {"token": TOKEN},
        "rate_per_minute": 60_000,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "timeout": 2.0,
    }
    return HttpClient("testsvc", svc.url + "/api/", **{**defaults, **options})  # type: ignore[arg-type]


def chain(exc: BaseException) -> str:
    """Every message an error handler could print: the exception and its causes."""
    parts = []
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return "\n".join(parts)


def test_get_json_sends_token_and_params(svc: FakeService) -> None:
    with make(svc) as client:
        data = client.get_json("thing", {"q": "1 MAIN ST", "skip": None})
    assert data == {"echo": {"q": "1 MAIN ST", "token": TOKEN}}
    assert client.counters.snapshot() == {
        "requests": 1,
        "cache_hits": 0,
        "retries": 0,
        "throttled": 0,
        "errors": 0,
        "rate_wait_s": pytest.approx(0.0, abs=0.1),
    }


def test_429_storm_honours_retry_after_and_then_succeeds(svc: FakeService) -> None:
    svc.script("/api/thing", *[Reply(429, json={}, headers={"Retry-After": "0.2"})] * 3)
    with make(svc, max_attempts=5) as client:
        assert client.get_json("thing")["echo"]["token"] == TOKEN
    arrivals = [r.at for r in svc.requests_to("/api/thing")]
    assert len(arrivals) == 4
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.19  # each wait honoured the server's Retry-After
    assert client.counters.throttled == 3 and client.counters.retries == 3


def test_429_holds_back_every_thread(svc: FakeService) -> None:
    svc.script("/api/thing", Reply(429, json={}, headers={"Retry-After": "0.5"}))
    # 10 per second: without a shared pause, requests would go out at 0.1, 0.2, ...
    with make(svc, concurrency=4, rate_per_minute=600) as client:
        results = client.map(lambda i: client.get_json("thing", {"i": i}), range(6))
    assert not any(isinstance(r, Exception) for r in results)
    arrivals = [r.at for r in svc.requests_to("/api/thing")]
    later = [t - arrivals[0] for t in arrivals[1:]]
    assert len(later) == 6 and min(later) >= 0.45  # nobody went before Retry-After ran out


def test_500s_are_retried_with_backoff(svc: FakeService) -> None:
    svc.script("/api/thing", Reply(500, body=b"oops"), Reply(502, body=b"bad gateway"))
    with make(svc) as client:
        assert client.get_json("thing")["echo"]
    assert client.counters.requests == 3 and client.counters.retries == 2


def test_retries_are_bounded_and_the_error_names_the_url_without_token(svc: FakeService) -> None:
    svc.route("/api/down", lambda req: Reply(503, body=b"maintenance"))
    with make(svc, max_attempts=3) as client, pytest.raises(SourceError) as info:
        client.get_json("down", {"parcel": "01-02"})
    assert len(svc.requests_to("/api/down")) == 3
    message = chain(info.value)
    assert "gave up" in message and "HTTP 503" in message
    assert "/api/down?parcel=01-02" in message
    assert TOKEN not in message


def test_slow_answers_time_out_then_retry(svc: FakeService) -> None:
    svc.script("/api/thing", Reply(json=OK, delay=1.0))
    with make(svc, timeout=0.2) as client:
        assert "echo" in client.get_json("thing")  # second attempt is fast
    assert client.counters.retries == 1
    svc.route("/api/slow", lambda req: Reply(json=OK, delay=1.0))
    with make(svc, timeout=0.2, max_attempts=2) as client, pytest.raises(SourceError) as info:
        client.get_json("slow")
    assert "timed out" in str(info.value) and TOKEN not in chain(info.value)


def test_malformed_body_is_a_source_error_naming_the_url(svc: FakeService) -> None:
    svc.route("/api/html", lambda req: Reply(body=b"<html>proxy error</html>"))
    with make(svc) as client, pytest.raises(SourceError) as info:
        client.get_json("html", {"a": "b"})
    message = str(info.value)
    assert "malformed" in message and "not JSON" in message and "/api/html?a=b" in message
    assert TOKEN not in chain(info.value)
    assert client.counters.requests == 1  # retrying cannot fix a body


def test_validate_hook_reports_shape_problems(svc: FakeService) -> None:
    with make(svc) as client, pytest.raises(SourceError, match="expected a list"):
        client.get_json(
            "thing", validate=lambda d: None if isinstance(d, list) else "expected a list"
        )


@pytest.mark.parametrize("status", [401, 403])
def test_bad_credentials_are_fatal_and_not_retried(svc: FakeService, status: int) -> None:
    svc.route("/api/auth", lambda req: Reply(status, json={"error": f"bad token {req.params}"}))
    with (
        make(svc, auth_hint="set TESTSVC_TOKEN") as client,
        pytest.raises(FatalSourceError) as info,
    ):
        client.get_json("auth")
    assert f"HTTP {status}" in str(info.value) and "set TESTSVC_TOKEN" in str(info.value)
    assert TOKEN not in chain(info.value)
    assert client.counters.requests == 1


def test_404_is_not_found(svc: FakeService) -> None:
    with make(svc) as client, pytest.raises(NotFoundError, match="HTTP 404"):
        client.get_json("nowhere")


def test_other_4xx_is_a_source_error_with_redacted_body(svc: FakeService) -> None:
    svc.route("/api/bad", lambda req: Reply(400, body=f"bad request token={TOKEN}".encode()))
    with make(svc) as client, pytest.raises(SourceError) as info:
        client.get_json("bad")
    assert "HTTP 400" in str(info.value) and TOKEN not in chain(info.value)


def test_error_body_with_http_200_is_retried(svc: FakeService) -> None:
    def usfws_error(data: object) -> str | None:
        if isinstance(data, dict) and "error" in data:
            return str(data["error"].get("message"))
        return None

    svc.script("/api/thing", Reply(json={"error": {"code": 500, "message": "Unable to complete"}}))
    with make(svc, error_body=usfws_error) as client:
        assert "echo" in client.get_json("thing")
    assert client.counters.retries == 1
    svc.route("/api/broken", lambda req: Reply(json={"error": {"message": "Unable to complete"}}))
    with (
        make(svc, error_body=usfws_error, max_attempts=2) as client,
        pytest.raises(SourceError, match="Unable to complete"),
    ):
        client.get_json("broken")


def closed_port_url() -> str:
    with FakeService() as dead:
        return dead.url  # a port that was just closed: connection refused


def test_connection_refused_is_unreachable_at_once_naming_source_host_and_fix() -> None:
    url = closed_port_url()
    client = HttpClient(
        "gone",
        url + "/api/",
        secret_params={"token": TOKEN},
        max_attempts=5,
        backoff_initial=0.5,
        rate_per_minute=60_000,
        unreachable_hint="check the network, or use local layers",
    )
    started = time.monotonic()
    with client, pytest.raises(SourceUnreachableError) as info:
        client.get_json("x", {"q": "1"})
    assert time.monotonic() - started < 2.0  # no retries, no backoff (5 tries: >= 7.5 s)
    assert isinstance(info.value, FatalSourceError)  # the session pauses the job at once
    message = str(info.value)
    host = url.removeprefix("http://")
    assert message == (
        f"gone is unreachable: connection refused ({host}); check the network, or use local layers."
    )
    assert client.counters.requests == 1 and TOKEN not in chain(info.value)


def test_unknown_host_is_unreachable_and_says_dns() -> None:
    client = HttpClient(
        "nowhere", "http://nonexistent.invalid/api/", max_attempts=5, rate_per_minute=60_000
    )
    with client, pytest.raises(SourceUnreachableError, match=r"cannot be resolved \(DNS\)") as info:
        client.get_json("x")
    assert "nonexistent.invalid" in str(info.value)
    assert client.counters.requests == 1


def test_unreachable_source_stops_a_batch_after_one_call() -> None:
    client = HttpClient("gone", closed_port_url() + "/api/", concurrency=4, rate_per_minute=60_000)
    with client:
        results = client.map(lambda i: client.get_json("x", {"i": i}), range(40))
    assert all(isinstance(r, SourceUnreachableError) for r in results)
    assert client.counters.requests <= 4  # the threads already under way, no more


def test_a_dropped_connection_mid_answer_is_still_retried(svc: FakeService) -> None:
    # the service was reached; a broken answer is worth another try (not "unreachable")
    svc.script("/api/thing", Reply(json=OK, headers={"Content-Length": "999"}))
    with make(svc, timeout=0.5) as client:
        assert "echo" in client.get_json("thing")
    assert client.counters.retries == 1


def test_a_trickling_server_is_cut_off_at_the_deadline(svc: FakeService) -> None:
    # a byte every 0.1 s never trips a per-read timeout; the answer would take 30 s
    svc.route("/api/trickle", lambda req: Reply(body=b"x" * 300, trickle=0.1))
    started = time.monotonic()
    with (
        make(svc, timeout=5.0, deadline=1.0, max_attempts=3) as client,
        pytest.raises(DeadlineExceededError) as info,
    ):
        client.get_json("trickle")
    took = time.monotonic() - started
    assert 0.9 < took < 2.5  # not the 30 s the body takes
    assert "within the 1 s deadline of testsvc calls" in str(info.value)
    assert isinstance(info.value, SourceError) and TOKEN not in chain(info.value)
    assert len(svc.requests_to("/api/trickle")) == 1


def test_retries_stop_at_the_deadline(svc: FakeService) -> None:
    svc.route("/api/down", lambda req: Reply(503, body=b"down"))
    started = time.monotonic()
    with (
        make(svc, max_attempts=1000, backoff_initial=0.1, backoff_max=0.1, deadline=1.0) as client,
        pytest.raises(DeadlineExceededError, match="HTTP 503"),
    ):
        client.get_json("down")
    assert time.monotonic() - started < 2.0
    assert 5 <= len(svc.requests_to("/api/down")) < 20


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(svc: FakeService) -> None:
    svc.route("/api/busy", lambda req: Reply(429, json={}, headers={"Retry-After": "60"}))
    started = time.monotonic()
    with (
        make(svc, deadline=5.0) as client,
        pytest.raises(DeadlineExceededError, match="HTTP 429"),
    ):
        client.get_json("busy")
    assert time.monotonic() - started < 2.0  # not the 60 s asked for
    assert len(svc.requests_to("/api/busy")) == 1


def test_a_deadline_block_bounds_several_calls_together(svc: FakeService) -> None:
    svc.route("/api/slow", lambda req: Reply(json=OK, delay=0.3))
    started = time.monotonic()
    calls = 0
    with make(svc, timeout=5.0) as client, pytest.raises(DeadlineExceededError) as info:
        with deadline(1.0, what="item deadline (TEST_DEADLINE)"):
            for _ in range(10):
                client.get_json("slow", {"n": calls})
                calls += 1
    assert calls in (2, 3) and time.monotonic() - started < 2.0  # not 10 x 0.3 s
    assert "within the 1 s item deadline (TEST_DEADLINE)" in str(info.value)
    assert time_left() is None  # the block is over


def test_map_gives_each_item_its_own_deadline(svc: FakeService) -> None:
    svc.route(
        "/api/item",
        lambda req: Reply(
            json={"i": req.params["i"]}, delay=5.0 if req.params["i"] == "1" else 0.0
        ),
    )
    started = time.monotonic()
    with make(svc, concurrency=2, timeout=5.0) as client:
        results = client.map(
            lambda i: client.get_json("item", {"i": i})["i"], range(6), item_deadline=0.5
        )
    assert isinstance(results[1], DeadlineExceededError)
    assert [r for i, r in enumerate(results) if i != 1] == ["0", "2", "3", "4", "5"]
    assert time.monotonic() - started < 3.0  # not the 5 s item 1 would take


def test_rerun_with_cache_costs_no_requests_and_keys_have_no_token(
    svc: FakeService, tmp_path: Path
) -> None:
    with make(svc, cache_dir=tmp_path) as first:
        a = first.get_json("thing", {"q": "x"})
        with pytest.raises(NotFoundError):
            first.get_json("nowhere")
    sent = len(svc.requests)
    with make(svc, cache_dir=tmp_path, secret_params={"token": "another-token-1234"}) as second:
        assert second.get_json("thing", {"q": "x"}) == a
        with pytest.raises(NotFoundError, match="cached"):
            second.get_json("nowhere")
        assert second.counters.requests == 0 and second.counters.cache_hits == 2
        rows = second.cache.dump() if second.cache else []
    assert len(svc.requests) == sent
    assert rows and all(TOKEN not in "".join(map(str, row)) for row in rows)
    assert all("token" not in row[2] for row in rows)
    # keys exclude secrets: the same request under another token is the same key
    assert first.cache_key("GET", "thing", {"q": "x", "token": "a"}) == first.cache_key(
        "GET", "thing", {"q": "x", "token": "b"}
    )


def test_failed_answers_are_not_cached(svc: FakeService, tmp_path: Path) -> None:
    svc.route("/api/html", lambda req: Reply(body=b"not json"))
    with make(svc, cache_dir=tmp_path) as client:
        for _ in range(2):
            with pytest.raises(SourceError):
                client.get_json("html")
    assert len(svc.requests_to("/api/html")) == 2


def test_token_never_reaches_logs(svc: FakeService, caplog: pytest.LogCaptureFixture) -> None:
    svc.script("/api/thing", Reply(500, body=b"x"))
    with caplog.at_level(logging.DEBUG):
        with make(svc) as client:
            client.get_json("thing", {"q": "1"})
        logging.getLogger("httpx").info("GET http://h/x?token=%s", TOKEN)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/thing" in text  # something was logged
    assert TOKEN not in text


def test_map_keeps_order_and_returns_per_item_errors(svc: FakeService) -> None:
    svc.route(
        "/api/item",
        lambda req: Reply(404 if req.params["i"] == "3" else 200, json={"i": int(req.params["i"])}),
    )
    with make(svc, concurrency=4) as client:
        results = client.map(lambda i: client.get_json("item", {"i": i})["i"], range(10))
    assert [r for r in results if not isinstance(r, Exception)] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert isinstance(results[3], NotFoundError)


def test_map_stops_calling_after_a_fatal_error(svc: FakeService) -> None:
    svc.route("/api/auth", lambda req: Reply(401, json={}))
    with make(svc, concurrency=2) as client:
        results = client.map(lambda i: client.get_json("auth", {"i": i}), range(20))
    assert all(isinstance(r, FatalSourceError) for r in results)
    assert len(svc.requests_to("/api/auth")) <= 2


def test_rate_limiter_never_exceeds_its_rate_across_threads() -> None:
    limiter = RateLimiter(1200)  # 20 per second
    times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            limiter.acquire()
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(times) == 32
    assert max_in_window(times, 1.0) <= 20


def test_rate_limit_holds_at_the_server(svc: FakeService) -> None:
    with make(svc, rate_per_minute=1500, concurrency=4) as client:  # 25 per second
        results = client.map(lambda i: client.get_json("thing", {"i": i}), range(35))
    assert not any(isinstance(r, Exception) for r in results)
    arrivals = [r.at for r in svc.requests_to("/api/thing")]
    # the limiter spaces the sends; on a busy machine one request can arrive late
    # and land beside the next, so the server may see one more in some second
    assert len(arrivals) == 35 and max_in_window(arrivals, 1.0) <= 26


def test_burst_allows_that_many_at_once() -> None:
    limiter = RateLimiter(60, burst=3)  # 1 per second, 3 at once
    waits = [limiter.acquire() for _ in range(3)]
    assert waits == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        ("soon", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


def test_redact() -> None:
    assert redact(f"x?a=1&token={TOKEN}&b=2") == "x?a=1&token=***&b=2"
    assert redact(f"said {TOKEN} twice {TOKEN}", [TOKEN]) == "said *** twice ***"


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"max_attempts": 0},
        {"timeout": 0},
        {"rate_per_minute": -5},
        {"deadline": 0},
        {"deadline": "soon"},
        {"max_response_bytes": 0},
    ],
)
def test_bad_options_are_validation_errors(svc: FakeService, options: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=next(iter(options))):
        make(svc, **options)


def test_no_deadline_means_only_the_attempts_bound_a_call(svc: FakeService) -> None:
    svc.script("/api/thing", Reply(500, body=b"x"))
    with make(svc, deadline=None) as client:
        assert "echo" in client.get_json("thing")
    assert client.counters.retries == 1


def test_an_undecodable_body_is_a_source_error_not_a_raw_httpx_one(svc: FakeService) -> None:
    svc.route(
        "/api/gz", lambda req: Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    )
    with (
        make(svc) as client,
        pytest.raises(SourceError, match=r"unreadable answer .*DecodingError"),
    ):
        client.get_json("gz")
