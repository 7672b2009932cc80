"""Damaged, foreign and full: a workspace file in trouble gets a plain error, never a
traceback, and nothing is changed or lost."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pytest

import toolkit
import toolkit.demo
from toolkit.exceptions import DiskFullError, NotAWorkspaceError, WorkspaceDamagedError

TOOLKIT = str(Path(sys.executable).parent / "toolkit")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_DB", "TOOLKIT_DEBUG")}
    return subprocess.run([TOOLKIT, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "ws.duckdb"
    ws = toolkit.connect(str(path))
    ws.import_properties(toolkit.demo.sample_properties())
    ws.close()
    return path


def _forget(path: Path) -> None:
    """As a new process would: check the schema again."""
    from toolkit.backends.duckdb import store

    store._ready.clear()


def test_a_half_truncated_workspace_is_named_damaged(good: Path) -> None:
    with good.open("r+b") as f:
        f.truncate(good.stat().st_size // 2)
    _forget(good)
    with pytest.raises(WorkspaceDamagedError, match=r"is damaged .*restore it from a copy"):
        ws = toolkit.connect(str(good))
        ws.sql("SELECT sum(upset_price) FROM properties")
    r = cli("status", "--db", str(good))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("Error: the workspace") or "is damaged" in r.stderr, r.stderr


def test_flipped_bytes_are_named_damaged(good: Path) -> None:
    data = bytearray(good.read_bytes())
    rng = random.Random(7)
    for _ in range(200):
        i = rng.randrange(8192, len(data))
        data[i] ^= 0xFF
    good.write_bytes(bytes(data))
    _forget(good)
    r = cli("pending", "--db", str(good))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "is damaged" in r.stderr and "restore it from a copy" in r.stderr, r.stderr
    with pytest.raises(WorkspaceDamagedError):
        toolkit.connect(str(good)).get_pending_work_summary()


def test_a_duckdb_file_of_other_tables_is_refused_unless_initialised(tmp_path: Path) -> None:
    path = tmp_path / "mine.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE my_notes (id INTEGER, text VARCHAR)")
    con.execute("INSERT INTO my_notes VALUES (1, 'keep me')")
    con.close()
    before = path.read_bytes()
    r = cli("status", "--db", str(path))
    assert r.returncode == 1 and "not a toolkit workspace" in r.stderr and "my_notes" in r.stderr
    with pytest.raises(NotAWorkspaceError, match="toolkit init"):
        toolkit.connect(str(path))
    assert path.read_bytes() == before  # not one table added
    r = cli("init", "--db", str(path))
    assert r.returncode == 0 and "is a toolkit workspace" in r.stdout
    ws = toolkit.connect(str(path))
    assert ws.sql("SELECT text FROM my_notes").text.tolist() == ["keep me"]
    assert int(ws.sql("SELECT count(*) AS n FROM counties").n[0]) == 67
    ws.close()


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 4 MB tmpfs (root only; skipped elsewhere)."""
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_named_and_reads_still_work(tiny_disk: Path) -> None:
    db = str(tiny_disk / "ws.duckdb")
    ws = toolkit.connect(db)
    with pytest.raises(DiskFullError, match=r"is full \(.* free\).*Free at least"):
        for _ in range(40):
            ws.import_properties(toolkit.demo.sample_properties())
            ws.create_batch_job("regrid_scraping", None, 50, force=True)
    ws.close()
    # read-only commands write nothing, so they still answer
    for command in ("pending", "jobs", "audit"):
        r = cli(command, "--db", db)
        assert r.returncode == 0, (command, r.stderr)
    r = cli("start", "regrid_scraping", "--db", db, "--force")
    assert r.returncode == 1 and "is full" in r.stderr and "Traceback" not in r.stderr


def test_a_file_deleted_and_made_again_is_a_new_workspace(tmp_path: Path) -> None:
    """The schema check remembered per process belongs to the file, not to its name."""
    path = tmp_path / "ws.duckdb"
    ws = toolkit.connect(str(path))
    ws.import_properties(toolkit.demo.sample_properties().head(3))
    ws.close()
    path.unlink()
    ws = toolkit.connect(str(path))  # same process, same name, a new empty file
    assert int(ws.sql("SELECT count(*) AS n FROM properties").n[0]) == 0
    ws.close()
