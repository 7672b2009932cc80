"""Test helpers (not fixtures): sample loading and subprocess scripts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_sample(ws) -> None:
    """Import the sample properties and give the 17 flagged Blair parcels a parcel record."""
    import toolkit.demo

    frame = toolkit.demo.sample_properties()
    ws.import_properties(frame)
    flagged = frame[frame.has_parcel_data == "1"].parcel_id.tolist()
    ws.sql(
        "INSERT INTO regrid_data (property_id, source, parcelnumb, fetched_at) "
        "SELECT id, 'test', parcel_id, now()::TIMESTAMP FROM properties "
        "WHERE county_id = 13 AND list_contains($1, parcel_id)",
        [flagged],
    )


def parcel(item: dict) -> dict:
    """A tiny real processor: a regrid_data row from the item's own context."""
    return {"source": "test", "parcelnumb": item["parcel_id"]}


_PRELUDE = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"


def run_py(
    code: str, *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter (a second process on the same file)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def popen_py(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def slow_parcel(item: dict) -> dict:
    """:func:`parcel`, a little slowly (so a pause can land mid-session); importable by workers."""
    import time

    time.sleep(0.05)
    return parcel(item)
