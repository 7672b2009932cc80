"""The demo: the guide's example session on the synthetic sample data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit import config

if TYPE_CHECKING:
    import pandas as pd


def sample_properties() -> pd.DataFrame:
    """The synthetic sample universe (``data/sample/properties.csv``; not real properties)."""
    import pandas as pd

    return pd.read_csv(config.sample_dir() / "properties.csv", comment="#", dtype=str)
