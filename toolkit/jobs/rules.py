"""The guide's rules on what a person or a processor hands in, checked at the edge.

Pure functions: a batch size, an ordering strategy, the guide's
``(items_processed, items_failed)`` pair, and a processor's result. Each raises a
:class:`~toolkit.exceptions.ValidationError` (or :class:`ProcessorError`) that
names the bad value and what is accepted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from toolkit.exceptions import (
    InvalidBatchSizeError,
    ProcessorError,
    UnknownChoiceError,
    ValidationError,
)
from toolkit.jobs.registry import JobType

STRATEGIES = ("county", "round_robin", "auction_date")
STRATEGY_ALIASES = {
    "one_county": "county",
    "county_at_a_time": "county",
    "a": "county",
    "round-robin": "round_robin",
    "roundrobin": "round_robin",
    "b": "round_robin",
    "priority": "auction_date",
    "auction": "auction_date",
    "nearest_auction": "auction_date",
    "c": "auction_date",
}
BATCH_SIZE_WARN = 100


def validate_batch_size(batch_size: object, job_type: JobType) -> tuple[int, list[str]]:
    """The batch size to use and the guide's warnings about it.

    >>> from toolkit.jobs import get_job_type
    >>> validate_batch_size(None, get_job_type("regrid_scraping"))
    (50, [])
    >>> validate_batch_size("0", get_job_type("regrid_scraping"))
    Traceback (most recent call last):
    ...
    toolkit.exceptions.InvalidBatchSizeError: Batch size '0' must be at least 1 (the guide ...
    """
    if batch_size is None:
        return job_type.batch_size, []
    hint = f"(the guide recommends {job_type.batch_size} for {job_type.name})"
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | float | str):
        raise InvalidBatchSizeError(
            f"Batch size {batch_size!r} is not a whole number; give an integer from 1 {hint}."
        )
    try:
        n: int | float = int(str(batch_size)) if isinstance(batch_size, str) else batch_size
    except ValueError:
        n = math.nan
    if isinstance(n, float):
        if not n.is_integer():
            raise InvalidBatchSizeError(
                f"Batch size {batch_size!r} is not a whole number; give an integer from 1 {hint}."
            )
        n = int(n)
    if n <= 0:
        raise InvalidBatchSizeError(f"Batch size {batch_size!r} must be at least 1 {hint}.")
    warnings = []
    if n > BATCH_SIZE_WARN:
        warnings.append(
            f"Batch size {n} is over {BATCH_SIZE_WARN}; the guide advises against it "
            f"(recommended for {job_type.name}: {job_type.batch_size})."
        )
    return n, warnings


def normalise_strategy(strategy: object) -> str:
    """One of :data:`STRATEGIES`, from its name or an alias.

    >>> normalise_strategy("Round robin")
    'round_robin'
    """
    key = str(strategy).strip().lower().replace(" ", "_")
    key = STRATEGY_ALIASES.get(key, key)
    if key not in STRATEGIES:
        raise UnknownChoiceError("ordering strategy", strategy, STRATEGIES)
    return key


def single_outcome(
    items_processed: object, items_failed: object, error_message: object
) -> tuple[str, str | None]:
    """The guide's (processed, failed) pair for one item → its status.

    >>> single_outcome(0, 1, "Property not found in Regrid")
    ('failed', 'Property not found in Regrid')
    """
    pair = (items_processed, items_failed)
    if pair == (1, 0):
        return "done", None
    if pair == (0, 1):
        return "failed", str(error_message) if error_message is not None else "failed"
    raise ValidationError(
        f"update_batch_progress reports one item: items_processed, items_failed must be "
        f"(1, 0) or (0, 1), got {pair!r}."
    )


_CONTAINERS = (list, tuple, dict, set)


def jsonable(v: Any) -> Any:
    """A container as JSON text (how result columns keep lists and dicts); others as they are."""
    if isinstance(v, _CONTAINERS):
        return json.dumps(list(v) if isinstance(v, set | tuple) else v, default=str)
    return v


def validate_result(job_type: JobType, result: object, columns: Iterable[str]) -> dict[str, Any]:
    """A processor's return value as a result row, or a ProcessorError that says why not."""
    writer = job_type.load_writer()
    if writer is not None:
        return writer.validate_result(result)
    if not isinstance(result, dict):
        raise ProcessorError(
            f"The {job_type.name} processor returned {type(result).__name__} {result!r:.80}; "
            "a result must be a dict of column values."
        )
    valid = _valid_fields(job_type, columns)
    if not valid.issuperset(result):
        unknown = sorted(set(result) - valid)
        raise ProcessorError(
            f"The {job_type.name} processor returned unknown field(s) {', '.join(unknown)}; "
            f"valid fields of {job_type.result_table}: {', '.join(sorted(valid))}."
        )
    # JSON for containers only: the check per value is the hot path of a large batch
    return {k: jsonable(v) if isinstance(v, _CONTAINERS) else v for k, v in result.items()}


_valid: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}


def _valid_fields(job_type: JobType, columns: Iterable[str]) -> frozenset[str]:
    """The result fields a processor may return (cached: called once per item)."""
    key = (job_type.name, tuple(columns))
    if key not in _valid:
        _valid[key] = frozenset(key[1]) - {job_type.key_column, "job_id"}
    return _valid[key]
