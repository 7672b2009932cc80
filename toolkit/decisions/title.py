"""Title research: which known liens survive the sale, and redemption risk.

Consequence of each lien type by sale type (docs/decisions.md gives each rule's
source; DOMAIN.md "Pennsylvania tax sales"):

=============  =================================================================
upset          ``tax`` discharged; ``municipal``, ``water_sewer`` and
               ``pa_inheritance_tax`` discharged: the upset price includes
               municipal claims and Commonwealth tax liens (72 P.S. §5860.605),
               and the upset sale divests what it includes (§5860.304); every
               other type (mortgage, judgment, mechanics, ground_rent, other)
               survives.
judicial       discharged by the decree (§5860.612) only when the user marks
               notice as confirmed (``notice_confirmed``); else REVIEW naming
               notice (whether a mortgage was divested turned on service of
               notice in Mid Penn Bank v. Dauphin County Tax Claim Bureau, Pa.
               Cmwlth. 2023: the trial court left it on, the appeal found notice
               proper). ``ground_rent`` (separately taxed ground rents) survives
               (§5860.612-1 states the same for a county's purchase).
repository     free and clear (§5860.627(b)) except ``ground_rent``, which survives;
               a note says liens the bureau did not find and serve can remain.
private        ``tax`` discharged; everything else survives.
sheriff        every lien REVIEW (not covered by the notes).
every sale     ``irs_federal`` REVIEW: the United States may redeem within 120
               days of a non-judicial sale and keeps its lien without the 25-day
               notice (26 U.S.C. §7425(b), (d)).
=============  =================================================================

Redemption (``redemption_risk``, ``redemption_period``): a federal tax lien, 120
days (26 U.S.C. §7425(d)); a sheriff sale under a tax or municipal claim of a
property not known to be vacant, 9 months from the acknowledgment of the
sheriff's deed, 3 months in a city or county of the second class (Allegheny
County) (53 P.S. §7293(a)); vacant property has none (§7293(c)).

``status``: NEEDS_REVIEW when the sale type is unknown, a judicial sale's notice
is not confirmed, a lien needs review, a lien row is invalid (unknown type, bad
date or amount), a surviving lien has no amount, no title work is recorded for
the property, or a Philadelphia sale is not a sheriff sale; else SURVIVING_LIENS
when a lien survives; else CLEAR. Liens under review count as surviving in
``surviving_liens`` and ``surviving_total`` (the cautious reading).

Title work is recorded for a property when it has a lien row, its id is in
``searched``, or its ``title_searched`` column says yes. With no title work and
no liens known the status is NEEDS_REVIEW at confidence 0.2 and
``surviving_total`` is NaN ("no liens known" is not "no liens"). ``confidence``:
0.8 for CLEAR / SURVIVING_LIENS, 0.7 when a judicial decree is relied on to
discharge liens, 0.4 for NEEDS_REVIEW.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.decisions._common import (
    REASON_SEP,
    Joiner,
    bool_col,
    county_key,
    fmt_money,
    require_id,
    text_col,
)
from toolkit.decisions.profile import InvestorProfile
from toolkit.exceptions import UnknownChoiceError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

LIEN_TYPES: tuple[str, ...] = (
    "mortgage",
    "judgment",
    "municipal",
    "tax",
    "irs_federal",
    "pa_inheritance_tax",
    "mechanics",
    "ground_rent",
    "water_sewer",
    "other",
)
SALE_TYPES: tuple[str, ...] = ("upset", "judicial", "repository", "private", "sheriff")
LIEN_COLUMNS: tuple[str, ...] = ("property_id", "lien_type", "holder", "amount", "recorded_date")
CLEAR, SURVIVING, NEEDS_REVIEW = "CLEAR", "SURVIVING_LIENS", "NEEDS_REVIEW"
DISCHARGED, SURVIVES, REVIEW = "discharged", "survives", "review"
OUTPUT_COLUMNS = [
    "property_id",
    "status",
    "surviving_liens",
    "surviving_total",
    "redemption_risk",
    "redemption_period",
    "reasons",
    "confidence",
]


#: 26 U.S.C. §7425(d): the United States may redeem within 120 days of a non-judicial sale.
FEDERAL_REDEMPTION = "120 days from the sale (26 U.S.C. §7425(d))"
#: 53 P.S. §7293(a): nine months from the acknowledgment of the sheriff's deed; three
#: months in a city or county of the second class.
SHERIFF_REDEMPTION = "9 months from the sheriff's deed acknowledgment (53 P.S. §7293(a))"
SHERIFF_REDEMPTION_2ND = (
    "3 months from the sheriff's deed acknowledgment, county of the second class (53 P.S. §7293(a))"
)
#: Counties of the second class (53 P.S. §7293(a)'s shorter period): Allegheny.
SECOND_CLASS_COUNTIES = ("allegheny",)
FEDERAL_WHY = (
    "federal tax lien: the United States may redeem within 120 days of a non-judicial sale, "
    "and without 25 days' notice to the IRS its lien is not discharged (26 U.S.C. §7425(b), "
    "(d)): review"
)


def _consequences() -> dict[tuple[str, str], tuple[str, str]]:
    """(sale type, lien type) -> (consequence, why); sources in docs/decisions.md."""
    table: dict[tuple[str, str], tuple[str, str]] = {}
    for lien in LIEN_TYPES:
        table["upset", lien] = (
            SURVIVES,
            "survives an upset sale (only claims the upset price includes are "
            "divested, 72 P.S. §5860.304, .605)",
        )
        table["judicial", lien] = (
            DISCHARGED,
            "cleared by the judicial sale decree, notice confirmed (72 P.S. §5860.612)",
        )
        table["repository", lien] = (
            DISCHARGED,
            "repository sale: free and clear (72 P.S. §5860.627)",
        )
        table["private", lien] = (SURVIVES, "survives a private sale (it clears tax claims only)")
        table["sheriff", lien] = (
            REVIEW,
            "sheriff sale: lien consequences not in the notes, review",
        )
    table["upset", "tax"] = (DISCHARGED, "tax claim discharged by the upset sale")
    for lien, what in (
        ("municipal", "municipal claims"),
        ("water_sewer", "municipal claims"),
        ("pa_inheritance_tax", "Commonwealth tax liens"),
    ):
        table["upset", lien] = (
            DISCHARGED,
            f"the upset price includes {what} (72 P.S. §5860.605): divested by the sale "
            "(§5860.304); confirm it is in the upset price",
        )
    table["judicial", "ground_rent"] = (
        SURVIVES,
        "separately taxed ground rents survive a judicial sale (72 P.S. §5860.612)",
    )
    table["repository", "ground_rent"] = (
        SURVIVES,
        "separately taxed ground rents survive a repository sale (72 P.S. §5860.627)",
    )
    for sale in SALE_TYPES:
        table[sale, "irs_federal"] = (REVIEW, FEDERAL_WHY)
    table["private", "tax"] = (DISCHARGED, "tax claim discharged by the private sale")
    return table


CONSEQUENCES = _consequences()


def normalise_lien_type(values: pd.Series) -> pd.Series:
    """``' IRS Federal '`` -> ``'irs_federal'``; missing -> ``''``."""
    return (
        values.astype("string")
        .str.strip()
        .str.casefold()
        .str.replace(r"[\s\-]+", "_", regex=True)
        .fillna("")
    )


def _parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """ISO (YYYY-MM-DD) or US (MM/DD/YYYY) dates; returns (dates, bad mask)."""
    import pandas as pd

    text = values.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
    iso = pd.to_datetime(
        text.where(text.str.match(r"^\d{4}-\d{2}-\d{2}$"), None), format="%Y-%m-%d", errors="coerce"
    )
    us = pd.to_datetime(
        text.where(text.str.match(r"^\d{1,2}/\d{1,2}/\d{4}$"), None),
        format="%m/%d/%Y",
        errors="coerce",
    )
    dates = iso.fillna(us)
    bad = ~blank & dates.isna().to_numpy()
    return dates, bad


def _check_liens(liens: pd.DataFrame) -> pd.DataFrame:
    """Lien rows with normalised type, float amount, dates and a ``problem`` text."""
    import pandas as pd

    missing = [c for c in LIEN_COLUMNS if c not in liens.columns]
    if missing:
        raise ValidationError(
            f"The liens frame lacks column(s) {', '.join(missing)}; expected "
            f"{', '.join(LIEN_COLUMNS)}."
        )
    out = pd.DataFrame({"property_id": liens["property_id"].to_numpy()})
    out["row"] = np.arange(1, len(liens) + 1)
    out["lien_type"] = normalise_lien_type(liens["lien_type"]).to_numpy(dtype=object)
    out["holder"] = liens["holder"].astype("string").str.strip().fillna("").to_numpy(dtype=object)
    amount_text = liens["amount"].astype("string").str.strip().str.replace(r"[$,]", "", regex=True)
    amount = pd.to_numeric(amount_text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    amount_blank = (amount_text.isna() | (amount_text == "")).to_numpy(dtype=bool)
    bad_amount = (~amount_blank & np.isnan(amount)) | (amount < 0) | np.isinf(amount)
    out["amount"] = np.where(bad_amount | np.isinf(amount), np.nan, amount)
    dates, bad_date = _parse_dates(liens["recorded_date"])
    out["recorded_date"] = dates.to_numpy()
    unknown = ~out["lien_type"].isin(LIEN_TYPES).to_numpy()
    raw_type = liens["lien_type"].astype("string").fillna("").to_numpy(dtype=object)
    raw_amount = liens["amount"].astype("string").fillna("").to_numpy(dtype=object)
    raw_date = liens["recorded_date"].astype("string").fillna("").to_numpy(dtype=object)
    problems = Joiner(len(liens))
    row = out["row"].astype(str).to_numpy(dtype=object)
    problems.add(
        unknown,
        "lien row "
        + row
        + ": lien_type '"
        + raw_type
        + "' unknown (valid: "
        + ", ".join(LIEN_TYPES)
        + ")",
    )
    problems.add(bad_amount, "lien row " + row + ": amount '" + raw_amount + "' is not a sum >= 0")
    problems.add(bad_date, "lien row " + row + ": recorded_date '" + raw_date + "' is not a date")
    out["problem"] = problems.result()
    return out


def load_liens_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a liens CSV (``#`` lines are comments).

    Columns: ``property_id, lien_type, holder, amount, recorded_date`` (others
    are kept); without ``property_id`` (a file that names its properties by
    ``county, parcel_id``, as ``Workspace.import_liens`` reads them) the row
    number stands in. Raises :class:`~toolkit.exceptions.UnknownChoiceError` for an
    unknown lien type and :class:`~toolkit.exceptions.ValidationError` for a bad
    amount or date, naming the row (1 = first data row) and the value.

    Examples
    --------
    >>> liens = load_liens_csv("data/sample/liens.csv")  # doctest: +SKIP
    >>> sorted(liens.columns)[:3]  # doctest: +SKIP
    ['amount', 'county', 'holder']
    """
    import pandas as pd

    p = Path(path)
    try:
        raw = pd.read_csv(p, comment="#", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(f"Cannot read liens file {str(p)!r}: {exc}") from exc
    raw = raw.replace("", None)
    if "property_id" not in raw.columns:
        raw.insert(0, "property_id", [str(i) for i in range(1, len(raw) + 1)])
    checked = _check_liens(raw)
    unknown = ~checked["lien_type"].isin(LIEN_TYPES)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise UnknownChoiceError(
            f"lien type in row {i + 1} of {p.name}", raw["lien_type"].iloc[i], LIEN_TYPES
        )
    bad = checked["problem"] != ""
    if bad.any():
        first = checked.loc[bad, "problem"].head(5).tolist()
        raise ValidationError(f"Invalid liens file {p.name}: " + REASON_SEP.join(first) + ".")
    result = raw.copy()
    for col in ("lien_type", "holder", "amount", "recorded_date"):
        result[col] = checked[col].to_numpy()
    pid = pd.to_numeric(result["property_id"], errors="coerce")
    if pid.notna().all() and (pid == pid.round()).all():
        result["property_id"] = pid.astype("int64")
    return result


def assess_title(
    properties: pd.DataFrame,
    liens: pd.DataFrame | None,
    profile: InvestorProfile | None = None,
    searched: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """Apply sale-type consequences to the known liens of each property.

    Parameters
    ----------
    properties
        ``property_id, sale_type`` and optionally ``is_philadelphia``, ``county``,
        ``occupied`` / ``usps_vacancy`` (for redemption risk), ``title_searched``.
    liens
        ``property_id, lien_type, holder, amount, recorded_date``; bad rows are
        not raised here but make their property NEEDS_REVIEW with the reason.
    profile
        Accepted for symmetry with the other rules (no title thresholds yet).
    searched
        Property ids whose title was searched (none found counts as clear).

    Returns
    -------
    DataFrame with ``property_id, status, surviving_liens (list of dicts),
    surviving_total, redemption_risk, reasons, confidence``.

    Examples
    --------
    >>> import pandas as pd
    >>> props = pd.DataFrame({"property_id": [1], "sale_type": ["upset"]})
    >>> liens = pd.DataFrame({"property_id": [1, 1], "lien_type": ["mortgage", "tax"],
    ...     "holder": ["BANK", "COUNTY"], "amount": [40000, 900],
    ...     "recorded_date": ["2015-03-02", "2024-01-01"]})
    >>> r = assess_title(props, liens).iloc[0]
    >>> r["status"], float(r["surviving_total"])
    ('SURVIVING_LIENS', 40000.0)
    """
    import pandas as pd

    del profile  # no title thresholds yet; kept so every rule takes a profile
    require_id(properties)
    n = len(properties)
    pids = properties["property_id"].to_numpy()
    sale = text_col(properties, "sale_type")
    sale = np.array([s.casefold() for s in sale], dtype=object) if n else sale
    reasons = Joiner(n)
    review = np.zeros(n, dtype=bool)

    sale_ok = np.isin(sale, SALE_TYPES)
    reasons.add(sale == "", "sale_type missing: lien consequences unknown")
    reasons.add(
        ~sale_ok & (sale != ""),
        "sale_type '" + sale + "' unknown (valid: " + ", ".join(SALE_TYPES) + ")",
    )
    review |= ~sale_ok
    reasons.add(
        sale == "repository",
        "repository sale: free and clear except separately taxed ground rents (72 P.S. "
        "§5860.627); note: liens the bureau did not find and serve can remain",
    )
    notice = bool_col(properties, "notice_confirmed") == 1.0
    judicial_open = (sale == "judicial") & ~notice
    reasons.add(
        judicial_open,
        "judicial sale: notice not confirmed, so the decree may not clear liens (whether a "
        "mortgage survived turned on service of notice in Mid Penn Bank v. Dauphin County Tax "
        "Claim Bureau, Pa. Cmwlth. 2023); review notice and mark it confirmed",
    )
    review |= judicial_open

    # --- liens, one row each
    checked = _check_liens(liens if liens is not None else pd.DataFrame(columns=LIEN_COLUMNS))
    pos = pd.Series(np.arange(n), index=pd.Index(pids))
    pos = pos[~pos.index.duplicated()]
    checked["pos"] = checked["property_id"].map(pos)
    checked = checked[checked["pos"].notna()].copy()
    checked["pos"] = checked["pos"].astype(np.int64)
    lsale = sale[checked["pos"].to_numpy()] if len(checked) else np.array([], dtype=object)
    keys = list(zip(lsale, checked["lien_type"], strict=True))
    cons = [CONSEQUENCES.get(k, ("", "")) for k in keys]
    checked["consequence"] = [c[0] for c in cons]
    checked["why"] = [c[1] for c in cons]
    invalid = (checked["problem"] != "").to_numpy()
    checked.loc[invalid, "consequence"] = REVIEW
    if len(checked):
        lopen = judicial_open[checked["pos"].to_numpy()]
        unconfirmed = lopen & (checked["consequence"] == DISCHARGED).to_numpy()
        checked.loc[unconfirmed, "consequence"] = REVIEW
        checked.loc[unconfirmed, "why"] = (
            "judicial sale, notice not confirmed: the decree may not clear it, review"
        )
    federal_row = (checked["lien_type"] == "irs_federal").to_numpy() & ~invalid
    amount = checked["amount"].to_numpy(dtype=float)
    holder = checked["holder"].to_numpy(dtype=object)
    money = np.where(np.isnan(amount), "amount unknown", "$" + fmt_money(amount).astype(object))
    label = checked["lien_type"].to_numpy(dtype=object) + " (" + holder + ", " + money + ")"
    consequence = checked["consequence"].to_numpy(dtype=object)
    lien_reason = np.where(
        invalid,
        label + ": " + checked["problem"].to_numpy(dtype=object),
        np.where(
            consequence == "",
            label + ": sale type unknown",
            label + ": " + checked["why"].to_numpy(dtype=object),
        ),
    )
    keep = (consequence == SURVIVES) | (consequence == REVIEW)
    # the label already says "amount unknown"; the flag sends it to review
    unknown_amount = keep & np.isnan(amount) & ~invalid
    checked["lien_reason"] = lien_reason.astype(object)
    checked["keep"] = keep
    checked["flag"] = (consequence == REVIEW) | unknown_amount | invalid
    checked["kept_amount"] = np.where(keep, np.nan_to_num(amount), 0.0)
    checked["discharged_judicial"] = (consequence == DISCHARGED) & (
        lsale == "judicial" if len(checked) else np.zeros(0, dtype=bool)
    )

    by = checked.groupby("pos", sort=False)
    has_lien = np.zeros(n, dtype=bool)
    has_lien[checked["pos"].unique()] = True
    lien_text = np.full(n, "", dtype=object)
    flag = np.zeros(n, dtype=bool)
    survives = np.zeros(n, dtype=bool)
    total = np.zeros(n)
    judicial_relied = np.zeros(n, dtype=bool)
    lists: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    if len(checked):
        agg = by.agg(
            text=("lien_reason", REASON_SEP.join),
            flag=("flag", "any"),
            keep=("keep", "any"),
            total=("kept_amount", "sum"),
            judicial=("discharged_judicial", "any"),
        )
        idx = agg.index.to_numpy(dtype=np.int64)
        lien_text[idx] = agg["text"].to_numpy(dtype=object)
        flag[idx] = agg["flag"].to_numpy(dtype=bool)
        survives[idx] = agg["keep"].to_numpy(dtype=bool)
        total[idx] = agg["total"].to_numpy(dtype=float)
        judicial_relied[idx] = agg["judicial"].to_numpy(dtype=bool)
        kept = checked[checked["keep"].to_numpy()]
        for rec in kept.itertuples(index=False):  # few rows: the liens that survive
            date = rec.recorded_date
            lists[rec.pos].append(
                {
                    "lien_type": rec.lien_type,
                    "holder": rec.holder or None,
                    "amount": None if np.isnan(rec.amount) else float(rec.amount),
                    "recorded_date": None
                    if pd.isna(date)
                    else pd.Timestamp(date).date().isoformat(),
                    "consequence": rec.consequence,
                }
            )
    reasons.add(has_lien, lien_text)
    review |= flag

    # --- title work
    searched_set = set(searched or ())
    done = (
        has_lien
        | np.isin(pids, list(searched_set))
        | (bool_col(properties, "title_searched") == 1.0)
    )
    reasons.add(~done, "no title work recorded and no liens known: surviving liens unknown")
    reasons.add(done & ~has_lien & sale_ok, "title searched: no liens found")
    review |= ~done

    # --- redemption: federal tax liens (26 U.S.C. §7425(d)), sheriff sales (53 P.S. §7293)
    federal = np.zeros(n, dtype=bool)
    if len(checked):
        federal[checked["pos"].to_numpy()[federal_row]] = True
    phil = (bool_col(properties, "is_philadelphia") == 1.0) | (
        county_key(text_col(properties, "county")) == "philadelphia"
    )
    second = np.isin(county_key(text_col(properties, "county")), SECOND_CLASS_COUNTIES)
    occupied = bool_col(properties, "occupied")
    vacancy = bool_col(properties, "usps_vacancy")
    occupied = np.where(np.isnan(occupied), 1.0 - vacancy, occupied)
    sheriff = sale == "sheriff"
    sheriff_risk = sheriff & ~(occupied == 0.0)
    risk = sheriff_risk | federal
    where = np.where(phil, "Philadelphia sheriff sale", "sheriff sale").astype(object)
    months = np.where(second, "3 months", "9 months").astype(object)
    reasons.add(
        sheriff & (occupied == 1.0),
        where,
        " of an occupied property: redemption possible within ",
        months,
        " of the deed's acknowledgment (53 P.S. §7293(a))",
    )
    reasons.add(
        sheriff & np.isnan(occupied),
        where,
        ", occupancy unknown: redemption risk assumed (53 P.S. §7293(a))",
    )
    reasons.add(
        sheriff & (occupied == 0.0),
        where,
        " of a vacant property: no redemption (53 P.S. §7293(c)); confirm vacancy",
    )
    reasons.add(
        federal,
        "redemption risk: the United States may redeem within 120 days (26 U.S.C. §7425(d))",
    )
    period = np.where(
        federal,
        FEDERAL_REDEMPTION,
        np.where(sheriff_risk, np.where(second, SHERIFF_REDEMPTION_2ND, SHERIFF_REDEMPTION), ""),
    ).astype(object)
    both = federal & sheriff_risk
    if both.any():
        sheriff_text = np.where(second, SHERIFF_REDEMPTION_2ND, SHERIFF_REDEMPTION)
        period[both] = FEDERAL_REDEMPTION + "; " + sheriff_text[both].astype(object)
    review |= federal
    phil_other = phil & sale_ok & (sale != "sheriff")
    reasons.add(
        phil_other, "Philadelphia sale that is not a sheriff sale: redemption rules unverified"
    )
    review |= phil_other

    status = np.where(review, NEEDS_REVIEW, np.where(survives, SURVIVING, CLEAR)).astype(object)
    confidence = np.where(~done, 0.2, np.where(review, 0.4, np.where(judicial_relied, 0.7, 0.8)))
    return pd.DataFrame(
        {
            "property_id": pids,
            "status": status,
            "surviving_liens": lists,
            "surviving_total": np.where(done, total, np.nan),  # unknown, not 0, without title work
            "redemption_risk": risk,
            "redemption_period": period,
            "reasons": reasons.result(),
            "confidence": confidence,
        },
        columns=OUTPUT_COLUMNS,
    )
