"""Registering sale-list documents (a local PDF, or a URL downloaded first).

A document is a file the toolkit keeps track of by its SHA-256: adding the same
bytes twice gives the same id. ``property_list`` documents are what the
``pdf_parsing`` job reads (see :mod:`toolkit.processors.pdf_parsing`).

What is checked when, and why:

* at ``add_document``: the county, the document type, the sale type and date,
  that a local path is a file, and that a URL answers with a PDF. A URL that
  answers 404 or an HTML page leaves nothing behind (no row, no file). A
  download is streamed to disk within limits -- size, total time, redirects,
  public addresses only (:mod:`toolkit.sources.download`).
* at parse time (the job): whether a local file is a readable PDF. A local file
  is accepted as it is so that a damaged download still gets a document id and
  a failed item that says what is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from toolkit.backends.base import Outcome
from toolkit.backends.common import utcnow
from toolkit.exceptions import (
    DocumentError,
    UnknownChoiceError,
    ValidationError,
)
from toolkit.parcels import SALE_TYPES

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.backends.base import Store
    from toolkit.sources.http import HttpClient

#: Kinds of county documents a workspace keeps. Only ``property_list`` is parsed
#: into properties; the others are kept for the record (research, due diligence).
DOCUMENT_TYPES: tuple[str, ...] = (
    "property_list",
    "sale_notice",
    "terms_of_sale",
    "bidder_registration",
    "sale_results",
    "other",
)
URL_SCHEMES = ("http", "https")


def documents_dir(store: Store) -> Path:
    """Where downloaded documents go: ``documents/`` beside the workspace file.

    An in-memory or server (Postgres) workspace uses ``<data dir>/documents``
    (``$TOOLKIT_DATA``, else ``data/``).

    Examples
    --------
    >>> import toolkit, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> documents_dir(toolkit.connect(str(folder / "ws.duckdb")).store) == folder / "documents"
    True
    """
    from toolkit.processors.context import data_dir_of

    return data_dir_of(store) / "documents"


def normalise_document_type(document_type: object) -> str:
    """``"Property list"`` → ``"property_list"``; an unknown type lists the known ones.

    >>> normalise_document_type("Property List")
    'property_list'
    """
    key = re.sub(r"[\s-]+", "_", str(document_type).strip().lower())
    if key not in DOCUMENT_TYPES:
        raise UnknownChoiceError("document type", document_type, DOCUMENT_TYPES)
    return key


def normalise_sale_type(sale_type: object) -> str | None:
    """A sale type from :data:`toolkit.parcels.SALE_TYPES` (any case), or None.

    >>> normalise_sale_type("Upset")
    'upset'
    """
    if sale_type is None:
        return None
    key = str(sale_type).strip().lower()
    key = re.sub(r"\s*sale$", "", key)
    if key not in SALE_TYPES:
        raise UnknownChoiceError("sale type", sale_type, SALE_TYPES)
    return key


def parse_date_value(value: object, what: str = "sale date") -> dt.date | None:
    """A date from a ``date``, a ``datetime`` or an ISO ``YYYY-MM-DD`` string (None stays None).

    >>> parse_date_value("2027-09-13")
    datetime.date(2027, 9, 13)
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(
        f"{what.capitalize()} {value!r} is not a date; give a date or 'YYYY-MM-DD' "
        "(for example '2027-09-13')."
    )


def _is_url(text: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text))


def add_document(
    store: Store,
    path_or_url: str | Path,
    county: object,
    *,
    document_type: str = "property_list",
    sale_type: str | None = None,
    sale_date: str | dt.date | None = None,
    client: HttpClient | None = None,
    allow_private: bool | None = None,
    max_bytes: int | None = None,
    deadline: float | None = None,
) -> str:
    """Register a document for a county and return its id (see :meth:`Workspace.add_document`).

    Parameters
    ----------
    path_or_url
        A local file, or an ``http(s)://`` URL that is downloaded into
        :func:`documents_dir` first.
    county
        The county the document belongs to (name, id or FIPS).
    document_type
        One of :data:`DOCUMENT_TYPES`; ``property_list`` documents are parsed by
        the ``pdf_parsing`` job.
    sale_type, sale_date
        What the document lists, when known; otherwise read from the document.
    client
        An :class:`~toolkit.sources.http.HttpClient` whose rate limit, attempts
        and backoff the download uses; default: 3 attempts.
    allow_private, max_bytes, deadline
        Download limits (:func:`toolkit.sources.download.download`): fetch from
        a private / loopback host (default ``$TOOLKIT_ALLOW_PRIVATE_URLS``; only
        the URL's own host, never a redirect to another one), the size cap
        (default ``$TOOLKIT_MAX_DOWNLOAD_MB``, 200 MB) and the total seconds
        (default ``$TOOLKIT_DOWNLOAD_DEADLINE``, 120). The answer is streamed
        to disk, never held in memory; redirects are followed one by one, at
        most 5.

    Returns
    -------
    str
        The document's id; the id already stored when the same file (same
        SHA-256) was added before for the same county.

    Raises
    ------
    ValidationError
        No such file, a bad county / type / sale type / date, or the same file
        added before for another county.
    NotFoundError, DocumentError, SourceError
        The URL answered 404, an HTML page or something that is not a PDF, or
        could not be reached.
    BlockedURLError, DownloadError
        The URL or a redirect leads to a non-public address or another scheme;
        the answer is too large, too slow, or redirects too often.

    Examples
    --------
    >>> import toolkit, tempfile, pathlib
    >>> ws = toolkit.connect(str(pathlib.Path(tempfile.mkdtemp()) / "ws.duckdb"))
    >>> doc = ws.add_document("data/sample/pdfs/blair_upset_ruled.pdf", "Blair")
    >>> ws.add_document("data/sample/pdfs/blair_upset_ruled.pdf", "Blair") == doc
    True
    """
    from toolkit.pdf import sha256_file

    kind = normalise_document_type(document_type)
    stype = normalise_sale_type(sale_type)
    sdate = parse_date_value(sale_date)
    county_id = store.run(lambda con: store.engine.resolve_county(con, county), tx=False)
    if county_id is None:
        raise ValidationError(
            f"A document belongs to one county; got {county!r}. Give the county's name, "
            "e.g. county='Blair'."
        )
    text = str(path_or_url).strip()
    created: Path | None = None  # a file this call downloaded (removed if the call fails)
    url: str | None = None
    if _is_url(text):
        scheme = urlsplit(text).scheme.lower()
        if scheme not in URL_SCHEMES:
            raise UnknownChoiceError("URL scheme", scheme, URL_SCHEMES)
        url = text
        limits = {"allow_private": allow_private, "max_bytes": max_bytes, "deadline": deadline}
        file, created = _download(store, url, client, limits)
    else:
        file = Path(text).expanduser()
        if not file.is_file():
            why = "is a folder, not a file" if file.is_dir() else "does not exist"
            raise ValidationError(f"Document {text!r} {why}; give the path of the PDF file.")
        file = file.resolve()
    try:
        digest = sha256_file(file)

        def register(con: Any) -> tuple[str, bool]:
            row = con.execute(store.q.document_by_sha, [digest]).fetchall()
            if row:
                doc_id, old_county = row[0][0], row[0][1]
                if old_county != county_id:
                    names = dict(con.execute(store.q.county_lookup).fetchall())
                    raise ValidationError(
                        f"This file was added already as document {doc_id} for "
                        f"{names.get(old_county, old_county)} County, not "
                        f"{names.get(county_id, county_id)}. A file belongs to one county."
                    )
                return doc_id, False
            doc_id = str(uuid.uuid4())
            con.execute(
                store.q.document_insert,
                [doc_id, county_id, kind, str(file), url, digest, stype, sdate, utcnow()],
            )
            return doc_id, True

        doc_id, new = store.run(register)
    except BaseException:
        if created is not None:
            created.unlink(missing_ok=True)
        raise
    if not new and created is not None:
        # same bytes as a stored document: keep the file that document points at
        stored = store.query("document_path", [doc_id]).path[0]
        if stored is None or Path(stored) != created:
            created.unlink(missing_ok=True)
    return doc_id


def _download(
    store: Store, url: str, client: HttpClient | None, limits: dict[str, Any]
) -> tuple[Path, Path | None]:
    """Fetch ``url`` into the documents folder; returns (file, file if newly created).

    The answer is streamed to a temporary file there (bounded in size, time and
    redirects, public addresses only: :func:`toolkit.sources.download.download`)
    and renamed by its SHA-256; a file already there with those bytes is kept.
    """
    from toolkit.sources.download import download

    folder = documents_dir(store)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"Cannot create the documents folder {str(folder)!r}: {exc}") from exc
    got = download(url, folder, check=_pdf_check(url), client=client, **limits)
    name = Path(unquote(urlsplit(url).path)).name or "document.pdf"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-80:]
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    final = folder / f"{got.sha256[:16]}-{name}"
    if final.is_file():
        got.path.unlink(missing_ok=True)
        return final, None
    try:
        got.path.replace(final)  # atomic: a reader never sees half a file
    except OSError as exc:
        got.path.unlink(missing_ok=True)
        raise ValidationError(f"Cannot save the download into {str(folder)!r}: {exc}") from exc
    return final, final


def _pdf_check(url: str) -> Any:
    """``check(content_type, first bytes)`` refusing an HTML page or anything not a PDF."""
    from toolkit.sources.http import redact

    shown = redact(url)

    def check(ctype: str, head: bytes) -> None:
        start = head.lstrip().lower()
        if ctype in ("text/html", "application/xhtml+xml") or start.startswith(
            (b"<!doctype", b"<html")
        ):
            raise DocumentError(
                f"{shown} answered with an HTML page, not a PDF — open it in a browser, find the "
                "link to the PDF itself, and add that."
            )
        if b"%PDF-" not in head[:1024]:
            raise DocumentError(
                f"{shown} did not send a PDF (content type {ctype or 'unknown'!r}, starts with "
                f"{head[:16]!r}); nothing was added."
            )

    return check


def documents(store: Store) -> pd.DataFrame:
    """Every document with its parse status and, for failed parses, the last error.

    A document whose parse failed keeps ``parse_status`` 'pending' (so the next
    ``pdf_parsing`` job tries again); ``last_error`` is the failed item's reason.

    Examples
    --------
    >>> import toolkit
    >>> list(documents(toolkit.connect(":memory:")).columns)[:3]
    ['document_id', 'county', 'document_type']
    """
    return store.query("documents_overview")


def parse_document(store: Store, document_id: str, **options: Any) -> dict[str, Any]:
    """Parse one document now, outside a job, and store the result (one transaction).

    For re-parsing a document after a parser fix: properties are updated (never
    duplicated) and its parsing errors replaced. Returns a summary
    ``{document_id, layout, page_count, rows_parsed, rows_failed}``. Options go
    to :func:`toolkit.processors.pdf_parsing.make_processor` (``ocr_pages``,
    ``password``). Parse failures raise :class:`~toolkit.exceptions.DocumentError`.

    Examples
    --------
    >>> import toolkit, tempfile, pathlib
    >>> ws = toolkit.connect(str(pathlib.Path(tempfile.mkdtemp()) / "ws.duckdb"))
    >>> doc = ws.add_document("data/sample/pdfs/somerset_upset_ruled.pdf", "Somerset")
    >>> parse_document(ws.store, doc)["rows_failed"]
    2
    """
    from toolkit.processors import pdf_parsing
    from toolkit.processors.context import ProcessorContext, data_dir_of

    def context(con: Any) -> dict[str, Any]:
        cur = con.execute(store.q.document_context, [str(document_id)])
        rows = cur.fetchall()
        if not rows:
            raise ValidationError(f"No document with id {document_id!r}.")
        return dict(zip([d[0] for d in cur.description], rows[0], strict=True))

    try:
        item = store.run(context, tx=False)
    except ValidationError:
        raise
    except Exception as exc:  # a malformed id is a DuckDB conversion error
        raise ValidationError(f"No document with id {document_id!r}.") from exc
    ctx = ProcessorContext(store, data_dir_of(store))
    result = pdf_parsing.validate_result(pdf_parsing.make_processor(ctx, **options)(item))
    outcome = Outcome(0, item["item_id"], "done", None, result)
    store.run(lambda con: pdf_parsing.write_results(con, store.q, None, [outcome], utcnow()))
    return {
        "document_id": item["item_id"],
        "layout": result["layout"],
        "page_count": result["page_count"],
        "rows_parsed": len(result["rows"]),
        "rows_failed": len(result["errors"]),
    }
