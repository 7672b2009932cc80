"""Outside services and local layers that answer questions about a property.

Submodules are imported on demand (they pull in httpx / shapely):

- :mod:`toolkit.sources.http` -- the one HTTP client every outside service
  goes through (retries, rate limit, concurrency, disk cache, token redaction);
- :mod:`toolkit.sources.regrid` -- Regrid parcel data from the API or from
  bulk files the user bought, both returning one normalised record.
"""

from __future__ import annotations
