"""Reports over a workspace: the data audit and progress frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.backends.base import Store


def data_audit(store: Store) -> dict[str, pd.DataFrame]:
    """The guide's "Run data audit".

    Returns ``gaps`` (active properties missing parcel data, an address or an
    amount, per county) and ``stages`` (properties per pipeline stage and county).
    """
    return {"gaps": store.query("audit_gaps"), "stages": store.query("audit_stages")}
