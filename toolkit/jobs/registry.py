"""The job-type registry: the guide's eight types, and any a user registers.

Each type knows its batch size and per-session figure (the guide's table),
what kind of item it works on, which items are pending for it (a SQL query
returning ``item_id, county_id, county_name, sale_date, sort_key``), where its
results go, and which processor does the work by default.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Literal

from toolkit.exceptions import UnknownJobTypeError, ValidationError

ItemKind = Literal["property", "document", "county"]
NOUNS: dict[str, str] = {"property": "properties", "document": "documents", "county": "counties"}
KEY_COLUMNS: dict[str, str] = {"property": "property_id", "document": "id", "county": "county_id"}


@dataclass(frozen=True)
class JobType:
    """One kind of batch job.

    Examples
    --------
    >>> from toolkit.jobs import get_job_type
    >>> get_job_type("regrid_scraping").batch_size
    50
    """

    name: str
    batch_size: int
    per_session: int
    item_kind: ItemKind
    description: str
    eligible_sql: str | None = None  # None: the named query ``eligible_<name>``
    context_query: str = "context_property"
    result_table: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    position: int = 100
    # a module with validate_result(result) -> dict and
    # write_results(con, q, job_id, outcomes, now), for results that are more
    # than one row of result_table (a parsed document writes properties too)
    writer: str | None = None

    @property
    def noun(self) -> str:
        return NOUNS[self.item_kind]

    @property
    def key_column(self) -> str:
        return KEY_COLUMNS[self.item_kind]

    @property
    def view(self) -> str:
        return f"eligible_{self.name}"

    def load_writer(self) -> Any:
        return import_module(self.writer) if self.writer else None


_BUILTIN = [
    JobType(
        "pdf_parsing",
        5,
        15,
        "document",
        "Extracts properties from PDF documents.",
        context_query="context_document",
        result_table="documents",
        aliases=("pdf parsing", "parse pdfs", "pdf"),
        position=1,
        writer="toolkit.processors.pdf_parsing",
    ),
    JobType(
        "county_research",
        10,
        30,
        "county",
        "Researches county auction information.",
        context_query="context_county",
        result_table="county_research",
        aliases=("county research",),
        position=2,
        writer="toolkit.processors.county_research",
    ),
    JobType(
        "regrid_scraping",
        50,
        150,
        "property",
        "Scrapes Regrid for property data.",
        context_query="context_property",
        result_table="regrid_data",
        aliases=("regrid scraping", "regrid", "parcel data"),
        position=3,
    ),
    JobType(
        "visual_validation",
        100,
        300,
        "property",
        "Analyzes parcels and images to filter non-investable properties.",
        context_query="context_parcel",
        result_table="visual_validations",
        aliases=("visual validation", "screening"),
        position=4,
    ),
    JobType(
        "property_condition",
        25,
        75,
        "property",
        "Assesses property condition remotely.",
        context_query="context_parcel",
        result_table="condition_assessments",
        aliases=("property condition", "condition"),
        position=5,
    ),
    JobType(
        "environmental_research",
        25,
        75,
        "property",
        "Checks environmental risks.",
        context_query="context_parcel",
        result_table="environmental_assessments",
        aliases=("environmental research", "environmental"),
        position=6,
    ),
    JobType(
        "title_research",
        20,
        60,
        "property",
        "Researches liens and title issues.",
        context_query="context_parcel",
        result_table="title_research",
        aliases=("title research", "title"),
        position=7,
    ),
    JobType(
        "bid_strategy",
        50,
        150,
        "property",
        "Calculates maximum bid amounts.",
        context_query="context_parcel",
        result_table="bid_strategies",
        aliases=("bid strategy", "bids"),
        position=8,
    ),
]

_registry: dict[str, JobType] = {t.name: t for t in _BUILTIN}
#: the built-in per-property stages in pipeline order (parcel data → bids), as the
#: demo runs them
PROPERTY_STAGES: tuple[str, ...] = tuple(
    t.name for t in sorted(_BUILTIN, key=lambda t: t.position) if t.item_kind == "property"
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_generation = 0  # bumped by every registration: stores rebuild their views
_lock = threading.Lock()


class _Registry:
    """The registry as a backend sees it (:class:`toolkit.backends.base.Catalog`)."""

    def types(self) -> Mapping[str, JobType]:
        return job_types()

    def generation(self) -> int:
        return _generation


REGISTRY = _Registry()


def job_types() -> dict[str, JobType]:
    """All registered job types, in pipeline order."""
    return dict(sorted(_registry.items(), key=lambda kv: (kv[1].position, kv[0])))


def get_job_type(name: str) -> JobType:
    """The job type called ``name`` (also accepts "Regrid scraping"-style names)."""
    if isinstance(name, JobType):
        return name
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key in _registry:
        return _registry[key]
    for t in _registry.values():
        if str(name).strip().lower() in t.aliases:
            return t
    raise UnknownJobTypeError(name, _registry)


def register_job_type(job_type: JobType, *, replace: bool = False) -> JobType:
    """Add a job type. Its ``eligible_sql`` must return the columns named above."""
    if not _NAME_RE.match(job_type.name):
        raise ValidationError(
            f"Job type name {job_type.name!r} must be lowercase letters, digits and underscores."
        )
    if job_type.item_kind not in NOUNS:
        raise ValidationError(
            f"Unknown item kind {job_type.item_kind!r}; valid: {', '.join(NOUNS)}."
        )
    if job_type.name in _registry and not replace:
        raise ValidationError(f"Job type {job_type.name!r} is registered already (replace=True).")
    if job_type.eligible_sql is None and job_type.name not in {t.name for t in _BUILTIN}:
        raise ValidationError(f"Job type {job_type.name!r} needs eligible_sql.")
    if job_type.batch_size <= 0 or job_type.per_session <= 0:
        raise ValidationError("batch_size and per_session must be positive.")
    global _generation
    with _lock:
        _registry[job_type.name] = job_type
        _generation += 1
    return job_type


def unregister_job_type(name: str) -> None:
    """Remove a job type a user registered (the guide's eight stay)."""
    global _generation
    if name in {t.name for t in _BUILTIN}:
        raise ValidationError(f"Job type {name!r} is one of the guide's; it cannot be removed.")
    with _lock:
        if name not in _registry:
            raise UnknownJobTypeError(name, _registry)
        del _registry[name]
        _generation += 1
