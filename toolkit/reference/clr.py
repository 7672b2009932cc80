"""Pennsylvania's CLR factors as shipped with the toolkit, and the check that keeps ratios out.

The shipped table (``clr_factors_pa.csv``, documented in ``docs/clr.md``) holds
one row per county and validity period, each with its ``source`` and
``source_url``:

* 2024-07-01 .. 2025-06-30, all 67 counties: the Department of Revenue's
  factors, 54 Pa.B. 3744 (quoted in ``sources/54_PaB_3744.txt``);
* 2025-07-01 .. 2026-06-30, five counties only: 100 / the State Tax
  Equalization Board's 2024 ratio as reported in public pages (quoted in
  ``sources/steb_2024_clr_reports.txt``); ``clr_percent`` holds the ratio.

A workspace uses a county's shipped factor only when it has no factor of its
own for the county (:func:`with_shipped_fallback`): an imported factor
(``toolkit import-clr``) always wins. Of a county's shipped rows the one in
effect on the day is used, else the newest that began before it.
"""

from __future__ import annotations

import datetime as dt
import io
from importlib import resources
from typing import TYPE_CHECKING

# the ratio bounds live beside the factor check every table passes (decisions.bid)
from toolkit.decisions.bid import RATIO_FRACTION_BELOW, RATIO_PERCENT_ABOVE
from toolkit.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

SHIPPED_CLR_FILE = "clr_factors_pa.csv"
#: Column names that hold a ratio, not a factor.
RATIO_COLUMNS = ("ratio", "clr", "clr_ratio", "clr_percent", "common_level_ratio", "percent")


def shipped_clr_text() -> str:
    """The shipped CSV's text (a package resource, so it is in the wheel too)."""
    return (resources.files("toolkit.reference") / SHIPPED_CLR_FILE).read_text(encoding="utf-8")


def shipped_clr_table() -> pd.DataFrame:
    """Every row of the shipped table, all periods, checked like a user's table.

    Examples
    --------
    >>> t = shipped_clr_table()
    >>> t[t.valid_from == "2024-07-01"].county.nunique()
    67
    """
    import pandas as pd

    from toolkit.decisions.bid import check_clr_factors

    table = pd.read_csv(io.StringIO(shipped_clr_text()), comment="#", dtype=str)
    refuse_ratios(table, SHIPPED_CLR_FILE)
    for start, rows in table.groupby("valid_from"):
        check_clr_factors(rows, f"{SHIPPED_CLR_FILE} ({start})")  # one row per county and period
    return table


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def shipped_clr_factors(on: dt.date | str | None = None) -> pd.DataFrame:
    """One shipped row per county: the one in effect ``on`` (default today), else the newest.

    "The newest" is the latest period that began on or before ``on``; the
    ``source`` column then says the table is the shipped one and which period
    it covers, so a bid that uses it shows the year (``clr_source``).

    Examples
    --------
    >>> t = shipped_clr_factors("2025-01-15")
    >>> len(t), float(t.set_index("county").factor["Blair"])
    (67, 1.18)
    >>> float(shipped_clr_factors("2025-09-01").set_index("county").factor["Bucks"])
    17.06
    """
    day = dt.date.fromisoformat(on) if isinstance(on, str) else (on or _today())
    table = shipped_clr_table()
    started = table[table.valid_from <= day.isoformat()]
    if started.empty:  # every period begins after ``on``: the earliest one
        started = table[table.valid_from == table.valid_from.min()]
    newest = started.sort_values("valid_from").drop_duplicates("county", keep="last")
    newest = newest.sort_values("county").reset_index(drop=True)
    newest["source"] = (
        "shipped PA table, valid "
        + newest.valid_from
        + " to "
        + newest.valid_to
        + ": "
        + newest.source
    )
    return newest


def with_shipped_fallback(
    table: pd.DataFrame | None, on: dt.date | str | None = None
) -> pd.DataFrame:
    """The workspace's factors, plus the shipped one for each county it has none for.

    ``table`` has ``county, factor, source[, valid_from, valid_to]`` (the
    workspace's ``clr_factors``); an ``origin`` column says ``workspace`` or
    ``shipped``.

    Examples
    --------
    >>> import pandas as pd
    >>> mine = pd.DataFrame({"county": ["Blair"], "factor": [1.5], "source": ["my notice"]})
    >>> t = with_shipped_fallback(mine, "2025-01-15").set_index("county")
    >>> float(t.factor["Blair"]), t.origin["Blair"], float(t.factor["Adams"])
    (1.5, 'workspace', 1.29)
    """
    import pandas as pd

    from toolkit.decisions._common import county_key_scalar

    cols = ["county", "factor", "valid_from", "valid_to", "source"]
    shipped = shipped_clr_factors(on)[cols].assign(origin="shipped")
    if table is None or table.empty:
        return shipped
    mine = table.copy()
    for col in ("valid_from", "valid_to"):
        if col not in mine.columns:
            mine[col] = None
        dates = pd.to_datetime(mine[col], errors="coerce")
        mine[col] = dates.dt.strftime("%Y-%m-%d").where(dates.notna(), None)
    mine = mine[cols].assign(origin="workspace")
    have = {county_key_scalar(str(c)) for c in mine.county}
    rest = shipped[[county_key_scalar(c) not in have for c in shipped.county]]
    return pd.concat([mine, rest], ignore_index=True)


def refuse_ratios(table: pd.DataFrame, name: str = "CLR table") -> None:
    """Refuse a table whose "factors" look like common level ratios.

    A CLR factor is the reciprocal of the ratio: a ratio of 26.2 % is the
    factor 100 / 26.2 = 3.82. A value with a ``%`` sign, above
    :data:`RATIO_PERCENT_ABOVE` or under :data:`RATIO_FRACTION_BELOW` is a
    ratio typed where the factor belongs, as is a ratio column without a
    ``factor`` column. Other problems (not a number, no source) are left to
    :func:`toolkit.decisions.bid.check_clr_factors`.

    Examples
    --------
    >>> import pandas as pd
    >>> refuse_ratios(pd.DataFrame({"county": ["Blair"], "factor": ["26.2"]}))
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ConfigError: CLR table: factor '26.2' for county 'Blair' looks like a \
common level ratio in percent, not a factor. The factor is the ratio's reciprocal: \
100 / 26.2 = 3.82. Factors from 0.5 to 25 are accepted.
    """
    import pandas as pd

    cols = {str(c).strip().lower(): c for c in table.columns}
    if "factor" not in cols:
        ratio = next((cols[c] for c in RATIO_COLUMNS if c in cols), None)
        if ratio is not None:
            raise ConfigError(
                f"{name} has a {str(ratio)!r} column but no 'factor' column. The toolkit needs "
                "the CLR factor, the reciprocal of the common level ratio: factor = 100 / "
                "ratio in percent (a ratio of 26.2 % is the factor 3.82)."
            )
        return
    text = table[cols["factor"]].astype("string").str.strip().fillna("")
    percent_sign = text.str.endswith("%")
    value = pd.to_numeric(text.str.rstrip("%").str.strip(), errors="coerce")
    fraction = ~percent_sign & (value > 0) & (value < RATIO_FRACTION_BELOW)
    percent = percent_sign | (value > RATIO_PERCENT_ABOVE)
    bad = (fraction | percent).fillna(False).to_numpy(dtype=bool)
    if not bad.any():
        return
    i = int(bad.argmax())
    v = float(value.iloc[i])
    county = table[cols["county"]].iloc[i] if "county" in cols else f"row {i + 1}"
    if fraction.iloc[i]:
        kind, sum_ = "as a fraction", f"1 / {v:g} = {1 / v:.2f}"
    else:
        kind, sum_ = "in percent", f"100 / {v:g} = {100 / v:.2f}"
    more = int(bad.sum()) - 1
    also = f" ({more} more row{'s' if more != 1 else ''} like it)" if more else ""
    raise ConfigError(
        f"{name}: factor {text.iloc[i]!r} for county {county!r} looks like a common level "
        f"ratio {kind}, not a factor{also}. The factor is the ratio's reciprocal: {sum_}. "
        f"Factors from {RATIO_FRACTION_BELOW:g} to {RATIO_PERCENT_ABOVE:g} are accepted."
    )
