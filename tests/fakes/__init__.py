"""Real local HTTP servers (127.0.0.1) speaking outside services' JSON, for tests and benchmarks.

- :mod:`fakes.server` -- generic :class:`FakeService` (routes, scripted
  one-shot replies, latency, request log) and :func:`max_in_window`;
- :mod:`fakes.regrid_server` -- Regrid API v2 (``parcels/apn``,
  ``parcels/address``, ``parcels/point``).

FEMA NFHL, EPA ECHO and USFWS fakes subclass ``FakeService`` the same way.
"""

from __future__ import annotations

from .server import FakeService, Reply, Request, max_in_window

__all__ = ["FakeService", "Reply", "Request", "max_in_window"]
