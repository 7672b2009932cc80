"""Where a batch's results go: the type's own writer, or one row each in its result table.

The engine calls the writer :func:`results_writer` returns inside the batch's
transaction, so a result row and its item's ``done`` status commit together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from toolkit.backends.base import Connection, Engine, Outcome, ResultWriter
from toolkit.exceptions import ValidationError
from toolkit.jobs.registry import JobType
from toolkit.jobs.rules import _CONTAINERS, jsonable
from toolkit.sql import Queries


def result_arrays(
    job_type: JobType,
    cols: dict[str, tuple[str, bool]],
    job_id: str,
    outcomes: Sequence[Outcome],
    now: dt.datetime,
) -> dict[str, list[Any]]:
    """The batch's result rows as one list per column, in the table's column order.

    The key column comes from the item ids, ``job_id`` from the job, and a NOT
    NULL timestamp the processor left empty is ``now``; every list holds values
    of one Python type (mixed values become text), so a backend can bind each
    list as one array parameter.
    """
    key = job_type.key_column
    given: dict[str, None] = {}
    for o in outcomes:
        for k in o.result or ():
            given[k] = None
    unknown = sorted(set(given) - set(cols))
    if unknown:
        raise ValidationError(
            f"Unknown column(s) {', '.join(unknown)} for {job_type.result_table}."
        )
    data: dict[str, list[Any]] = {}
    if key in cols:
        as_int = job_type.item_kind == "county"
        data[key] = [int(o.item_id) if as_int else o.item_id for o in outcomes]
    if "job_id" in cols:
        data["job_id"] = [job_id] * len(outcomes)
    for name in given:
        if name not in data:
            vals: list[Any] = [(o.result or {}).get(name) for o in outcomes]
            if any(isinstance(v, _CONTAINERS) for v in vals):
                vals = [jsonable(v) for v in vals]
            data[name] = vals
    for name, (typ, nullable) in cols.items():
        if typ.startswith("TIMESTAMP") and not nullable:
            given_vals = data.get(name)
            data[name] = (
                [now] * len(outcomes)
                if given_vals is None
                else [now if v is None else v for v in given_vals]
            )
    return {c: _uniform(data[c]) for c in cols if c in data}


def _uniform(values: list[Any]) -> list[Any]:
    """One Python type per list (a driver types a list by its values): mixed → text."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1:
        return values
    return [None if v is None else str(v) for v in values]


def results_writer(
    engine: Engine, q: Queries, job_type: JobType, job_id: str, now: dt.datetime
) -> ResultWriter | None:
    """The ``write`` callback for one batch end (None when the type keeps no results)."""
    writer = job_type.load_writer()
    if writer is not None:

        def own(con: Connection, outcomes: Sequence[Outcome]) -> None:
            writer.write_results(con, q, job_id, outcomes, now)

        return own
    table = job_type.result_table
    if table is None:
        return None

    def rows(con: Connection, outcomes: Sequence[Outcome]) -> None:
        cols = engine.table_columns(con, table)
        engine.upsert_results(
            con, job_type, cols, result_arrays(job_type, cols, job_id, outcomes, now)
        )

    return rows
