"""Who holds a claim: ``host:pid:start``, and whether that worker is still alive.

The process start time (from ``/proc`` where there is one) guards against a
reused pid being taken for the worker that died.
"""

from __future__ import annotations

import os
import socket
from functools import cache


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the parenthesised command name (None without /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> str | None:
    fields = _stat(pid)
    # field 22 (starttime) is the 20th after the command name; field 3 (state) the 1st
    return None if fields is None else fields[19]


@cache
def _host() -> str:
    return socket.gethostname()


def current_worker() -> str:
    """This process's worker id (re-computed after a fork)."""
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_time(pid) or '0'}"


def parse_worker(worker: str) -> tuple[str, int, str]:
    host, pid, start = worker.rsplit(":", 2)
    return host, int(pid), start


def pid_alive(pid: int) -> bool:
    """True while the process runs. A zombie (killed, not yet reaped by its parent) is dead:
    its pid still answers signals, but it will never finish its work or free its claims."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat(pid)
    return fields is None or fields[0] not in ("Z", "X")


def is_dead(worker: str) -> bool:
    """True only when we can be sure: same host, and the pid is gone or reused."""
    try:
        host, pid, start = parse_worker(worker)
    except ValueError:
        return False
    if host != _host():
        return False  # another machine: only its lease can tell
    if not pid_alive(pid):
        return True
    actual = _start_time(pid)
    return actual is not None and start != "0" and actual != start
