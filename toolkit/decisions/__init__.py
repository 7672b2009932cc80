"""Research-and-decision rules: pure, vectorised pandas functions, no database.

Modules (import them directly; nothing heavy is imported here):

* :mod:`~toolkit.decisions.profile` — :class:`InvestorProfile`, :func:`load_profile`;
* :mod:`~toolkit.decisions.screening` — :func:`screen` (visual validation);
* :mod:`~toolkit.decisions.condition` — :func:`assess_condition`;
* :mod:`~toolkit.decisions.title` — :func:`assess_title`, :func:`load_liens_csv`;
* :mod:`~toolkit.decisions.bid` — :func:`max_bid`, :func:`load_clr_factors`.

Every rule takes a frame with ``property_id`` and returns one row per property
with ``reasons`` (``"; "``-joined), the inputs it used and a ``confidence``.
``screen`` and ``max_bid`` are vectorised; ``screen_rowwise`` and
``max_bid_rowwise`` are row-by-row references with identical output.
"""

from __future__ import annotations
