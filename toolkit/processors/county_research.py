"""The ``county_research`` processor: a county's upcoming sales, links and notes.

County research is done by a person (on the county's web site, by phone) and
kept in a research file the user edits — YAML, one entry per county. The
processor reads that file headless; a county with no entry is *skipped* with
"needs research" (not a failure), so the job shows what is left to research.
The notebook form saves one county at a time with :func:`save_county_research`.

The file (``data/county_research.yaml`` by default; ``$TOOLKIT_COUNTY_RESEARCH``
or :meth:`Workspace.import_county_research` choose another)::

    counties:
      Blair:                      # a PA county name
        source: county web site   # default source of every entry below
        as_of: 2027-07-01         # default date the facts were checked
        notes:                    # a string, or a list of strings / {text, source, as_of}
          - text: Registration needs a notarized affidavit.
        links:                    # official pages: {url, title, source, as_of}
          - url: https://…
            title: Tax claim bureau
        sales:                    # upcoming sales
          - sale_type: upset      # upset | judicial | repository | private | sheriff
            sale_date: 2027-09-13
            registration_deadline: 2027-08-30
            deposit: …            # free text, as the county states it
            payment_terms: …
            bidder_certification: …
            location: …           # a room, or
            platform: …           # an online platform
            source: …
            as_of: …

Every fact carries a source and a date (its own or the county's). Errors in the
file name the line, the bad key and the valid keys, or the bad date.

What a result writes (inside the engine's checkpoint transaction): one
``county_research`` row (a research log: status 'done', notes, links as JSON,
source, researched_at = when it was stored) and the county's ``upcoming_sales``,
replaced (each sale's ``researched_at`` is the date its facts were checked).

:func:`import_research_file` (``ws.import_county_research``) validates a file
and returns a summary; it remembers the path for the workspace's jobs in this
process. With ``write=True`` it also stores every county in the file at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import config
from toolkit.counties import PA_COUNTIES
from toolkit.exceptions import (
    ConfigError,
    ItemSkipped,
    ProcessorError,
    UnknownCountyError,
    ValidationError,
)
from toolkit.parcels import SALE_TYPES

if TYPE_CHECKING:
    from toolkit.backends.base import Outcome, Store
    from toolkit.processors.context import ProcessorContext

ENV_RESEARCH = "TOOLKIT_COUNTY_RESEARCH"
DEFAULT_FILENAME = "county_research.yaml"
TOP_KEYS = ("counties",)
COUNTY_KEYS = ("source", "as_of", "notes", "links", "sales")
SALE_KEYS = (
    "sale_type",
    "sale_date",
    "registration_deadline",
    "deposit",
    "payment_terms",
    "bidder_certification",
    "location",
    "platform",
    "source",
    "as_of",
)
LINK_KEYS = ("url", "title", "source", "as_of")
NOTE_KEYS = ("text", "source", "as_of")
RESULT_KEYS = ("county_id", "status", "notes", "links", "source", "sales")
_TEXT_SALE_KEYS = ("deposit", "payment_terms", "bidder_certification", "location", "platform")

# paths given to import_research_file, per workspace file (this process only)
_imported: dict[str, Path] = {}
_imported_lock = threading.Lock()


# -- reading the file -----------------------------------------------------------


class _Map(dict):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    lines: dict[Any, int]


def _loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: Any, node: Any) -> _Map:
        out = _Map()
        out.line = node.start_mark.line + 1
        out.lines = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in out:
                raise ConfigError(
                    f"line {line}: key {key!r} appears twice in the same block "
                    f"(first on line {out.lines[key]}); keep one."
                )
            out[key] = loader.construct_object(value_node, deep=True)
            out.lines[key] = line
        return out

    def as_text(loader: Any, node: Any) -> str:
        # dates are checked (and their errors worded) here, not by PyYAML
        return str(loader.construct_scalar(node))

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", as_text)
    return Loader


@dataclass
class _Where:
    """Where in the file a value is, for messages."""

    file: str
    line: int | None = None

    def at(self, mapping: Any, key: Any = None) -> _Where:
        lines = getattr(mapping, "lines", {})
        line = lines.get(key) if key is not None else getattr(mapping, "line", None)
        return _Where(self.file, line or getattr(mapping, "line", None) or self.line)

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}" if self.line else self.file


def research_path(path: str | Path | None = None, key: str | None = None) -> Path:
    """The research file to read: ``path``, else the one imported for the workspace
    ``key`` in this process, else ``$TOOLKIT_COUNTY_RESEARCH``, else
    ``<data dir>/county_research.yaml``.

    Examples
    --------
    >>> research_path("my.yaml").name
    'my.yaml'
    """
    if path is not None:
        return Path(path).expanduser()
    if key is not None:
        with _imported_lock:
            if key in _imported:
                return _imported[key]
    env = os.environ.get(ENV_RESEARCH)
    if env:
        return Path(env).expanduser()
    return config.data_dir() / DEFAULT_FILENAME


def load_research_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read and validate a research file: ``{county name: research}`` (see the module doc).

    Raises :class:`~toolkit.exceptions.ConfigError` naming the line and the
    problem (YAML syntax, unknown key with the valid ones, bad date, unknown
    county, missing source or date).

    Examples
    --------
    >>> research = load_research_file("data/sample/county_research.yaml")
    >>> research["Blair"]["sales"][0]["sale_date"]
    datetime.date(2027, 9, 13)
    """
    import yaml

    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"County research file {str(file)!r} does not exist; create it (see "
            "data/sample/county_research.yaml for the layout) or give another path."
        )
    try:
        data = yaml.load(file.read_text("utf-8"), Loader=_loader())  # a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{file}, {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise ConfigError(f"{file}, {at}: not valid YAML: {detail}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not a UTF-8 text file ({exc.reason}).") from None
    where = _Where(str(file))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the file must be a mapping with a 'counties:' key.")
    _keys(data, TOP_KEYS, where, "the file")
    counties = data.get("counties") or {}
    if not isinstance(counties, dict):
        raise ConfigError(
            f"{where.at(data, 'counties')}: 'counties' must map county names to research."
        )
    out: dict[str, dict[str, Any]] = {}
    for name, entry in counties.items():
        w = where.at(counties, name)
        county = county_name(name, w)
        if county in out:
            raise ConfigError(f"{w}: {county} County is in the file twice; keep one entry.")
        out[county] = validate_research(entry, w, county)
    return out


def county_name(name: object, where: object = "county research") -> str:
    """The PA county a name means ("blair", "Blair County" → "Blair").

    >>> county_name("blair county")
    'Blair'
    """
    text = " ".join(str(name).split()).lower()
    text = text.removesuffix(" county").strip()
    for c in PA_COUNTIES:
        if c.lower() == text:
            return c
    raise ConfigError(f"{where}: {UnknownCountyError(name, PA_COUNTIES)}")


def _keys(mapping: dict[str, Any], valid: Sequence[str], where: _Where, what: str) -> None:
    for key in mapping:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{where.at(mapping, key)}: unknown key {key!r} in {what}.{hint} "
                f"Valid keys: {', '.join(valid)}."
            )


def _date(value: object, where: _Where, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"{where}: {what} {value!r} is not a date; write it as YYYY-MM-DD (e.g. 2027-09-13)."
        ) from None


def _text(value: object, where: _Where, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise ConfigError(f"{where}: {what} must be text, not a {type(value).__name__}.")
    text = str(value).strip()
    return text or None


def validate_research(
    entry: object, where: object = "county research", county: str = "the county"
) -> dict[str, Any]:
    """One county's research (a YAML entry or a dict) checked and normalised.

    Returns ``{source, as_of, notes: [{text, source, as_of}], links: [{url,
    title, source, as_of}], sales: [{sale_type, sale_date, …, source, as_of}]}``
    with every source and date filled in from the county's own.

    Examples
    --------
    >>> r = validate_research({"source": "call to the bureau", "as_of": "2027-07-01",
    ...                        "sales": [{"sale_type": "Upset", "sale_date": "2027-09-13"}]})
    >>> r["sales"][0]["sale_type"], r["sales"][0]["source"]
    ('upset', 'call to the bureau')
    """
    w = where if isinstance(where, _Where) else _Where(str(where))
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        raise ConfigError(
            f"{w}: the research for {county} must be a mapping with keys {', '.join(COUNTY_KEYS)}."
        )
    _keys(entry, COUNTY_KEYS, w, f"{county}'s research")
    source = _text(entry.get("source"), w.at(entry, "source"), "source")
    as_of = _date(entry.get("as_of"), w.at(entry, "as_of"), "as_of")

    def stamp(item: dict[str, Any], iw: _Where, what: str) -> tuple[str, dt.date]:
        s = _text(item.get("source"), iw.at(item, "source"), "source") or source
        d = _date(item.get("as_of"), iw.at(item, "as_of"), "as_of") or as_of
        if s is None:
            raise ConfigError(f"{iw}: {what} has no source; give 'source:' here or for {county}.")
        if d is None:
            raise ConfigError(
                f"{iw}: {what} has no date; give 'as_of: YYYY-MM-DD' here or for {county}."
            )
        return s, d

    notes_in = entry.get("notes")
    if isinstance(notes_in, str):
        notes_in = [notes_in]
    if notes_in is not None and not isinstance(notes_in, list):
        raise ConfigError(f"{w.at(entry, 'notes')}: notes must be text or a list.")
    notes = []
    for i, note in enumerate(notes_in or [], start=1):
        nw = w.at(entry, "notes")
        if isinstance(note, dict):
            nw = nw.at(note)
            _keys(note, NOTE_KEYS, nw, f"note {i} of {county}")
            text = _text(note.get("text"), nw, "a note's text")
            s, d = stamp(note, nw, f"note {i} of {county}")
        else:
            text = _text(note, nw, "a note")
            s, d = stamp({}, nw, f"note {i} of {county}")
        if text:
            notes.append({"text": text, "source": s, "as_of": d})

    links_in = entry.get("links") or []
    if not isinstance(links_in, list):
        raise ConfigError(f"{w.at(entry, 'links')}: links must be a list of {{url, title}}.")
    links = []
    for i, link in enumerate(links_in, start=1):
        lw = w.at(entry, "links")
        if isinstance(link, str):
            link = {"url": link}
        if not isinstance(link, dict):
            raise ConfigError(f"{lw}: link {i} of {county} must be a URL or {{url, title}}.")
        lw = lw.at(link)
        _keys(link, LINK_KEYS, lw, f"link {i} of {county}")
        url = _text(link.get("url"), lw, "url")
        if not url or not url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"{lw}: link {i} of {county} has url {url!r}; give an http(s) URL.")
        s, d = stamp(link, lw, f"link {i} of {county}")
        links.append(
            {"url": url, "title": _text(link.get("title"), lw, "title"), "source": s, "as_of": d}
        )

    sales_in = entry.get("sales") or []
    if not isinstance(sales_in, list):
        raise ConfigError(f"{w.at(entry, 'sales')}: sales must be a list.")
    sales = []
    for i, sale in enumerate(sales_in, start=1):
        sw = w.at(entry, "sales")
        if not isinstance(sale, dict):
            raise ConfigError(
                f"{sw}: sale {i} of {county} must be a mapping of {', '.join(SALE_KEYS)}."
            )
        sw = sw.at(sale)
        _keys(sale, SALE_KEYS, sw, f"sale {i} of {county}")
        kind = _text(sale.get("sale_type"), sw.at(sale, "sale_type"), "sale_type")
        kind = (kind or "").lower().removesuffix(" sale").strip()
        if kind not in SALE_TYPES:
            raise ConfigError(
                f"{sw.at(sale, 'sale_type')}: sale {i} of {county} has sale_type "
                f"{sale.get('sale_type')!r}; valid: {', '.join(SALE_TYPES)}."
            )
        row: dict[str, Any] = {"sale_type": kind}
        for key in ("sale_date", "registration_deadline"):
            row[key] = _date(sale.get(key), sw.at(sale, key), key)
        for key in _TEXT_SALE_KEYS:
            row[key] = _text(sale.get(key), sw.at(sale, key), key)
        if (
            row["sale_date"]
            and row["registration_deadline"]
            and (row["registration_deadline"] > row["sale_date"])
        ):
            raise ConfigError(
                f"{sw.at(sale, 'registration_deadline')}: sale {i} of {county}: registration "
                f"deadline {row['registration_deadline']} is after the sale date "
                f"{row['sale_date']}."
            )
        row["source"], row["as_of"] = stamp(sale, sw, f"sale {i} of {county}")
        sales.append(row)
    return {"source": source, "as_of": as_of, "notes": notes, "links": links, "sales": sales}


def summarise(research: dict[str, dict[str, Any]], path: Path) -> dict[str, Any]:
    return {
        "path": str(path),
        "counties": len(research),
        "sales": sum(len(r["sales"]) for r in research.values()),
        "links": sum(len(r["links"]) for r in research.values()),
        "county_names": sorted(research),
    }


# -- results ------------------------------------------------------------------------


def result_for(county_id: int, research: dict[str, Any]) -> dict[str, Any]:
    """The result dict (what :func:`write_results` stores) of one county's validated research."""
    notes = "\n".join(f"{n['text']} [{n['source']}, {n['as_of']}]" for n in research["notes"])
    sources = [research["source"]] + [s["source"] for s in research["sales"]]
    source = research["source"] or next((s for s in sources if s), None)
    return {
        "county_id": int(county_id),
        "status": "done",
        "notes": notes or None,
        "links": [dict(link) for link in research["links"]],
        "source": source,
        "sales": [dict(s) for s in research["sales"]],
    }


def make_processor(
    ctx: ProcessorContext | None = None, *, path: str | Path | None = None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The processor the session runner calls with one county item.

    The research file (see :func:`research_path`) is read and validated once,
    here, so a malformed file stops the session before any item. A missing
    default file means nothing is researched yet: every county is skipped.

    Examples
    --------
    >>> proc = make_processor(path="data/sample/county_research.yaml")
    >>> proc({"item_id": "13", "county": "Blair", "county_id": 13})["sales"][0]["sale_type"]
    'upset'
    """
    key = ctx.key if ctx is not None else None
    explicit = path is not None or os.environ.get(ENV_RESEARCH) or key in _imported
    file = research_path(path, key)
    if not file.is_file() and not explicit:
        research: dict[str, dict[str, Any]] = {}
        missing = f" (no research file at {file})"
    else:
        research = load_research_file(file)
        missing = f" ({file} has no entry for it)"

    def proc(item: dict[str, Any]) -> dict[str, Any]:
        county = str(item.get("county"))
        entry = research.get(county)
        if entry is None:
            raise ItemSkipped(f"needs research: {county} County{missing}")
        if not (entry["notes"] or entry["links"] or entry["sales"]):
            # a name without findings is a reminder, not research
            raise ItemSkipped(f"needs research: {county} County's entry in {file} is empty")
        return result_for(int(item["county_id"]), entry)

    return proc


def _bad(why: str) -> ProcessorError:
    return ProcessorError(f"The county_research processor returned an invalid result: {why}.")


def validate_result(result: object) -> dict[str, Any]:
    """Check a processor's result; returns a clean copy or raises ProcessorError.

    Examples
    --------
    >>> validate_result({"county_id": 13, "status": "done", "sales": []})["links"]
    []
    """
    if not isinstance(result, dict):
        raise _bad(f"the result is {type(result).__name__}, not a dict")
    unknown = sorted(set(result) - set(RESULT_KEYS))
    if unknown:
        raise _bad(f"unknown key(s) {', '.join(unknown)}; valid: {', '.join(RESULT_KEYS)}")
    cid = result.get("county_id")
    if (
        isinstance(cid, bool)
        or not isinstance(cid, int)
        or cid not in range(1, 2 * len(PA_COUNTIES))
    ):
        raise _bad(f"county_id {cid!r} is not a county id")
    links = result.get("links") or []
    sales = result.get("sales") or []
    if not isinstance(links, list) or not isinstance(sales, list):
        raise _bad("links and sales must be lists")
    clean_sales = []
    for i, sale in enumerate(sales, start=1):
        if not isinstance(sale, dict):
            raise _bad(f"sale {i} is {type(sale).__name__}, not a dict")
        try:
            extra = {"as_of", "source"}
            _keys(sale, SALE_KEYS, _Where("result"), f"sale {i}")
            row = {k: sale.get(k) for k in SALE_KEYS if k not in extra}
            if row["sale_type"] not in SALE_TYPES:
                raise ConfigError(f"sale {i} has sale_type {row['sale_type']!r}")
            for key in ("sale_date", "registration_deadline"):
                row[key] = _date(row[key], _Where("result"), key)
            row["source"] = sale.get("source")
            row["as_of"] = _date(sale.get("as_of"), _Where("result"), "as_of")
        except ConfigError as exc:
            raise _bad(str(exc)) from None
        clean_sales.append(row)
    return {
        "county_id": cid,
        "status": str(result.get("status") or "done"),
        "notes": result.get("notes"),
        "links": links,
        "source": result.get("source"),
        "sales": clean_sales,
    }


def write_results(
    con: Any, q: Any, job_id: str | None, outcomes: Sequence[Outcome], now: dt.datetime
) -> None:
    """Store research in the caller's transaction: a log row; the county's sales replaced."""
    import pandas as pd

    county_ids: list[int] = []
    sales: list[dict[str, Any]] = []
    for o in outcomes:
        res = o.result or {}
        cid = int(res["county_id"])
        county_ids.append(cid)
        con.execute(
            q.county_research_insert,
            [
                cid,
                job_id,
                res.get("status") or "done",
                res.get("notes"),
                json.dumps(res.get("links") or [], default=str),
                res.get("source"),
                now,
            ],
        )
        for s in res.get("sales") or []:
            checked = s.get("as_of")
            sales.append(
                {
                    "county_id": cid,
                    **{k: s.get(k) for k in SALE_KEYS if k not in ("as_of",)},
                    "researched_at": dt.datetime.combine(checked, dt.time()) if checked else now,
                }
            )
    con.execute(q.upcoming_sales_clear, [county_ids])
    if sales:
        cols = ["county_id", *[k for k in SALE_KEYS if k != "as_of"], "researched_at"]
        frame = pd.DataFrame(sales, columns=cols)
        frame = frame.astype(object).where(frame.notna(), None)
        con.register("_upcoming_sales", frame)
        try:
            con.execute(q.upcoming_sales_insert)
        finally:
            con.unregister("_upcoming_sales")


# -- the workspace's entry points ------------------------------------------------------


def import_research_file(
    store: Store, path: str | Path | None = None, *, write: bool = False
) -> dict[str, Any]:
    """Validate a research file and use it for this workspace's county_research jobs.

    Returns ``{path, counties, sales, links, county_names}``. The path is
    remembered for the workspace's database in this process (other processes use
    ``$TOOLKIT_COUNTY_RESEARCH`` or the default). ``write=True`` also stores the
    research of every county in the file now, in one transaction.

    Examples
    --------
    >>> import toolkit
    >>> ws = toolkit.connect(":memory:")
    >>> import_research_file(ws.store, "data/sample/county_research.yaml")["counties"]
    4
    """
    from toolkit.backends.base import Outcome
    from toolkit.backends.common import utcnow
    from toolkit.processors.context import store_key

    key = store_key(store)
    file = research_path(path, None if path is not None else key)
    research = load_research_file(file)
    with _imported_lock:
        _imported[key] = file.resolve()
    if write and research:

        def go(con: Any) -> None:
            outcomes = []
            for name, r in research.items():
                cid = county_id(store, con, name)
                outcomes.append(Outcome(0, str(cid), "done", None, result_for(cid, r)))
            write_results(con, store.q, None, outcomes, utcnow())

        store.run(go)
    return summarise(research, file)


def forget_imported(store: Store) -> None:
    """Stop using the file given to :func:`import_research_file` for this workspace."""
    from toolkit.processors.context import store_key

    with _imported_lock:
        _imported.pop(store_key(store), None)


def county_id(store: Store, con: Any, county: object) -> int:
    """One county's id (research belongs to one county)."""
    cid = store.engine.resolve_county(con, county)
    if cid is None:
        raise ValidationError(f"Research belongs to one county; got {county!r}.")
    return int(cid)


def checked_research(
    store: Store, county: object, research: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Validate one county's research (the keys of a file entry): (county id, result row).

    Raises :class:`~toolkit.exceptions.ConfigError` naming the bad key or value, and
    :class:`~toolkit.exceptions.ValidationError` for an unknown county.
    """
    cid = store.run(lambda con: county_id(store, con, county), tx=False)
    name = PA_COUNTIES[(cid - 1) // 2] if 1 <= cid < 2 * len(PA_COUNTIES) else str(county)
    clean = validate_research(research, f"research for {name}", name)
    return cid, validate_result(result_for(cid, clean))


def store_research(store: Store, county_id: int, result: dict[str, Any]) -> None:
    """Store one county's checked research outside any job, in one transaction."""
    from toolkit.backends.base import Outcome
    from toolkit.backends.common import utcnow

    outcome = Outcome(0, str(county_id), "done", None, result)
    store.run(lambda con: write_results(con, store.q, None, [outcome], utcnow()))
