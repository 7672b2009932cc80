"""``toolkit mcp``: the installed command served over real stdio (and HTTP) to the MCP SDK's own client.

Every test starts real ``toolkit mcp`` subprocesses on a real workspace (a
DuckDB file; Postgres where cheap) and talks to them with
``mcp.client.stdio.stdio_client`` / ``ClientSession`` (or the SDK's streamable
HTTP client), then checks the database itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters  # the test extra installs the SDK
from mcp.client.stdio import stdio_client

import toolkit

ROOT = Path(__file__).resolve().parents[2]
BESIDE = Path(sys.executable).parent / "toolkit"
TOOLKIT = str(BESIDE) if BESIDE.exists() else (shutil.which("toolkit") or "toolkit")
TOOLS = {
    "get_pending_work_summary",
    "create_batch_job",
    "get_next_batch",
    "update_batch_progress",
    "pause_batch_job",
    "resume_batch_job",
    "complete_batch_job",
    "get_batch_status",
    "say",
    "run_session",
    "run_data_audit",
    "export_bids",
}
REGRID_SECRET = "regrid-Secret-4f9c1e77"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_DB", "TOOLKIT_DEBUG")}
    # never reach a real service, whatever processors are built in
    env |= {"REGRID_TOKEN": "", "TOOLKIT_REGRID_URL": "http://127.0.0.1:9/"}
    return env | extra


class Server:
    """One ``toolkit mcp`` process and a client session to it; every tool call is recorded."""

    def __init__(self, session: ClientSession, log: Path) -> None:
        self.session = session
        self.log = log
        self.texts: list[str] = []  # every result and error text, to look for secrets

    async def call(self, name: str, **args: Any) -> dict[str, Any]:
        res = await self.session.call_tool(name, args)
        text = "\n".join(getattr(c, "text", "") for c in res.content)
        self.texts.append(text)
        assert not res.is_error, f"{name}({args}) failed: {text}"
        assert res.structured_content is not None
        self.texts.append(json.dumps(res.structured_content))
        return res.structured_content

    async def error(self, name: str, **args: Any) -> str:
        res = await self.session.call_tool(name, args)
        text = "\n".join(getattr(c, "text", "") for c in res.content)
        self.texts.append(text)
        assert res.is_error, f"{name}({args}) should have failed: {text}"
        return text


@asynccontextmanager
async def serve(db: str, log: Path, **env: str):
    params = StdioServerParameters(
        command=TOOLKIT, args=["mcp", "--db", db], env=_env(**env), cwd=str(ROOT)
    )
    with log.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield Server(session, log)


def run(fn) -> Any:
    return anyio.run(fn)


def _db_rows(db: str, query: str, params: list[Any] | None = None) -> list[tuple]:
    with toolkit.connect(db) as ws:
        return [tuple(r) for r in ws.sql(query, params).itertuples(index=False)]


@pytest.fixture
def blair_db(tmp_path: Path) -> str:
    """The synthetic sample: 795 properties, 235 of them in Blair County."""
    from helpers import load_sample

    db = str(tmp_path / "ws.duckdb")
    with toolkit.connect(db) as ws:
        load_sample(ws)
    return db


# -- the session ------------------------------------------------------------------


def test_the_guides_example_session_over_stdio_resumes_in_a_new_server(
    blair_db: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    handed: list[str] = []

    async def first_session() -> str:
        async with serve(blair_db, log) as s:
            tools = await s.session.list_tools()
            assert TOOLS <= {t.name for t in tools.tools}
            assert all((t.description or "").strip() for t in tools.tools)

            # "What work is pending?"
            pending = await s.call("get_pending_work_summary")
            rows = {r["job_type"]: r for r in pending["pending"]}
            assert rows["regrid_scraping"]["pending"] == 778
            assert "regrid_scraping: 778 pending" in pending["message"]

            # "Start Regrid scraping for Blair County in batches of 50"
            created = await s.call(
                "create_batch_job", job_type="regrid_scraping", county="Blair", batch_size=50
            )
            job = created["job_id"]
            assert created["status"]["total_items"] == 235
            assert created["status"]["total_batches"] == 5 and created["warnings"] == []

            for n in range(1, 4):  # three batches, each item reported at once
                batch = await s.call("get_next_batch", job_id=job[:8])
                assert (batch["batch"], batch["count"]) == (n, 50)
                positions = [i["position"] for i in batch["items"]]
                assert positions == list(range(50 * (n - 1) + 1, 50 * n + 1))
                first = batch["items"][0]
                assert next(iter(first)) == "item_id"
                assert first["county"] == "Blair" and "parcel_id" in first
                assert "seq" not in first and "raw_json" not in first
                for item in batch["items"]:
                    handed.append(item["item_id"])
                    done = await s.call(
                        "update_batch_progress",
                        job_id=job,
                        last_item_id=item["item_id"],
                        items_processed=1,
                        items_failed=0,
                    )
                    assert done["outcome"] == "done" and not done["auto_paused"]
            assert done["status"]["processed_items"] == 150

            # the server holds no lock between calls: this process reads and writes the file
            with toolkit.connect(blair_db) as ws:
                assert ws.get_batch_status(job)["processed_items"] == 150

            # "Pause batch job"
            paused = await s.call("pause_batch_job", job_id=job)
            assert "Paused at 150/235 properties (64%)" in paused["message"]
            assert "Resume with: 'Resume batch job'" in paused["message"]
            assert paused["status"]["status"] == "paused"
            return job

    job = run(first_session)

    async def next_session() -> None:
        async with serve(blair_db, log) as s:  # a new server process
            # "Resume batch job": the most recent paused job, from property 151
            resumed = await s.call("resume_batch_job")
            assert resumed["job_id"] == job
            assert resumed["status"]["status"] == "in_progress"
            batches = 0
            while True:
                batch = await s.call("get_next_batch", job_id=job)
                if batch["count"] == 0:
                    break
                batches += 1
                if batches == 1:
                    assert batch["items"][0]["position"] == 151
                for item in batch["items"]:
                    handed.append(item["item_id"])
                    await s.call(
                        "update_batch_progress",
                        job_id=job,
                        last_item_id=item["item_id"],
                        items_processed=1,
                        items_failed=0,
                    )
            assert batches == 2  # 50 + 35
            completed = await s.call("complete_batch_job", job_id=job)
            assert completed["status"]["status"] == "completed"
            assert "Completed 235/235 properties (100%)" in completed["message"]
            status = await s.call("get_batch_status", job_id=job)
            assert status["status"]["processed_items"] == 235

    run(next_session)

    # every item done exactly once
    assert len(handed) == 235 and len(set(handed)) == 235
    rows = _db_rows(
        blair_db,
        "SELECT status, attempts, count(*) FROM batch_job_items "
        "WHERE job_id = ?::UUID GROUP BY ALL",
        [job],
    )
    assert rows == [("done", 1, 235)]
    assert set(handed) == {
        r[0]
        for r in _db_rows(
            blair_db, "SELECT item_id FROM batch_job_items WHERE job_id = ?::UUID", [job]
        )
    }
    assert "Traceback" not in log.read_text()


# -- the guide's rules, the same as everywhere ---------------------------------------------


def test_batch_size_warning_duplicates_and_auto_pause(blair_db: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with serve(blair_db, tmp_path / "server.log") as s:
            big = await s.call(
                "create_batch_job",
                job_type="Regrid scraping",
                county="Blair County",
                batch_size=150,
            )
            assert any("100" in w for w in big["warnings"]), big["warnings"]
            job = big["job_id"]
            refused = await s.error("create_batch_job", job_type="regrid_scraping", county="Blair")
            assert job[:8] in refused and "force" in refused
            bad = await s.error("create_batch_job", job_type="regrid_scrapping")
            assert "regrid_scraping" in bad and "Did you mean" in bad
            bad = await s.error("create_batch_job", job_type="regrid_scraping", batch_size=0)
            assert "0" in bad
            assert len(_db_rows(blair_db, "SELECT id FROM batch_jobs")) == 1

            batch = await s.call("get_next_batch", job_id=job)
            for n, item in enumerate(batch["items"][:10], start=1):
                out = await s.call(
                    "update_batch_progress",
                    job_id=job,
                    last_item_id=item["item_id"],
                    items_processed=0,
                    items_failed=1,
                    error_message="Error: Property not found in Regrid",
                )
                assert out["auto_paused"] is (n == 10)
            assert out["status"]["status"] == "paused" and "10" in out["status"]["pause_reason"]
            assert "paused itself" in out["message"]
            status = await s.call("get_batch_status", job_id=job)
            assert len(status["failures"]) == 10
            assert status["failures"][0]["error"] == "Error: Property not found in Regrid"
            refused = await s.error("get_next_batch", job_id=job)
            assert "paused" in refused and "esume" in refused
            await s.call("resume_batch_job", job_id=job)
            again = await s.call("get_next_batch", job_id=job)
            assert again["items"][0]["position"] == 11  # the unreported claims come back first

    run(go)


def test_resources_and_the_research_session_prompt(blair_db: str, tmp_path: Path) -> None:
    async def go() -> None:
        async with serve(blair_db, tmp_path / "server.log") as s:
            guide = await s.session.read_resource("toolkit://guide")
            assert guide.contents[0].text == (ROOT / "docs" / "guide.md").read_text()
            types = json.loads(
                (await s.session.read_resource("toolkit://job-types")).contents[0].text
            )
            table = {t["job_type"]: t for t in types["job_types"]}
            assert (
                table["regrid_scraping"]["batch_size"],
                table["pdf_parsing"]["per_session"],
            ) == (50, 15)
            assert table["property_condition"]["research_result_keys"] == ["grade", "note"]
            job = (await s.call("create_batch_job", job_type="regrid_scraping", county="Blair"))[
                "job_id"
            ]
            status = json.loads(
                (await s.session.read_resource(f"toolkit://jobs/{job[:8]}/status")).contents[0].text
            )
            assert status["status"]["total_items"] == 235 and status["status"]["batch_size"] == 50
            templates = await s.session.list_resource_templates()
            assert [t.uri_template for t in templates.resource_templates] == [
                "toolkit://jobs/{job_id}/status"
            ]
            prompts = await s.session.list_prompts()
            assert [p.name for p in prompts.prompts] == ["research_session"]
            prompt = await s.session.get_prompt(
                "research_session", {"job_type": "regrid_scraping", "county": "Blair"}
            )
            text = prompt.messages[0].content.text
            for step in (
                "get_pending_work_summary",
                "resume_batch_job",
                "2-4 batches",
                "pause_batch_job",
                "Paused at 150/235 properties (64%)",
                "Resume with: 'Resume batch job'",
                "Start regrid_scraping for Blair",
            ):
                assert step in text, step
            said = await s.call("say", phrase="Show batch job status")
            assert said["job_id"] == job and "Not started: 0/235" in said["message"]
            bad = await s.error("say", phrase="Make me rich")
            assert "Phrases understood" in bad and "Resume batch job" in bad
            audit = await s.call("run_data_audit")
            assert {r["county"] for r in audit["stages"]} >= {"Blair"}

    run(go)


# -- research results: checked like the notebook forms -------------------------------------


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Somerset County (the sample's smallest) through regrid_scraping and visual_validation."""
    from toolkit.demo import build_sample_workspace

    path = tmp_path_factory.mktemp("mcp") / "screened.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_ENV_SOURCES", "sample")
        mp.delenv("TOOLKIT_DB", raising=False)
        ws = build_sample_workspace(path)
        for job_type in ("regrid_scraping", "visual_validation"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                job = ws.create_batch_job(job_type, "Somerset")
            assert ws.run_session(job, max_items=100_000).outcome == "completed"
        ws.close()
    return path


def test_research_results_are_checked_like_the_forms(screened: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "ws.duckdb")
    shutil.copyfile(screened, db)

    def counts() -> list[int]:
        return [
            _db_rows(db, f"SELECT count(*) FROM {t}")[0][0]
            for t in (
                "property_liens",
                "title_searches",
                "title_research",
                "condition_assessments",
                "county_research",
                "upcoming_sales",
            )
        ]

    async def go() -> None:
        async with serve(db, tmp_path / "server.log") as s:
            # title research: liens and notes
            job = (await s.call("create_batch_job", job_type="title_research", county="Somerset"))[
                "job_id"
            ]
            batch = await s.call("get_next_batch", job_id=job)
            assert batch["count"] == 20 and "no_liens" in batch["report"]
            item = batch["items"][0]
            assert item["liens_on_file"] == [] and item["title_search_on_file"] is False
            pid = item["item_id"]
            before = counts()
            for result, error in [
                (
                    {
                        "liens": [
                            {"lien_type": "mortgage", "holder": "FIRST BANK", "amount": "forty"}
                        ]
                    },
                    "result.liens: Lien 1: amount 'forty'",
                ),
                ({"liens": [{"lien_type": "easement"}]}, "result.liens: Unknown lien type"),
                (
                    {"liens": [{"lien_type": "mortgage", "recorded_date": "2015-13-40"}]},
                    "recorded date '2015-13-40' is not a date",
                ),
                ({"liens": []}, "result.liens: Add the liens you found"),
                ({"liens": [{"lien_type": "tax"}], "no_liens": True}, "result.no_liens:"),
                (
                    {"lien": []},
                    "result.lien: unknown key for a title_research result. Did you mean 'liens'?",
                ),
                ({"no_liens": "yes"}, "result.no_liens: must be true or false"),
            ]:
                text = await s.error(
                    "update_batch_progress",
                    job_id=job,
                    last_item_id=pid,
                    items_processed=1,
                    items_failed=0,
                    result=result,
                )
                assert error in text, (error, text)
            text = await s.error(
                "update_batch_progress",
                job_id=job,
                last_item_id=pid,
                items_processed=1,
                items_failed=0,
            )
            assert "result:" in text and "liens, no_liens, source, note" in text
            text = await s.error(
                "update_batch_progress",
                job_id=job,
                last_item_id=pid,
                items_processed=0,
                items_failed=1,
                result={"no_liens": True},
            )
            assert "result:" in text and "error_message" in text
            assert counts() == before  # nothing saved
            assert _db_rows(
                db,
                "SELECT status FROM batch_job_items WHERE job_id = ?::UUID AND item_id = ?",
                [job, pid],
            ) == [("claimed",)]

            done = await s.call(
                "update_batch_progress",
                job_id=job,
                last_item_id=pid,
                items_processed=1,
                items_failed=0,
                result={
                    "liens": [
                        {
                            "lien_type": "mortgage",
                            "holder": "FIRST BANK",
                            "amount": "$40,000",
                            "recorded_date": "2015-03-02",
                        },
                        {"lien_type": "tax", "holder": "SOMERSET TAX CLAIM BUREAU", "amount": 900},
                    ],
                    "note": "Recorder index checked 1990-present",
                },
            )
            assert done["outcome"] == "done" and done["status"]["processed_items"] == 1
            row = _db_rows(
                db,
                "SELECT status, surviving_total, reasons FROM title_research "
                "WHERE property_id = ?::UUID",
                [pid],
            )[0]
            assert row[:2] == ("SURVIVING_LIENS", 40000.0)  # the upset sale clears the tax lien
            assert "note: Recorder index checked 1990-present" in row[2]
            assert set(
                _db_rows(db, "SELECT source FROM property_liens WHERE property_id = ?::UUID", [pid])
            ) == {("assistant (MCP)",)}
            clear = batch["items"][1]["item_id"]
            await s.call(
                "update_batch_progress",
                job_id=job,
                last_item_id=clear,
                items_processed=1,
                items_failed=0,
                result={"no_liens": True, "source": "county recorder index"},
            )
            assert _db_rows(
                db, "SELECT status FROM title_research WHERE property_id = ?::UUID", [clear]
            ) == [("CLEAR",)]
            text = await s.error(
                "update_batch_progress",
                job_id=job,
                last_item_id=pid,
                items_processed=1,
                items_failed=0,
                result={"no_liens": True},
            )
            assert pid in text

            # a condition grade
            job = (
                await s.call("create_batch_job", job_type="property_condition", county="Somerset")
            )["job_id"]
            item = (await s.call("get_next_batch", job_id=job))["items"][0]
            assert set(item["imagery"]) == {"street", "aerial"}
            before = counts()
            text = await s.error(
                "update_batch_progress",
                job_id=job,
                last_item_id=item["item_id"],
                items_processed=1,
                items_failed=0,
                result={"grade": "G"},
            )
            assert "result.grade: Unknown condition grade 'G'" in text
            assert "A, B, C, D, F" in text
            text = await s.error(
                "update_batch_progress",
                job_id=job,
                last_item_id=item["item_id"],
                items_processed=1,
                items_failed=0,
                result={"note": "roof"},
            )
            assert "result.grade: Choose a grade (A, B, C, D, F)" in text
            assert counts() == before
            await s.call(
                "update_batch_progress",
                job_id=job,
                last_item_id=item["item_id"],
                items_processed=1,
                items_failed=0,
                result={"grade": "d", "note": "Street view: roof sagging"},
            )
            row = _db_rows(
                db,
                "SELECT grade, manual_grade, confidence, reasons FROM "
                "condition_assessments WHERE property_id = ?::UUID",
                [item["item_id"]],
            )[0]
            assert row[:3] == ("D", "D", 1.0)
            assert row[3].startswith("manual grade D wins over the computed grade: Street view")

            # county research
            job = (await s.call("create_batch_job", job_type="county_research"))["job_id"]
            county = (await s.call("get_next_batch", job_id=job))["items"][0]
            cid = county["county_id"]
            assert county["sales_on_file"] == []
            before = counts()
            good = {
                "sale_type": "upset",
                "sale_date": "2027-09-13",
                "registration_deadline": "2027-08-30",
                "source": "tax claim bureau web site",
                "as_of": "2027-07-01",
                "link_url": "https://example.org/tax-claim",
            }
            for change, error in [
                ({"sale_date": "13/09/2027"}, "result.sale_date: Sale date '13/09/2027' is not"),
                (
                    {"registration_deadline": "2027-10-01"},
                    "result.registration_deadline: Registration deadline 2027-10-01 is after",
                ),
                ({"source": ""}, "result.source: Say where the facts come from"),
                ({"sale_type": "auction"}, "result.sale_type: Unknown sale type 'auction'"),
                ({"sale_type": None}, "result.sale_type: null says no sale was found"),
                ({"deposit": 10}, None),
                ({"salesdate": "2027-09-13"}, "result.salesdate: unknown key"),
            ]:
                if error is None:
                    continue
                text = await s.error(
                    "update_batch_progress",
                    job_id=job,
                    last_item_id=county["item_id"],
                    items_processed=1,
                    items_failed=0,
                    result=good | change,
                )
                assert error in text, (error, text)
            assert counts() == before
            await s.call(
                "update_batch_progress",
                job_id=job,
                last_item_id=county["item_id"],
                items_processed=1,
                items_failed=0,
                result=good | {"note": "Notarized affidavit required"},
            )
            sale = _db_rows(
                db,
                "SELECT sale_type, sale_date::VARCHAR, registration_deadline::VARCHAR"
                " FROM upcoming_sales WHERE county_id = ?",
                [cid],
            )
            assert sale == [("upset", "2027-09-13", "2027-08-30")]

            # other job types take no result
            job = (
                await s.call(
                    "create_batch_job", job_type="environmental_research", county="Somerset"
                )
            )["job_id"]
            item = (await s.call("get_next_batch", job_id=job))["items"][0]
            text = await s.error(
                "update_batch_progress",
                job_id=job,
                last_item_id=item["item_id"],
                items_processed=1,
                items_failed=0,
                result={"grade": "A"},
            )
            assert "environmental_research items take no research result" in text

    run(go)


# -- secrets, transports, the optional SDK --------------------------------------------------


def test_secrets_stay_out_of_results_and_logs(blair_db: str, tmp_path: Path) -> None:
    from fakes.regrid_server import RegridFake

    log = tmp_path / "server.log"
    with RegridFake(token="the-right-token-0000") as fake:

        async def go() -> None:
            async with serve(
                blair_db, log, REGRID_TOKEN=REGRID_SECRET, TOOLKIT_REGRID_URL=fake.base_url
            ) as s:
                job = (
                    await s.call("create_batch_job", job_type="regrid_scraping", county="Blair")
                )["job_id"]
                out = await s.call("run_session", job_id=job)
                # Regrid answers 401 to the wrong token: the job pauses at once, with the reason
                assert out["status"]["status"] == "paused"
                assert "REGRID_TOKEN" in out["status"]["pause_reason"]
                await s.call("get_batch_status", job_id=job)
                await s.call("say", phrase="Resume batch job")
                await s.error("get_next_batch", job_id="not-a-job")
                texts.extend(s.texts)

        texts: list[str] = []
        run(go)
        assert fake.requests, "the processor never asked Regrid"
    everything = "\n".join(texts) + log.read_text()
    assert REGRID_SECRET not in everything
    assert "401" in everything or "REGRID_TOKEN" in everything


@pytest.mark.postgres
def test_postgres_workspace_and_its_password_stay_out(tmp_path: Path) -> None:
    import backends
    from helpers import load_sample

    backends.require_postgres()
    url = backends.fresh_postgres()
    try:
        with toolkit.connect(url) as ws:
            load_sample(ws)
        # trust auth ignores the password; it must still never come back
        secret = "pg-Pass-7d1e93"
        with_pw = re.sub(r"^postgresql://([^@/:]+)@", rf"postgresql://\1:{secret}@", url)
        assert secret in with_pw
        log = tmp_path / "server.log"
        texts: list[str] = []

        async def go() -> str:
            async with serve(with_pw, log) as s:
                job = (
                    await s.call(
                        "create_batch_job",
                        job_type="regrid_scraping",
                        county="Blair",
                        batch_size=50,
                    )
                )["job_id"]
                batch = await s.call("get_next_batch", job_id=job)
                for item in batch["items"][:5]:
                    await s.call(
                        "update_batch_progress",
                        job_id=job,
                        last_item_id=item["item_id"],
                        items_processed=1,
                        items_failed=0,
                    )
                paused = await s.call("pause_batch_job")
                assert "Paused at 5/235 properties (2%)" in paused["message"]
                await s.error("complete_batch_job", job_id=job)
                texts.extend(s.texts)
                return job

        job = run(go)
        everything = "\n".join(texts) + log.read_text()
        assert secret not in everything
        with toolkit.connect(url) as ws:
            assert ws.get_batch_status(job)["processed_items"] == 5
    finally:
        backends.drop(url)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_needs_the_bearer_token(blair_db: str, tmp_path: Path) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    errlog = (tmp_path / "http.log").open("w+")
    proc = subprocess.Popen(
        [TOOLKIT, "mcp", "--http", "--port", str(port), "--db", blair_db],
        stdout=subprocess.DEVNULL,
        stderr=errlog,
        env=_env(),
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        token = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            errlog.seek(0)
            text = errlog.read()
            m = re.search(r"Bearer token \(new for this run.*?\): (\S+)", text)
            if m and "Serving MCP" in text:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    token = m.group(1)
                    break
                except OSError:
                    pass
            assert proc.poll() is None, text
            time.sleep(0.2)
        assert len(token) >= 32

        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "curl", "version": "0"},
            },
        }
        headers = {"Accept": "application/json, text/event-stream"}
        for auth in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": token}):
            r = httpx2.post(url, json=init, headers=headers | auth, timeout=10)
            assert r.status_code == 401, (auth, r.status_code, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert token not in r.text

        async def go() -> None:
            client = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=120)
            )
            async with client, streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    res = await session.call_tool("get_pending_work_summary", {})
                    assert not res.is_error
                    assert "regrid_scraping: 778 pending" in res.structured_content["message"]
                    assert token not in json.dumps(res.structured_content)

        run(go)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        errlog.close()
    text = (tmp_path / "http.log").read_text()
    assert text.count(token) == 1  # printed once, for the person who started it; never logged


def test_http_refuses_a_short_token_and_port_needs_http(blair_db: str) -> None:
    proc = subprocess.run(
        [TOOLKIT, "mcp", "--http", "--db", blair_db],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(TOOLKIT_MCP_TOKEN="short"),
    )
    assert proc.returncode == 1 and "at least 16" in proc.stderr and "short" not in proc.stderr
    proc = subprocess.run(
        [TOOLKIT, "mcp", "--port", "9999", "--db", blair_db],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert proc.returncode == 2 and "--http" in proc.stderr


def test_without_the_sdk_the_command_says_which_pip_install(tmp_path: Path) -> None:
    db = tmp_path / "never.duckdb"
    code = (
        "import sys\n"
        "sys.modules['mcp'] = None  # as if the extra were not installed\n"
        "from toolkit.cli import main\n"
        f"sys.exit(main(['mcp', '--db', {str(db)!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert proc.returncode == 1, proc.stderr
    assert "pip install 'taxsale-toolkit[mcp]'" in proc.stderr
    assert "Traceback" not in proc.stderr and not db.exists()
