"""environmental_research against real sockets: offline pauses at once, slow services meet the
item deadline, online sources never fall back to the synthetic sample layers."""

from __future__ import annotations

import itertools
import json
import shutil
import time
from pathlib import Path

import pytest
from fakes import FakeService, Reply
from fakes.env_servers import EchoFake, NFHLFake, WetlandsFake

import toolkit
from toolkit.demo import build_sample_workspace

FAST = {"rate_per_minute": 60_000, "backoff_initial": 0.01, "backoff_max": 0.02, "timeout": 2.0}


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """Somerset's sample properties with parcel data and verdicts: 109 wait for research."""
    path = tmp_path_factory.mktemp("screened") / "ws.duckdb"
    ws = build_sample_workspace(path)
    for jt in ("regrid_scraping", "visual_validation"):
        ws.run_session(ws.create_batch_job(jt, "Somerset"), max_items=100_000)
    ws.close()
    return path


@pytest.fixture
def ws(screened, tmp_path):
    dst = tmp_path / "ws.duckdb"
    shutil.copyfile(screened, dst)
    w = toolkit.connect(str(dst))
    yield w
    w.close()


def settings(tmp_path: Path, **config: object) -> str:
    path = tmp_path / "env_sources.json"
    path.write_text(json.dumps({"mode": "online", "http": FAST, **config}))
    return str(path)


def closed_port_url() -> str:
    with FakeService() as dead:
        return dead.url


@pytest.mark.parametrize(
    ("base", "why"),
    [
        (None, "connection refused"),  # a port nobody listens on
        ("http://nonexistent.invalid", "the host name cannot be resolved (DNS)"),
    ],
)
def test_offline_research_pauses_at_once_naming_source_host_and_fix(
    ws, tmp_path, monkeypatch, base, why
):
    base = base or closed_port_url()
    monkeypatch.setenv(
        "TOOLKIT_ENV_SOURCES",
        settings(
            tmp_path,
            flood={"url": base + "/arcgis/rest/services/public/NFHL/MapServer/28/query"},
            epa={"base_url": base + "/echo/"},
            wetlands={"url": base + "/wetlandsmapservice/rest/services/Wetlands/MapServer/0/query"},
            http={**FAST, "max_attempts": 5, "backoff_initial": 1.0},
        ),
    )
    job = ws.create_batch_job("environmental_research", "Somerset")
    started = time.monotonic()
    s = ws.run_session(job)
    took = time.monotonic() - started
    assert took < 8.0  # not 5 attempts x backoff (>= 15 s) per item: one call, the pause
    assert s.status == "paused" and s.processed == 0 and s.failed == 0
    status = ws.get_batch_status(job)
    assert status["pending_items"] == 109 and status["failed_items"] == 0
    host = base.removeprefix("http://")
    reason = status["pause_reason"] or s.pause_reason or ""
    assert f"is unreachable: {why} ({host})" in reason
    assert "check the network, or set TOOLKIT_ENV_SOURCES=<settings file> to use local layers" in (
        reason
    )
    assert ws.sql("SELECT count(*) AS n FROM environmental_assessments").n[0] == 0


@pytest.fixture
def services():
    with NFHLFake() as nfhl, EchoFake() as echo, WetlandsFake() as nwi:
        yield nfhl, echo, nwi


def test_online_without_a_mine_layer_is_unknown_never_the_sample(
    ws, tmp_path, monkeypatch, services
):
    nfhl, echo, nwi = services  # no zones, facilities or wetlands anywhere: all LOW but mines
    monkeypatch.setenv(
        "TOOLKIT_ENV_SOURCES",
        settings(
            tmp_path,
            flood={"url": nfhl.query_url},
            epa={"base_url": echo.base_url},
            wetlands={"url": nwi.query_url},
        ),
    )
    s = ws.run_session(ws.create_batch_job("environmental_research", "Somerset"), max_items=20)
    assert s.processed == 20 and s.failed == 0
    rows = ws.sql(
        "SELECT mine_subsidence, risk_level, reasons, inputs_used FROM environmental_assessments"
    )
    assert rows.mine_subsidence.isna().all()
    assert not rows.reasons.str.contains("SYNTHETIC|synthetic").any()
    assert not rows.inputs_used.str.contains("local_layer").any()
    assert not (rows.risk_level == "LOW").any()  # a check that could not run is never LOW
    assert set(rows.risk_level) <= {"UNKNOWN", "MEDIUM", "HIGH"}
    assert rows.reasons.str.contains(r"could not run \(.*mine subsidence\)").any()


def test_a_slow_service_meets_the_item_deadline_and_the_items_fail(
    ws, tmp_path, monkeypatch, services
):
    nfhl, _echo, nwi = services
    slow = FakeService().start()
    try:
        # ECHO answers, slowly: 0.4 s a call, and a trickled body (a byte every 0.2 s: ~10 s)
        slow.route(
            "/echo/echo_rest_services.get_facilities",
            lambda r: Reply(
                json={"Results": {"QueryRows": "1", "QueryID": "7"}},
                delay=0.4,
                trickle=0.2,
                trickle_bytes=1,
            ),
        )
        monkeypatch.setenv(
            "TOOLKIT_ENV_SOURCES",
            settings(
                tmp_path,
                flood={"url": nfhl.query_url},
                epa={"base_url": slow.url + "/echo/"},
                wetlands={"url": nwi.query_url},
                http={**FAST, "timeout": 30.0},
            ),
        )
        monkeypatch.setenv("TOOLKIT_ITEM_DEADLINE", "1")
        job = ws.create_batch_job("environmental_research", "Somerset", batch_size=3)
        s = ws.run_session(job, max_items=3)
        calls = [r.at for r in slow.requests]
        ended = time.monotonic()
    finally:
        slow.stop()
    assert s.failed == 3 and s.processed == 0
    # one call per item (no retry after the time is up), each item stopped at its 1 s deadline
    assert len(calls) == 3
    assert all(0.9 < b - a < 3.0 for a, b in itertools.pairwise([*calls, ended]))
    errors = [f["error"] for f in s.failures]
    assert all("within the 1 s item deadline (TOOLKIT_ITEM_DEADLINE)" in e for e in errors)
    assert all(e.startswith("epa_echo: no answer from") for e in errors)
    assert ws.sql("SELECT count(*) AS n FROM environmental_assessments").n[0] == 0


# -- parcel data from the Regrid API ----------------------------------------------------


def test_regrid_api_offline_pauses_at_once_and_never_shows_the_token(tmp_path, monkeypatch):
    ws = toolkit.connect(str(tmp_path / "api.duckdb"))
    ws.import_properties(toolkit.demo.sample_properties())
    url = closed_port_url()
    monkeypatch.setenv("TOOLKIT_REGRID_URL", url + "/api/v2/")
    monkeypatch.setenv("REGRID_TOKEN", "s3cret-t0ken-xyz")
    job = ws.create_batch_job("regrid_scraping", "Blair", 50)
    started = time.monotonic()
    s = ws.run_session(job)
    assert time.monotonic() - started < 8.0  # before: every parcel retried, ~1 min
    assert s.outcome == "auto_paused" and s.processed == 0 and s.failed == 0
    host = url.removeprefix("http://")
    assert s.pause_reason == (
        f"Paused at once: regrid is unreachable: connection refused ({host}); check the network (and"
        " TOOLKIT_REGRID_URL, if set), or add the county's bulk file with"
        " ws.add_bulk_file(path, county); then resume the job."
    )
    assert ws.get_batch_status(job)["pending_items"] == 252
    assert "s3cret" not in s.pause_reason
    ws.close()


def test_regrid_api_slow_answers_fail_each_parcel_at_its_deadline(tmp_path, monkeypatch):
    from fakes.regrid_server import RegridFake

    ws = toolkit.connect(str(tmp_path / "slow.duckdb"))
    ws.import_properties(toolkit.demo.sample_properties())
    with RegridFake(token="t0k3n", latency=0.6) as fake:
        monkeypatch.setenv("TOOLKIT_REGRID_URL", fake.base_url)
        monkeypatch.setenv("TOOLKIT_REGRID_RATE", "60000")
        monkeypatch.setenv("REGRID_TOKEN", "t0k3n")
        monkeypatch.setenv("TOOLKIT_ITEM_DEADLINE", "1")
        job = ws.create_batch_job("regrid_scraping", "Blair", 8)
        started = time.monotonic()
        s = ws.run_session(job, max_items=8)
        took = time.monotonic() - started
    # nothing in the fake: each parcel asks by number (0.6 s), then by address -- past 1 s
    assert s.failed == 8 and s.processed == 0
    assert all(
        "within the 1 s item deadline (TOOLKIT_ITEM_DEADLINE)" in f["error"] for f in s.failures
    )
    assert took < 8 / 4 * 1.0 + 4.0  # 4 threads, 1 s each
    ws.close()
