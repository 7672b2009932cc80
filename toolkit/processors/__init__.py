"""Processors: the real work on one item (or one batch), registered by name.

A processor factory takes a :class:`~toolkit.processors.context.ProcessorContext`
(a narrow, read-only view of the workspace) and returns the callable the session
runner calls. Built-in processors are registered per job type; users add their
own with :func:`register_processor` or the ``toolkit.processors`` entry-point
group.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import UnknownChoiceError, ValidationError

if TYPE_CHECKING:
    from toolkit.processors.context import ProcessorContext

Factory = Callable[["ProcessorContext"], Callable[..., Any]]

# name -> "module:factory" (imported on first use) or a factory
_processors: dict[str, str | Factory] = {
    "pdf_parsing": "toolkit.processors.pdf_parsing:make_processor",
    "county_research": "toolkit.processors.county_research:make_processor",
    "regrid_scraping": "toolkit.processors.regrid:make_processor",
    "visual_validation": "toolkit.processors.decisions:make_visual_validation",
    "property_condition": "toolkit.processors.decisions:make_property_condition",
    "environmental_research": "toolkit.processors.environment:make_processor",
    "title_research": "toolkit.processors.decisions:make_title_research",
    "bid_strategy": "toolkit.processors.decisions:make_bid_strategy",
}
_loaded_entry_points = False


def register_processor(name: str, factory: str | Factory, *, replace: bool = False) -> None:
    """Register a processor factory under ``name`` (a job type's name makes it the default)."""
    if name in _processors and not replace:
        raise ValidationError(f"Processor {name!r} is registered already (replace=True).")
    _processors[name] = factory


def unregister_processor(name: str) -> None:
    """Remove a registered processor (tests, or to replace a built-in one)."""
    if name not in _processors:
        raise UnknownChoiceError("processor", name, _processors)
    del _processors[name]


def _load_entry_points() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for ep in entry_points(group="toolkit.processors"):
        _processors.setdefault(ep.name, ep.value)


def processor_names() -> list[str]:
    _load_entry_points()
    return sorted(_processors)


def has_processor(name: str) -> bool:
    _load_entry_points()
    return name in _processors


def get_processor(name: str, ctx: ProcessorContext) -> Callable[..., Any]:
    """Build the processor called ``name`` for the workspace ``ctx`` describes."""
    _load_entry_points()
    if name not in _processors:
        raise UnknownChoiceError("processor", name, _processors or ["(none registered)"])
    factory = _processors[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(import_module(module), attr)
    return factory(ctx)
