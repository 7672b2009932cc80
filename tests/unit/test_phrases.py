"""The guide's phrases: parsing (pure) and carrying them out on real DuckDB workspaces."""

from __future__ import annotations

import json

import pytest

import toolkit
import toolkit.processors as processors
from toolkit.exceptions import (
    JobNotFoundError,
    UnknownCountyError,
    UnknownJobTypeError,
    ValidationError,
)
from toolkit.jobs import get_job_type, job_types
from toolkit.phrases import PHRASES, Command, parse_phrase, say

# Every phrase of docs' BATCH-PROCESSING-GUIDE.md, verbatim (templates filled below).
GUIDE_PHRASES = {
    "Start Regrid scraping for Blair County in batches of 50": Command(
        "start", {"job_type": "regrid_scraping", "county": "Blair", "batch_size": 50}
    ),
    "Start visual validation for all counties in batches of 100": Command(
        "start", {"job_type": "visual_validation", "county": None, "batch_size": 100}
    ),
    "Start title research for Somerset County in batches of 20": Command(
        "start", {"job_type": "title_research", "county": "Somerset", "batch_size": 20}
    ),
    "Resume batch job": Command("resume", {"job_type": None}),
    "Continue from where we left off": Command("resume", {"job_type": None}),
    "Show batch job status": Command("status"),
    "How much work is pending?": Command("pending"),
    "What work is pending?": Command("pending"),
    "Show pending work": Command("pending"),
    "Show active batch jobs": Command("active"),
    "Run data audit": Command("audit"),
    "Pause batch job": Command("pause"),
    "Stop for now, we'll continue later": Command("pause"),
}


@pytest.mark.parametrize("text", sorted(GUIDE_PHRASES))
def test_every_guide_phrase_parses(text: str) -> None:
    assert parse_phrase(text) == GUIDE_PHRASES[text]


def _folded(cmd: Command) -> Command:
    # county names keep the speaker's case; the workspace matches them ignoring case
    county = cmd.args.get("county")
    return Command(cmd.action, {**cmd.args, "county": county.lower()} if county else cmd.args)


@pytest.mark.parametrize("text", sorted(GUIDE_PHRASES))
def test_case_quotes_and_punctuation_do_not_matter(text: str) -> None:
    expected = _folded(GUIDE_PHRASES[text])
    for variant in (
        text.upper(),
        text.lower(),
        f'"{text}"',
        f"  {text}.  ",
        text.replace("'", "\u2019"),
        f"Please {text.lower()}",
    ):
        assert _folded(parse_phrase(variant)) == expected, variant


@pytest.mark.parametrize("name", list(job_types()))
def test_start_and_resume_templates_for_every_job_type(name: str) -> None:
    spoken = name.replace("_", " ").title()  # "Regrid Scraping"
    size = get_job_type(name).batch_size
    assert parse_phrase(f"Start {spoken} for Blair County in batches of {size}") == Command(
        "start", {"job_type": name, "county": "Blair", "batch_size": size}
    )
    assert (
        parse_phrase(f"start {spoken} for ALL COUNTIES in batches of {size}").args["county"] is None
    )
    # the guide's session workflow: "Start [job_type] in batches of [size]"
    assert parse_phrase(f"Start {name} in batches of {size}") == Command(
        "start", {"job_type": name, "county": None, "batch_size": size}
    )
    assert parse_phrase(f"Start {spoken}") == Command(
        "start", {"job_type": name, "county": None, "batch_size": None}
    )
    assert parse_phrase(f"Resume {spoken} job") == Command("resume", {"job_type": name})
    assert parse_phrase(f"resume {name}") == Command("resume", {"job_type": name})


def test_aliases_from_the_registry() -> None:
    assert (
        parse_phrase("Start regrid for Blair in batches of 10").args["job_type"]
        == "regrid_scraping"
    )
    assert parse_phrase("Resume screening job").args["job_type"] == "visual_validation"


def test_unknown_phrase_lists_every_phrase_understood() -> None:
    with pytest.raises(ValidationError) as err:
        parse_phrase("Make me rich")
    text = str(err.value)
    assert "'Make me rich'" in text
    for phrase in PHRASES:
        assert phrase in text
    assert "Regrid scraping" in text  # the job types, as they are spoken


@pytest.mark.parametrize("bad", ["", "   ", "Show", "start", "Make it so", "blue", "do"])
def test_fragments_are_not_phrases(bad: str) -> None:
    with pytest.raises(ValidationError, match="Phrases understood"):
        parse_phrase(bad)


def test_unknown_job_type_names_the_choices() -> None:
    with pytest.raises(UnknownJobTypeError) as err:
        parse_phrase("Start gold mining for Blair County in batches of 50")
    assert "'gold mining'" in str(err.value) and "regrid_scraping" in str(err.value)
    with pytest.raises(UnknownJobTypeError):
        parse_phrase("Resume gold mining job")


def test_bad_batch_size_and_missing_county() -> None:
    with pytest.raises(ValidationError, match="'fifty'"):
        parse_phrase("Start Regrid scraping for Blair County in batches of fifty")
    with pytest.raises(ValidationError, match="No county"):
        parse_phrase("Start Regrid scraping for County in batches of 5")
    with pytest.raises(ValidationError, match="must be text"):
        parse_phrase(42)  # type: ignore[arg-type]


# --- short forms and the guide's multi-county options (issue 14) ----------------------

# What people type, by what it should do; each is varied below (case, punctuation, a
# question mark, polite words) and every variant must be understood.
SPOKEN: dict[str, list[str]] = {
    "status": [
        "status",
        "Show status",
        "job status",
        "What's the status?",
        "Where are we?",
        "How's it going?",
        "show me the status",
        "progress",
        "check progress",
        "How far along are we?",
        "status please now",
    ],
    "resume": [
        "resume",
        "Resume",
        "continue",
        "keep going",
        "carry on",
        "pick up where we left off",
        "resume the last job",
        "continue where we stopped",
        "next session",
        "unpause",
    ],
    "pending": [
        "What's pending?",
        "pending",
        "show me the pending work",
        "what is left?",
        "What's left to do?",
        "anything pending?",
        "how much is left",
        "pending work",
        "what work is left",
        "what needs doing",
        "show pending items",
    ],
    "pause": [
        "pause",
        "Pause",
        "stop",
        "pause it",
        "stop for now",
        "let's stop here",
        "take a break",
        "enough for today",
        "hold",
    ],
    "active": [
        "active jobs",
        "show me the active jobs",
        "list jobs",
        "what's running?",
        "running jobs",
    ],
    "audit": ["audit", "data audit", "check the data", "run the audit"],
}

STRATEGIES: dict[str, tuple[str, str | None, str | None]] = {
    # phrase → (strategy, county, job type)
    "round-robin across counties": ("round_robin", None, None),
    "Round robin": ("round_robin", None, None),
    "go round-robin through the counties": ("round_robin", None, None),
    "Process the counties in rotation": ("round_robin", None, None),
    "take turns between counties": ("round_robin", None, None),
    "50 properties from each county": ("round_robin", None, None),
    "a batch from each county in turn": ("round_robin", None, None),
    "Option B": ("round_robin", None, None),
    "Do regrid scraping round robin in batches of 25": ("round_robin", None, "regrid_scraping"),
    "counties with the earliest auction first": ("auction_date", None, None),
    "Earliest auction first": ("auction_date", None, None),
    "by auction date": ("auction_date", None, None),
    "in order of auction date": ("auction_date", None, None),
    "focus on counties with upcoming auctions first": ("auction_date", None, None),
    "nearest sale first": ("auction_date", None, None),
    "Prioritize by auction date": ("auction_date", None, None),
    "Priority-based": ("auction_date", None, None),
    "title research, soonest sales first": ("auction_date", None, "title_research"),
    "Process Westmoreland properties first": ("county", "Westmoreland", None),
    "Westmoreland first": ("county", "Westmoreland", None),
    "Do Westmoreland County first": ("county", "Westmoreland", None),
    "start with Blair": ("county", "Blair", None),
    "focus on Clearfield County": ("county", "Clearfield", None),
    "Blair County properties first for regrid scraping": ("county", "Blair", "regrid_scraping"),
    "Start Regrid scraping for Somerset County first": ("county", "Somerset", "regrid_scraping"),
}


def _variants(text: str) -> list[str]:
    """The ways one phrase is typed: case, punctuation, a question mark, extra words."""
    bare = text.rstrip("?.!")
    out = [
        text,
        text.upper(),
        text.lower(),
        text.title(),
        f"{bare}?",
        f"{bare}.",
        f"{bare}!",
        f"{bare}!!",
        f"  {text}  ",
        f'"{text}"',
        f"please {text.lower()}",
        f"{bare}, please",
        f"Can you {text.lower()}",
        f"could you {bare.lower()}?",
        f"Hey, {text.lower()}",
        f"ok {bare.lower()} now",
        f"{bare} thanks",
        text.replace("'", "\u2019"),
    ]
    return list(dict.fromkeys(out))


def _understood(text: str) -> Command | None:
    try:
        return parse_phrase(text)
    except ValidationError:
        return None


@pytest.mark.parametrize("action", sorted(SPOKEN))
def test_short_forms_and_their_variants_are_understood(action: str) -> None:
    tried = [v for phrase in SPOKEN[action] for v in _variants(phrase)]
    wrong = [v for v in tried if (_understood(v) or Command("?")).action != action]
    print(f"{action}: {len(tried) - len(wrong)}/{len(tried)} variants understood")
    assert wrong == []


@pytest.mark.parametrize("text", sorted(STRATEGIES))
def test_the_guides_multi_county_options_in_a_persons_words(text: str) -> None:
    strategy, county, job_type = STRATEGIES[text]
    for variant in _variants(text):
        cmd = parse_phrase(variant)
        assert cmd.action == "start", variant
        assert cmd.args["strategy"] == strategy, variant
        assert cmd.args["county"] == county, variant
        assert cmd.args["job_type"] == job_type, variant


def test_variant_counts() -> None:
    """Every generated variant of every phrase in the tables above is understood."""
    counts = {}
    for table in (GUIDE_PHRASES, SPOKEN, STRATEGIES):
        phrases = [p for v in table.values() for p in v] if table is SPOKEN else list(table)
        tried = [v for p in phrases for v in _variants(p)]
        counts[len(counts)] = (sum(_understood(v) is not None for v in tried), len(tried))
    print("variants understood (guide, short forms, multi-county):", counts)
    assert all(ok == n for ok, n in counts.values()), counts


@pytest.mark.parametrize(
    "question",
    [
        "When is the next auction?",
        "Show me upcoming auctions",
        "Which county sells first?",
        "what is the sale date",
    ],
)
def test_questions_about_auctions_start_nothing(question: str) -> None:
    with pytest.raises(ValidationError, match="Phrases understood"):
        parse_phrase(question)


def test_the_guide_phrases_still_mean_what_they_did() -> None:
    # short forms must not take over a guide phrase or a start with a job type
    assert parse_phrase("Start Regrid scraping for Blair County in batches of 50").args == {
        "job_type": "regrid_scraping",
        "county": "Blair",
        "batch_size": 50,
    }
    assert parse_phrase("Resume title research job").args == {"job_type": "title_research"}


def test_round_robin_starts_a_round_robin_job(sample_ws) -> None:
    r = say(sample_ws, "Round-robin across counties for regrid scraping in batches of 5")
    st = sample_ws.get_batch_status(r.job_id)
    assert (st["job_type"], st["county"], st["batch_size"]) == ("regrid_scraping", None, 5)
    strategy = sample_ws.sql("SELECT strategy FROM batch_jobs").strategy[0]
    assert strategy == "round_robin" and "round-robin across counties" in str(r)
    # the first 4 batches come from 4 different counties
    counties = sample_ws.sql(
        "SELECT c.county_name FROM batch_job_items i JOIN properties p ON p.id = i.item_id "
        "JOIN counties c ON c.id = p.county_id WHERE i.seq <= 20 ORDER BY i.seq"
    ).county_name.tolist()
    assert len(set(counties)) == 4


def test_auction_date_and_county_first(sample_ws) -> None:
    r = say(sample_ws, "Counties with the earliest auction first")
    assert "No job type named: county_research is the first stage with pending work" in str(r)
    assert "counties with the earliest auction first" in str(r)
    assert sample_ws.sql("SELECT strategy FROM batch_jobs").strategy[0] == "auction_date"
    sample_ws.cancel_batch_job(r.job_id)
    r = say(sample_ws, "Process Westmoreland properties first")
    st = sample_ws.get_batch_status(r.job_id)
    assert st["county"] == "Westmoreland" and st["total_items"] > 0


# --- carried out on a real workspace ----------------------------------------------


@pytest.fixture(autouse=True)
def _only_test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    # built-in processors may call outside services: each test registers what it needs
    processors.processor_names()  # load entry points first, so they stay out too
    monkeypatch.setattr(processors, "_processors", {})


@pytest.fixture
def regrid_processor():
    from helpers import parcel

    processors.register_processor("regrid_scraping", lambda ws: parcel)


def _jobs(ws) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in ws.sql("SELECT id::VARCHAR, status FROM batch_jobs ORDER BY created_at").values
    ]


def test_the_guides_example_session(sample_ws, regrid_processor) -> None:
    ws = sample_ws
    pending = say(ws, "What work is pending?")
    regrid = pending.data.set_index("job_type").loc["regrid_scraping"]
    assert (
        f"- regrid_scraping: {int(regrid.pending):,} pending (~{int(regrid.sessions)} sessions)"
        in str(pending)
    )

    scraped_before = ws.sql("SELECT count(*) FROM regrid_data").iloc[0, 0]
    seen: list[dict] = []
    started = say(
        ws, "Start Regrid scraping for Blair County in batches of 50", on_progress=seen.append
    )
    st = ws.get_batch_status(started.job_id)
    # 252 Blair properties, 17 of them with parcel data already: 235 to scrape
    assert (st["total_items"], st["processed_items"], st["status"]) == (235, 150, "paused")
    assert "Paused at 150/235 properties (64%)" in str(started)
    assert "Resume with: 'Resume batch job'" in str(started)
    assert started.summary is not None and started.summary.processed == 150
    assert seen[-1]["session_total"] == 150 and seen[-1]["session_processed"] == 150
    assert ws.sql("SELECT count(*) FROM regrid_data").iloc[0, 0] == scraped_before + 150

    paused = say(ws, "Pause batch job")  # the session paused at its budget already
    assert paused.job_id == started.job_id
    assert "Paused at 150/235 properties (64%)" in str(paused)
    assert "Resume with: 'Resume batch job'" in str(paused)

    status = say(ws, "Show batch job status")
    assert status.data["job_id"] == started.job_id
    assert "Paused at 150/235 properties (64%)" in str(status) and "Batch 3 of 5" in str(status)

    resumed = say(ws, "Resume batch job")
    assert resumed.job_id == started.job_id
    assert "at 150/235" in str(resumed) and "Completed 235/235 properties (100%)" in str(resumed)
    assert ws.get_batch_status(started.job_id)["status"] == "completed"
    assert "No active batch jobs" in str(say(ws, "Show active batch jobs"))
    assert "No active batch jobs" in str(say(ws, "Show batch job status"))


def test_start_without_a_processor_creates_the_job_and_says_so(sample_ws) -> None:
    assert not processors.has_processor("visual_validation")
    r = say(sample_ws, "Start visual validation for all counties in batches of 100")
    st = sample_ws.get_batch_status(r.job_id)
    assert (st["status"], st["total_items"], st["processed_items"]) == ("pending", 17, 0)
    assert r.summary is None
    assert "no visual_validation processor yet" in str(r) and "toolkit lab" in str(r)
    assert "register_processor" not in str(r) and "update_batch_progress" not in str(r)


def test_start_with_nothing_pending(sample_ws) -> None:
    r = say(sample_ws, "Start title research for Somerset County in batches of 20")
    assert sample_ws.get_batch_status(r.job_id)["total_items"] == 0
    assert "Nothing is pending" in str(r)


def test_start_big_batches_is_a_note_not_a_stray_warning(sample_ws) -> None:
    r = say(sample_ws, "Start Regrid scraping for Clearfield County in batches of 150")
    assert any("100" in n for n in r.notes)
    assert str(r).startswith("Note: ")


def test_pause_and_stop_pause_the_running_job(sample_ws) -> None:
    first = say(sample_ws, "Start Regrid scraping for Blair County in batches of 50")
    r = say(sample_ws, "Stop for now, we'll continue later")
    assert r.job_id == first.job_id
    assert sample_ws.get_batch_status(first.job_id)["status"] == "paused"
    assert "Paused at 0/235 properties (0%)" in str(r) and "Resume with: 'Resume batch job'" in str(
        r
    )


def test_pause_with_no_job_is_an_error(sample_ws) -> None:
    with pytest.raises(JobNotFoundError):
        say(sample_ws, "Pause batch job")


def test_resume_a_job_type(sample_ws, regrid_processor) -> None:
    regrid = say(sample_ws, "Start Regrid scraping for Blair County in batches of 50")
    visual = say(sample_ws, "Start visual validation for all counties in batches of 100")
    sample_ws.pause_batch_job(visual.job_id)
    # the visual job was paused last, so the type decides which job resumes
    r = say(sample_ws, "Resume Regrid scraping job")
    assert r.job_id == regrid.job_id
    assert sample_ws.get_batch_status(regrid.job_id)["status"] == "completed"
    assert sample_ws.get_batch_status(visual.job_id)["status"] == "paused"
    r = say(sample_ws, "Continue from where we left off")
    assert r.job_id == visual.job_id and "no visual_validation processor yet" in str(r)


def test_resume_with_nothing_paused_changes_nothing(sample_ws) -> None:
    done = sample_ws.create_batch_job("regrid_scraping", "Blair")
    sample_ws.cancel_batch_job(done)
    before = _jobs(sample_ws)
    with pytest.raises(JobNotFoundError, match="title_research"):
        say(sample_ws, "Resume title research job")
    with pytest.raises(JobNotFoundError):
        say(sample_ws, "Resume batch job")
    assert _jobs(sample_ws) == before


def test_bad_phrases_change_nothing(sample_ws) -> None:
    with pytest.raises(ValidationError):
        say(sample_ws, "Start everything now")
    with pytest.raises(UnknownCountyError, match="Atlantis"):
        say(sample_ws, "Start Regrid scraping for Atlantis County in batches of 50")
    assert _jobs(sample_ws) == []


def test_failures_are_reported(sample_ws) -> None:
    def flaky(item: dict) -> dict:
        if item["parcel_id"].endswith("1"):
            raise ValueError(f"parcel {item['parcel_id']} not found")
        return {"source": "test", "parcelnumb": item["parcel_id"]}

    r = say(
        sample_ws, "Start Regrid scraping for Somerset County in batches of 25", processor=flaky
    )
    assert r.summary.failed > 0
    assert f"{r.summary.failed} failed" in str(r) and "First failure:" in str(r)


def test_active_jobs_and_audit(sample_ws) -> None:
    say(sample_ws, "Start Regrid scraping for Blair County in batches of 50")
    say(sample_ws, "Start Regrid scraping for all counties in batches of 50")
    r = say(sample_ws, "Show active batch jobs")
    assert len(r.data) == 2 and "2 active batch jobs" in str(r)
    assert "(Blair County, batches of 50)" in str(r) and "(all counties, batches of 50)" in str(r)

    audit = say(sample_ws, "Run data audit")
    assert set(audit.data) == {"gaps", "stages"}
    assert f"{int(audit.data['stages']['listed'].sum()):,} properties" in str(audit)
    for county in ("Blair", "Clearfield", "Somerset", "Westmoreland"):
        assert county in str(audit)


def test_results_for_notebooks_and_scripts(sample_ws) -> None:
    r = say(sample_ws, "Show pending work")
    payload = json.loads(json.dumps(r.to_dict()))
    assert payload["action"] == "pending"
    assert {row["job_type"] for row in payload["data"]} == set(r.data.job_type)
    html = r._repr_html_()
    assert "<table" in html and "regrid_scraping" in html
    empty = say(toolkit.connect(":memory:"), "How much work is pending?")
    assert str(empty) == "No pending work." and "<table" not in empty._repr_html_()


# --- the %toolkit magic ---------------------------------------------------------------


@pytest.fixture
def ipython():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "toolkit.notebook.magic")
    yield ip
    ip.run_line_magic("unload_ext", "toolkit.notebook.magic")
    InteractiveShell.clear_instance()


def test_magic_runs_phrases(ipython, sample_ws, db_path, regrid_processor) -> None:
    r = ipython.run_line_magic(
        "toolkit", f"--db {db_path} Start Regrid scraping for Blair County in batches of 50"
    )
    assert "Paused at 150/235 properties (64%)" in str(r)
    # without --db the notebook's own `ws` is used
    ipython.user_ns["ws"] = sample_ws
    status = ipython.run_line_magic("toolkit", "SHOW BATCH JOB STATUS")
    assert status.job_id == r.job_id
    out = ipython.run_cell("%toolkit stop for now, we'll continue later")
    assert out.success and "Paused at 150/235" in str(out.result)


def test_magic_errors(ipython, db_path, tmp_path) -> None:
    with pytest.raises(ValidationError, match="Phrases understood"):
        ipython.run_line_magic("toolkit", f"--db {db_path} Do my taxes")
    with pytest.raises(ValidationError, match="No phrase"):
        ipython.run_line_magic("toolkit", "")
    with pytest.raises(ValidationError, match="No path after --db"):
        ipython.run_line_magic("toolkit", "--db")
    assert not (tmp_path / "ws.duckdb").exists()  # bad phrases open no workspace
