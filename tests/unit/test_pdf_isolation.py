"""The child-process runner a PDF is parsed in: results, errors, deadline, memory, stop."""

from __future__ import annotations

import time

import pytest

from toolkit.exceptions import DocumentError, ItemError, ItemInterrupted, ValidationError
from toolkit.processors.isolation import Isolated, limits_from_env

HERE = __name__


def echo(arg, progress):
    progress("page 1 of 2")
    return {"got": arg}


def sleepy(seconds, progress):
    progress("page 7 of 9")
    time.sleep(seconds)
    return "woke"


def hog(mb, progress):
    progress("page 1 of 1")
    return len(bytearray(mb << 20))


def broken(arg, progress):
    raise DocumentError("the PDF is damaged: a compressed stream is corrupt")


def test_results_and_the_items_own_errors_come_back_and_the_child_is_reused() -> None:
    iso = Isolated(f"{HERE}:echo", seconds=30, memory_mb=None)
    try:
        assert iso({"a": 1}) == {"got": {"a": 1}}
        pid = iso._proc.pid
        assert iso(2) == {"got": 2}
        assert iso._proc.pid == pid
    finally:
        iso.close()
    bad = Isolated(f"{HERE}:broken", seconds=30, memory_mb=None)
    try:
        with pytest.raises(DocumentError, match="the PDF is damaged"):
            bad(None)
    finally:
        bad.close()


def test_a_deadline_names_the_limit_and_where_the_work_was() -> None:
    iso = Isolated(f"{HERE}:sleepy", seconds=1.5, memory_mb=None, what="parsing the PDF")
    try:
        with pytest.raises(ItemError, match=r"took longer than the 1.5 s limit at page 7 of 9"):
            iso(60)
        assert iso._proc is None  # killed, a new one for the next item
    finally:
        iso.close()


def test_memory_past_the_cap_fails_in_plain_words() -> None:
    iso = Isolated(f"{HERE}:hog", seconds=60, memory_mb=300, what="parsing the PDF")
    try:
        with pytest.raises(ItemError, match=r"at page 1 of 1: it expands past the 300 MB memory"):
            iso(1024)
    finally:
        iso.close()


def test_a_stop_interrupts_the_item_at_once() -> None:
    asked = time.monotonic() + 1.0
    iso = Isolated(
        f"{HERE}:sleepy", seconds=120, memory_mb=None, stop=lambda: time.monotonic() > asked
    )
    try:
        t0 = time.monotonic()
        with pytest.raises(ItemInterrupted):
            iso(60)
        assert time.monotonic() - t0 < 30
    finally:
        iso.close()


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits_from_env("TK_TEST", 300, 1000) == (300.0, 1000)
    monkeypatch.setenv("TK_TEST_SECONDS", "20")
    monkeypatch.setenv("TK_TEST_MEMORY_MB", "512")
    assert limits_from_env("TK_TEST", 300, 1000) == (20.0, 512)
    monkeypatch.setenv("TK_TEST_SECONDS", "soon")
    with pytest.raises(ValidationError, match="TK_TEST_SECONDS='soon' is not a number"):
        limits_from_env("TK_TEST", 300, 1000)
