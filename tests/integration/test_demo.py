"""The README's main job: the guide's example session, then the whole pipeline, on the sample data."""

from __future__ import annotations

import shutil

import pytest

import toolkit
from toolkit.demo import _check_demo_target, build_workspace_inputs, demo_file_state, run_demo
from toolkit.exceptions import ConfigError, NotADemoWorkspaceError, ValidationError

BACKENDS = ("duckdb", "postgres")  # for the tests that take the `ws` fixture


def test_demo_in_process(tmp_path, monkeypatch):
    # the demo points this process at the sample sources; restore the environment afterwards
    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", "sample")
    monkeypatch.setenv("TOOLKIT_COUNTY_RESEARCH", "")
    lines: list[str] = []
    out = run_demo(tmp_path / "demo.duckdb", headless=False, out=lines.append)
    text = "\n".join(lines)
    assert out["first"] == "Paused at 150/235 properties (64%)"
    assert "resuming from property 151" in text
    assert "Completed 235/235 properties (100%)" in text
    before = out["pending_before"].set_index("job_type")
    assert (
        before.loc["regrid_scraping", "pending"] == 778
        and before.loc["visual_validation", "pending"] == 17
    )
    assert out["status"]["status"] == "completed" and out["status"]["processed_items"] == 235
    assert out["pending_after"].empty  # every job type ran to the end
    assert set(out["bids"].decision) <= {"BID", "REVIEW"} and len(out["bids"]) > 0
    assert (tmp_path / "exports" / "demo_bids.csv").exists()
    assert "SYNTHETIC" in text
    # the demo keeps the sample's synthetic CLR factors: no real factor x invented values
    assert "CLR factors: the sample's SYNTHETIC placeholders" in text
    import toolkit

    with toolkit.connect(str(tmp_path / "demo.duckdb")) as ws:
        sources = ws.sql("SELECT DISTINCT clr_source FROM bid_strategies").clr_source
    assert len(sources) and sources.str.startswith("SYNTHETIC").all()
    assert demo_file_state(tmp_path / "demo.duckdb") == "demo"  # the demo may replace it


def test_demo_refuses_to_delete_the_users_workspace(tmp_path, monkeypatch):
    mine = tmp_path / "mine.duckdb"
    mine.write_bytes(b"")
    monkeypatch.setenv("TOOLKIT_DB", str(mine))
    with pytest.raises(ValidationError, match="would delete it"):
        run_demo(mine, headless=False, out=lambda s: None)
    assert mine.exists()


@pytest.fixture
def real_workspace(tmp_path, monkeypatch):
    """Someone's workspace with 252 parcels (not the default one)."""
    monkeypatch.delenv("TOOLKIT_DB", raising=False)
    path = tmp_path / "blair.duckdb"
    ws = toolkit.connect(str(path))
    props = toolkit.demo.sample_properties()
    ws.import_properties(props[props.county == "Blair"])
    ws.close()
    return path


def parcels(path) -> int:
    ws = toolkit.connect(str(path))
    try:
        return int(ws.sql("SELECT count(*) AS n FROM properties").n[0])
    finally:
        ws.close()


@pytest.mark.parametrize("fresh", [True, False])
def test_demo_never_touches_a_workspace_it_did_not_create(real_workspace, fresh):
    before = real_workspace.read_bytes()
    assert parcels(real_workspace) == 252
    with pytest.raises(NotADemoWorkspaceError) as info:
        run_demo(real_workspace, fresh=fresh, headless=False, out=lambda s: None)
    message = str(info.value)
    assert f"{real_workspace} exists and is not a demo workspace" in message
    assert "nothing was changed" in message and "Give the demo a new file" in message
    assert real_workspace.read_bytes() == before and parcels(real_workspace) == 252


def test_demo_refuses_other_files_and_the_cli_says_why(tmp_path, real_workspace, capsys):
    from toolkit.cli import main

    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes")
    with pytest.raises(NotADemoWorkspaceError, match="not a DuckDB database"):
        run_demo(notes, headless=False, out=lambda s: None)
    assert notes.read_text() == "my notes"
    assert main(["demo", "--db", str(real_workspace)]) == 1
    assert "is not a demo workspace" in capsys.readouterr().err
    assert parcels(real_workspace) == 252


def test_the_default_demo_file_is_reused_only_when_it_is_a_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_DATA", str(tmp_path))
    monkeypatch.delenv("TOOLKIT_DB", raising=False)
    default = tmp_path / "demo.duckdb"
    ws = toolkit.connect(str(default))  # not made by the demo
    ws.close()
    with pytest.raises(NotADemoWorkspaceError, match="has no demo mark"):
        run_demo(None, headless=False, out=lambda s: None)
    assert demo_file_state(default).startswith("it has no demo mark")
    built = tmp_path / "built" / "demo.duckdb"
    built.parent.mkdir()
    build_workspace_inputs(built).close()  # what the demo builds carries the mark
    shutil.copyfile(built, default)
    assert demo_file_state(default) == "demo"
    _check_demo_target(default, fresh=True)  # so the demo may replace it


def test_sample_layers_only_for_a_demo_workspace(real_workspace, tmp_path, monkeypatch):
    from toolkit.demo import is_demo
    from toolkit.processors.environment import make_processor, sources_config

    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", "sample")
    ws = toolkit.connect(str(real_workspace))
    with pytest.raises(ConfigError, match=r"only a demo workspace .* may use"):
        make_processor(ws.processor_context())  # the processor reads the workspace's mark
    assert not is_demo(ws)
    ws.close()
    demo = build_workspace_inputs(tmp_path / "demo.duckdb")
    assert is_demo(demo) and sources_config(demo.data_dir, demo=True) == {"mode": "sample"}
    make_processor(demo.processor_context()).close()
    demo.close()


def test_the_demo_mark_on_both_backends(ws):
    from toolkit.demo import is_demo, mark_demo

    assert not is_demo(ws)
    mark_demo(ws)
    mark_demo(ws)  # marking twice is one row
    assert is_demo(ws)
    assert ws.sql("SELECT count(*) AS n FROM workspace_meta").n[0] == 1
