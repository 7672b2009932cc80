"""Reports over a workspace: the data audit and progress frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace


def data_audit(ws: Workspace) -> dict[str, pd.DataFrame]:
    """The guide's "Run data audit".

    Returns ``gaps`` (active properties missing parcel data, an address or an
    amount, per county) and ``stages`` (properties per pipeline stage and county).
    """
    q = ws.q
    return {"gaps": ws.sql(q.audit_gaps), "stages": ws.sql(q.audit_stages)}
