"""Properties as the workspace keeps them: parcel numbers, sale types, and the upsert.

Shared by every way properties come in (a CSV import, a parsed sale list).
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SALE_TYPES = ("upset", "judicial", "repository", "private", "sheriff")
AUCTION_STATUSES = ("active", "withdrawn", "postponed", "sold", "redeemed")


def normalise_parcel(parcel: object) -> str:
    """Parcel numbers compare without punctuation or case, as Regrid matches them.

    >>> normalise_parcel("01.02-03..-004.05-006")
    '01020300405006'
    """
    return re.sub(r"[^0-9A-Za-z]", "", str(parcel)).upper()


PARSE_DETAIL = ("raw_text", "parse_confidence", "parse_issues", "parse_extra")


def upsert_properties(con: Any, q: Any, frame: pd.DataFrame) -> int:
    """Upsert clean property rows by (county_id, parcel_norm); returns how many existed.

    Runs inside the caller's transaction. ``frame`` has the columns of
    ``properties_upsert`` (county_id, parcel_id, parcel_norm, control_number,
    address, municipality, owner, description, upset_price, sale_type,
    sale_date, auction_status, document_id, ts), unique on (county_id,
    parcel_norm), with None for missing values; a frame that also has the
    parser's columns (raw_text, parse_confidence, parse_issues, parse_extra)
    keeps them too. A value that is None leaves the stored one as it is.

    Examples
    --------
    >>> import toolkit, pandas as pd
    >>> from toolkit.backends.common import utcnow
    >>> store = toolkit.connect(":memory:").store
    >>> row = dict(county_id=13, parcel_id="01-2", parcel_norm="012", control_number=None,
    ...            address=None, municipality=None, owner="X", description=None,
    ...            upset_price=10.0, sale_type=None, sale_date=None, auction_status=None,
    ...            document_id=None, ts=utcnow())
    >>> store.run(lambda con: upsert_properties(con, store.q, pd.DataFrame([row])))
    0
    """
    if not len(frame):
        return 0
    query = (
        q.properties_upsert_parsed
        if all(c in frame.columns for c in PARSE_DETAIL)
        else q.properties_upsert
    )
    con.register("_incoming", frame)
    try:
        existing = len(con.execute(q.properties_existing).fetchall())
        con.execute(query)
        return existing
    finally:
        # after a failed statement the transaction is aborted and unregister fails
        # too; the first error is the one to see
        with contextlib.suppress(Exception):
            con.unregister("_incoming")
