"""The properties upsert every way in shares (a CSV import, a parsed sale list)."""

from __future__ import annotations

import pandas as pd

from toolkit.backends.common import utcnow
from toolkit.parcels import upsert_properties

BACKENDS = ("duckdb", "postgres")


def _row(parcel: str, status: str | None) -> dict:
    return dict(
        county_id=13,
        parcel_id=parcel,
        parcel_norm=parcel.replace("-", ""),
        control_number=None,
        address=None,
        municipality=None,
        owner="SYNTHETIC",
        description=None,
        upset_price=100.0,
        sale_type=None,
        sale_date=None,
        auction_status=status,
        document_id=None,
        ts=utcnow(),
    )


def test_a_parcel_listed_again_without_a_status_keeps_the_one_it_has(ws):
    store = ws.store
    frame = pd.DataFrame([_row("01-001", None), _row("01-002", None)])
    store.run(lambda con: upsert_properties(con, store.q, frame))
    ws.sql("UPDATE properties SET auction_status = 'withdrawn' WHERE parcel_id = '01-001'")
    again = pd.DataFrame([_row("01-001", None), _row("01-002", "sold")])
    assert store.run(lambda con: upsert_properties(con, store.q, again)) == 2
    got = dict(ws.sql("SELECT parcel_id, auction_status FROM properties ORDER BY 1").values)
    # withdrawn stays withdrawn (a republished list that still prints it says nothing new);
    # a status the list states wins
    assert got == {"01-001": "withdrawn", "01-002": "sold"}
    new = pd.DataFrame([_row("01-003", None)])
    store.run(lambda con: upsert_properties(con, store.q, new))
    assert (
        ws.sql("SELECT auction_status FROM properties WHERE parcel_id = '01-003'").iloc[0, 0]
        == "active"
    )
