"""environmental_research: flood zone, EPA facilities, wetlands and mine subsidence per property.

Where the answers come from is ``$TOOLKIT_ENV_SOURCES``:

- ``online`` (default): FEMA NFHL, EPA ECHO and USFWS wetlands through the
  sources layer (retries, rate limits, a response cache in the workspace's
  ``cache/environment`` folder); mine subsidence needs a local layer (without
  one that check is UNKNOWN, never LOW);
- ``sample``: the SYNTHETIC sample layers in ``data/sample/layers``. Only the
  demo sets it (``toolkit demo``), and only a workspace the demo marked as its
  own may use it: a real workspace never reads those layers;
- a path to a YAML or JSON file with :func:`toolkit.environment.make_sources` settings
  (local layer files per input, service URLs, HTTP options, ``item_deadline``).

Each item's calls together get ``$TOOLKIT_ITEM_DEADLINE`` seconds (else the
settings' ``item_deadline``, else 60): past it the item fails, to be retried
later. A service that cannot be reached at all (connection refused, unknown
host, no route) pauses the job at once, saying which and what to do.

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
DEADLINE_ENV = "TOOLKIT_ITEM_DEADLINE"


def sources_config(data_dir: Path, *, demo: bool = False) -> dict[str, Any]:
    """The make_sources settings a workspace uses (see module doc); ``demo``: it carries
    the demo's mark (only then may it read the SYNTHETIC sample layers)."""
    choice = os.environ.get(SOURCES_ENV, "online").strip() or "online"
    cache = str(Path(data_dir) / "cache" / "environment")
    if choice == "online":
        return {"mode": "online", "cache_dir": cache}
    if choice == "sample":
        if not demo:
            raise ConfigError(
                f"{SOURCES_ENV}=sample reads the SYNTHETIC sample layers, which only a demo"
                " workspace (toolkit demo) may use; this workspace was not built by the demo."
                f" Unset {SOURCES_ENV} to use the online services, or point it at a settings"
                " file with your own layers."
            )
        return {"mode": "sample"}
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
    from toolkit.environment import (
        assess_environment,
        close_sources,
        item_deadline,
        make_sources,
        to_row_json,
    )
    from toolkit.sources.http import deadline

    config = sources_config(ctx.data_dir, demo=ctx.meta("kind") == "demo")
    raw = os.environ.get(DEADLINE_ENV, "").strip()
    if raw:
        try:
            config["item_deadline"] = float(raw)
        except ValueError:
            raise ConfigError(f"{DEADLINE_ENV}={raw!r} is not a number of seconds.") from None
    seconds = item_deadline(config)
    sources = make_sources(config)
    what = f"item deadline ({DEADLINE_ENV})"

    def process(item: dict[str, Any]) -> dict[str, Any]:
        parcel = {k: (None if _missing(v) else v) for k, v in item.items()}
        with deadline(seconds, what=what):
            return to_row_json(assess_environment(parcel, **sources))

    process.close = lambda: close_sources(sources)  # type: ignore[attr-defined]
    return process


def _missing(v: Any) -> bool:
    try:
        import pandas as pd

        return v is None or (not isinstance(v, list | dict | str) and bool(pd.isna(v)))
    except (TypeError, ValueError):
        return False
