"""One item's work in a child process, with a wall-clock deadline and a memory cap.

Some inputs are hostile: a PDF whose content stream inflates to gigabytes, a file built
to stall a reader. :class:`Isolated` runs a processor function in a child process (kept
for the next item while it behaves), so such an input fails its item with a reason in
plain words — "parsing took longer than the 300 s limit", "page 1 expands past the
1,500 MB limit" — and the job goes on. A stop asked for meanwhile (a pause) stops the
child at once and raises :class:`~toolkit.exceptions.ItemInterrupted`: the item stays
pending, not failed.

The function runs as ``function(arg, progress)``; ``progress(text)`` tells the parent
where the work is (e.g. ``"page 3"``), which the reasons name.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

from toolkit.exceptions import ItemError, ItemInterrupted, ValidationError

POLL = 0.1  # seconds between checks of the deadline and the stop request


def _child(conn: Any, target: str, memory_mb: int | None) -> None:
    """The child's loop: one call per message, answers ("ok", result) or ("error", …)."""
    if memory_mb:
        with contextlib.suppress(ImportError, ValueError, OSError):
            import resource

            limit = int(memory_mb) << 20
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    module, _, attr = target.partition(":")
    fn = getattr(importlib.import_module(module), attr)

    def progress(text: str) -> None:
        conn.send(("progress", str(text)))

    while True:
        try:
            arg = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = fn(arg, progress)
        except MemoryError:
            conn.send(("memory", None))
            continue
        except BaseException as exc:  # the processor's own error: the parent re-raises it
            try:
                conn.send(("error", exc))
            except Exception:  # an exception that does not pickle: its words
                conn.send(("error_text", f"{type(exc).__name__}: {exc}"))
            continue
        try:
            conn.send(("ok", result))
        except MemoryError:
            conn.send(("memory", None))


class Isolated:
    """Call ``target`` ("module:function") in a child process, one item at a time.

    Parameters
    ----------
    target
        ``"module:function"``, importable in a new process; called as ``fn(arg, progress)``.
    seconds
        The wall-clock limit for one call (the child is killed past it).
    memory_mb
        The child's address-space limit (``RLIMIT_AS``, where the system has one).
    what
        How reasons name the work ("parsing").
    stop
        Checked every 0.1 s while the child works: True stops it at once.
    """

    def __init__(
        self,
        target: str,
        *,
        seconds: float,
        memory_mb: int | None,
        what: str = "the work",
        stop: Callable[[], bool] | None = None,
        limits_hint: str = "",
    ) -> None:
        if not seconds > 0:
            raise ValidationError(f"A time limit of {seconds!r} s must be a positive number.")
        if memory_mb is not None and memory_mb < 64:
            raise ValidationError(f"A memory limit of {memory_mb!r} MB is below 64 MB.")
        self.target, self.seconds, self.memory_mb = target, float(seconds), memory_mb
        self.what, self.stop, self.hint = what, stop, limits_hint
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_child,
            args=(child, self.target, self.memory_mb),
            name="toolkit-isolated",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._conn = parent

    def _kill(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._proc.kill()
                self._proc.join(5)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        self._kill()

    def __call__(self, arg: Any) -> Any:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        assert self._conn is not None
        self._conn.send(arg)
        deadline = time.monotonic() + self.seconds
        where = ""
        while True:
            if self.stop is not None and self.stop():
                self._kill()
                raise ItemInterrupted(f"{self.what} stopped: a pause was asked for")
            try:
                ready = self._conn.poll(POLL)
            except (EOFError, OSError):
                ready = True
            if ready:
                try:
                    kind, value = self._conn.recv()
                except (EOFError, OSError):
                    code = self._proc.exitcode if self._proc is not None else None
                    self._kill()
                    raise ItemError(
                        f"{self.what} stopped: its process died{where}"
                        f"{f' (exit code {code})' if code is not None else ''}; the file may be "
                        f"damaged or built to exhaust a reader.{self.hint}"
                    ) from None
                if kind == "progress":
                    where = f" at {value}"
                    continue
                if kind == "ok":
                    return value
                if kind == "memory":
                    self._kill()  # a child that ran out of memory is not reused
                    raise ItemError(
                        f"{self.what} stopped{where}: it expands past the "
                        f"{self.memory_mb:,} MB memory limit; the file is damaged or built to "
                        f"exhaust a reader.{self.hint}"
                    )
                if kind == "error":
                    raise value
                raise ItemError(str(value))
            if time.monotonic() >= deadline:
                self._kill()
                raise ItemError(
                    f"{self.what} took longer than the {self.seconds:g} s limit{where} and was "
                    f"stopped; the file may be damaged or built to stall a reader.{self.hint}"
                )


def limits_from_env(prefix: str, seconds: float, memory_mb: int) -> tuple[float, int]:
    """``<prefix>_SECONDS`` and ``<prefix>_MEMORY_MB`` from the environment, else the defaults."""
    out: list[float] = []
    for name, default in (
        (f"{prefix}_SECONDS", float(seconds)),
        (f"{prefix}_MEMORY_MB", float(memory_mb)),
    ):
        raw = os.environ.get(name, "").strip()
        if not raw:
            out.append(default)
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ValidationError(f"{name}={raw!r} is not a number.") from None
        if not value > 0:
            raise ValidationError(f"{name}={raw!r} must be positive.")
        out.append(value)
    return out[0], int(out[1])
