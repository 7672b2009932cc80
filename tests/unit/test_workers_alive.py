"""Whether a claim's worker is alive: the check that frees a dead local worker's claims at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from toolkit.backends.workers import current_worker, is_dead, pid_alive


def test_this_process_is_alive():
    assert pid_alive(os.getpid())
    assert not is_dead(current_worker())


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to see a zombie's state")
def test_a_killed_child_not_yet_reaped_is_dead():
    """SIGKILLed and left a zombie by its parent: its pid answers signals, yet it is dead."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        worker = current_worker().rsplit(":", 2)[0] + f":{child.pid}:0"
        assert pid_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pid_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(child.pid, 0)  # not reaped: the pid still exists...
        assert not pid_alive(child.pid)  # ...but the process is a zombie
        assert is_dead(worker)
    finally:
        child.kill()
        child.wait()
    assert not pid_alive(child.pid)


def test_a_worker_on_another_host_is_never_called_dead():
    assert not is_dead(f"some-other-host-{os.getpid()}:1:0")


@pytest.mark.parametrize("bad", ["", "no-colons", "host:notapid:0"])
def test_unparseable_worker_ids_are_not_dead(bad):
    assert not is_dead(bad)
