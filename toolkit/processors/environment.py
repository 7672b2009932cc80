"""environmental_research: flood zone, EPA facilities, wetlands and mine subsidence per property.

Where the answers come from is ``$TOOLKIT_ENV_SOURCES``:

- ``online`` (default): FEMA NFHL, EPA ECHO and USFWS wetlands through the
  sources layer (retries, rate limits, a response cache in the workspace's
  ``cache/environment`` folder); mine subsidence needs a local layer;
- ``sample``: the SYNTHETIC sample layers in ``data/sample/layers`` (the demo);
- a path to a YAML or JSON file with :func:`toolkit.environment.make_sources` settings
  (local layer files per input, service URLs, HTTP options).

A flood zone already in the parcel record is used without a call.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ConfigError

if TYPE_CHECKING:
    from toolkit.processors.context import ProcessorContext

SOURCES_ENV = "TOOLKIT_ENV_SOURCES"


def sources_config(data_dir: Path) -> dict[str, Any]:
    """The make_sources settings this workspace uses (see module doc)."""
    choice = os.environ.get(SOURCES_ENV, "online").strip() or "online"
    cache = str(Path(data_dir) / "cache" / "environment")
    if choice == "online":
        return {"mode": "online", "cache_dir": cache}
    if choice == "sample":
        return {"mode": "local"}
    path = Path(choice)
    if not path.is_file():
        raise ConfigError(
            f"{SOURCES_ENV}={choice!r} is neither 'online', 'sample' nor an existing settings file."
        )
    text = path.read_text()
    if path.suffix.lower() == ".json":
        config = json.loads(text)
    else:
        import yaml

        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"Environment settings {path}{where}: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"Environment settings {path} must be a mapping of settings.")
    config.setdefault("cache_dir", cache)
    return config


def make_processor(ctx: ProcessorContext) -> Any:
    from toolkit.environment import assess_environment, close_sources, make_sources, to_row_json

    sources = make_sources(sources_config(ctx.data_dir))

    def process(item: dict[str, Any]) -> dict[str, Any]:
        parcel = {k: (None if _missing(v) else v) for k, v in item.items()}
        return to_row_json(assess_environment(parcel, **sources))

    process.close = lambda: close_sources(sources)  # type: ignore[attr-defined]
    return process


def _missing(v: Any) -> bool:
    try:
        import pandas as pd

        return v is None or (not isinstance(v, list | dict | str) and bool(pd.isna(v)))
    except (TypeError, ValueError):
        return False
