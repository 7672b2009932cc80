"""Small column helpers shared by the decision rules (vectorised and row-wise).

Both implementations of each rule format numbers through the helpers here so
that their reason strings agree character for character.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
from numpy.dtypes import StringDType

if TYPE_CHECKING:
    import pandas as pd

P = ParamSpec("P")
R = TypeVar("R")

#: numpy's variable-width string dtype: string ufuncs run in C, unlike object arrays
STR = StringDType()

REASON_SEP = "; "
LIST_SEP = ", "

_TRUE = {"Y", "YES", "TRUE", "T", "1", "V", "VACANT"}
_FALSE = {"N", "NO", "FALSE", "F", "0", "OCCUPIED"}


# --- vectorised ------------------------------------------------------------


def require_id(frame: pd.DataFrame) -> None:
    """Every rule keys its output on ``property_id``; refuse a frame without it."""
    from toolkit.exceptions import ValidationError

    if "property_id" not in frame.columns:
        raise ValidationError(
            "The parcel frame lacks column 'property_id'; columns present: "
            f"{', '.join(map(str, frame.columns))}."
        )


class NumCol:
    """A numeric input column: values (NaN when unusable) and why it is unusable."""

    __slots__ = ("bad", "missing", "name", "raw", "values")

    def __init__(self, frame: pd.DataFrame, name: str) -> None:
        import pandas as pd

        self.name = name
        n = len(frame)
        if name not in frame.columns:
            self.raw = np.full(n, None, dtype=object)
            self.values = np.full(n, np.nan)
            self.missing = np.ones(n, dtype=bool)
            self.bad = np.zeros(n, dtype=bool)
            return
        col = frame[name]
        self.raw = col.to_numpy(dtype=object)
        if col.dtype.kind in "fiu":
            vals = col.to_numpy(dtype=float, na_value=np.nan)
            self.missing = np.isnan(vals)
            self.bad = np.zeros(n, dtype=bool)
        else:
            vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            blank = col.isna().to_numpy(dtype=bool).copy()  # may be a read-only view
            # only cells that did not parse can be blank strings: check just those
            cand = np.flatnonzero(~blank & np.isnan(vals))
            if len(cand):
                blank[cand] = [isinstance(v, str) and v.strip() == "" for v in self.raw[cand]]
            self.missing = blank
            self.bad = ~blank & np.isnan(vals)
        inf = np.isinf(vals)
        self.bad |= inf
        vals = np.where(inf, np.nan, vals)
        self.values = vals

    @property
    def known(self) -> np.ndarray:
        return ~np.isnan(self.values)


def _uniques_map(col: pd.Series, fn: Callable[[str], Any], missing: Any) -> np.ndarray:
    """Apply ``fn`` to the text of each distinct value once, then spread by code."""
    import pandas as pd

    if pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        # all str: distinct values are distinct texts, so factorizing is exact
        codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
        table = np.array([fn(str(u)) for u in uniques] + [missing], dtype=object)
        return table[codes]
    # mixed types: 1, 1.0 and True hash alike, so convert every cell
    s = col.astype("string")
    out = np.full(len(col), missing, dtype=object)
    known = s.notna().to_numpy(dtype=bool)
    out[known] = [fn(v) for v in s[known].tolist()]
    return out


def text_col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Stripped text of a column as an object array, ``""`` where missing."""
    n = len(frame)
    if name not in frame.columns:
        return np.full(n, "", dtype=object)
    return _uniques_map(frame[name], str.strip, "")


def mapped_col(
    frame: pd.DataFrame, name: str, fn: Callable[[str], Any], missing: Any
) -> np.ndarray:
    """``fn`` of each cell's stripped text (``missing`` where absent), once per distinct value.

    ``fn`` sees ``""`` for a blank cell, as :func:`text_scalar` gives it row by row.
    """
    n = len(frame)
    if name not in frame.columns:
        return np.full(n, fn(""), dtype=object)
    return _uniques_map(frame[name], lambda t: fn(t.strip()), fn(""))


def _yes_no(text: str) -> float:
    t = text.strip().upper()
    return 1.0 if t in _TRUE else 0.0 if t in _FALSE else math.nan


def bool_col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Yes/no column as floats: 1.0 yes, 0.0 no, NaN unknown or not understood."""
    n = len(frame)
    if name not in frame.columns:
        return np.full(n, np.nan)
    col = frame[name]
    if col.dtype == bool:
        return col.to_numpy(dtype=float)
    return _uniques_map(col, _yes_no, math.nan).astype(float)


def fmt(values: np.ndarray, decimals: int = 0) -> np.ndarray:
    """Numbers as short text (numpy StringDType): whole numbers for ``decimals=0``."""
    rounded = np.round(np.asarray(values, dtype=float), decimals)
    if decimals == 0:
        # int64 cast only where it cannot overflow; huge values keep float text
        small = np.isfinite(rounded) & (np.abs(rounded) < 1e15)
        out = np.where(small, rounded, 0).astype(np.int64).astype(STR)
        if not small.all():
            out[~small] = rounded[~small].astype(STR)
        return out
    # a few distinct values (CLR factors, rates): each is written once
    uniq, inverse = np.unique(rounded, return_inverse=True)
    return uniq.astype(STR)[inverse.reshape(-1)]


def raw_text(raw: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Quoted text of the raw cells under ``mask`` (``""`` elsewhere), to name bad values.

    Only the (few) bad cells are formatted, so this stays off the hot path.
    """
    out = np.full(len(raw), "", dtype=object)
    idx = np.flatnonzero(mask)
    if len(idx):
        out[idx] = [raw_scalar(v) for v in raw[idx]]
    return out


def raw_scalar(value: Any) -> str:
    return repr(str(value))


class Fmt:
    """A number column formatted lazily: only the rows a reason is added to."""

    __slots__ = ("decimals", "money", "values")

    def __init__(self, values: np.ndarray, decimals: int = 0, money: bool = False) -> None:
        self.values, self.decimals, self.money = values, decimals, money

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        v = np.asarray(self.values, dtype=float)[idx]
        return fmt_money(v) if self.money else fmt(v, self.decimals)


class Raw:
    """Raw cells quoted lazily (for naming bad values)."""

    __slots__ = ("raw",)

    def __init__(self, raw: np.ndarray) -> None:
        self.raw = raw

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        return np.array([raw_scalar(v) for v in self.raw[idx]], dtype=object)


class Joiner:
    """Accumulate optional text pieces per row and join them with a separator.

    ``add(mask, *parts)``: each part is a str, a full-length array, or a lazy
    part (:class:`Fmt`, :class:`Raw`) evaluated only on the masked rows, so
    building reasons costs in proportion to the rows that get one.

    Each ``add`` formats its rows' pieces with one ``%`` template (plain Python
    strings: faster here than numpy string arrays, measured in
    ``benchmarks/bench_decisions.py``); :meth:`result` joins them per row in the
    order they were added.
    """

    def __init__(self, n: int, sep: str = REASON_SEP) -> None:
        self.n, self.sep = n, sep
        self.parts: list[tuple[np.ndarray, str | list[str]]] = []

    def add(self, mask: np.ndarray, *parts: Any) -> None:
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        texts: list[str] = []
        columns: list[list[Any]] = []
        for part in parts:
            if isinstance(part, str):
                texts.append(part.replace("%", "%%"))
            else:
                values = part(idx) if callable(part) else np.asarray(part)[idx]
                columns.append(values.tolist())
                texts.append("%s")
        template = "".join(texts)
        pieces: str | list[str] = (
            [template % row for row in zip(*columns, strict=True)] if columns else template % ()
        )
        self.parts.append((idx, pieces))

    def result(self) -> np.ndarray:
        out = np.full(self.n, "", dtype=object)
        if not self.parts:
            return out
        rows = np.concatenate([idx for idx, _ in self.parts])
        texts = np.empty(len(rows), dtype=object)
        at = 0
        for idx, pieces in self.parts:
            texts[at : at + len(idx)] = pieces
            at += len(idx)
        order = np.argsort(rows, kind="stable")  # by row, each row's pieces in order added
        rows, flat = rows[order], texts[order].tolist()
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        join = self.sep.join
        out[rows[starts]] = [
            join(flat[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        return out


# --- row-wise ---------------------------------------------------------------


def num_scalar(row: dict[str, Any], name: str) -> tuple[float, bool, bool, Any]:
    """(value or NaN, missing, bad, raw) for one cell, as :class:`NumCol` decides."""
    raw = row.get(name)
    if raw is None or _isna(raw):
        return math.nan, True, False, raw
    if isinstance(raw, str):
        if raw.strip() == "":
            return math.nan, True, False, raw
        try:
            value = float(raw)
        except ValueError:
            return math.nan, False, True, raw
    elif isinstance(raw, bool | np.bool_):
        value = float(raw)
    else:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return math.nan, False, True, raw
    if math.isnan(value):
        return math.nan, False, True, raw
    if math.isinf(value):
        return math.nan, False, True, raw
    return value, False, False, raw


def text_scalar(row: dict[str, Any], name: str) -> str:
    raw = row.get(name)
    if raw is None or _isna(raw):
        return ""
    return str(raw).strip()


def bool_scalar(row: dict[str, Any], name: str) -> float:
    t = text_scalar(row, name).upper()
    if t in _TRUE:
        return 1.0
    if t in _FALSE:
        return 0.0
    return math.nan


def fmt_scalar(value: float, decimals: int = 0) -> str:
    return str(fmt(np.array([value]), decimals)[0])


def _isna(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_points(values: np.ndarray) -> np.ndarray:
    """Signed short numbers (``+1``, ``-2``, ``-1.5``), formatting each distinct value once."""
    vals = np.where(np.isnan(values), 0.0, values)
    uniq, inverse = np.unique(vals, return_inverse=True)
    text = np.array([f"{u:+g}" for u in uniq] or [""], dtype=object)
    return text[inverse.reshape(-1)] if len(vals) else np.array([], dtype=object)


def county_key_scalar(value: str) -> str:
    """Row-wise twin of :func:`county_key`."""
    return _COUNTY_SUFFIX.sub("", value.strip().casefold())


_COUNTY_SUFFIX = re.compile(r"\s+county$")


def county_key(values: np.ndarray) -> np.ndarray:
    """County names folded for lookups: ``' Blair County '`` -> ``'blair'``.

    ``values`` are str (as :func:`text_col` gives); each distinct name is folded once.
    """
    import pandas as pd

    values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([county_key_scalar(str(u)) for u in uniques] + [""], dtype=object)
    return table[codes]


def quiet_numpy(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with numpy float warnings off: overflow gives inf, as plain Python does.

    Absurd inputs (a subnormal aspect ratio, a 1e308 value) must not turn into
    RuntimeWarnings; the rules already treat inf and NaN as unusable.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper


def fmt_money(values: np.ndarray) -> np.ndarray:
    """Dollar amounts without the ``$``: ``1234`` or ``1234.50`` (cents only when any).

    An object array of str. Cents are rounded with numpy; the text is made with
    ``%`` in plain Python, about twice as fast here as numpy's string dtype.
    """
    v = np.asarray(values, dtype=float).reshape(-1)
    ok = np.isfinite(v) & (np.abs(v) < 1e13)
    cents = np.round(np.where(ok, np.abs(v), 0.0) * 100).astype(np.int64)
    whole, frac = np.divmod(cents, 100)
    # %-formatting: measured faster than f-strings for this (15 ms vs 21 ms / 60k values)
    texts = [
        "%d.%02d" % (w, f) if f else "%d" % w  # noqa: UP031
        for w, f in zip(whole.tolist(), frac.tolist(), strict=True)
    ]
    for i in np.flatnonzero((v < 0) & (cents > 0)).tolist():
        texts[i] = "-" + texts[i]
    for i in np.flatnonzero(~ok).tolist():
        texts[i] = str(v[i])
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def fmt_money_scalar(value: float) -> str:
    return str(fmt_money(np.array([value]))[0])


def join_flags(flags: list[tuple[np.ndarray, str]], n: int, sep: str = LIST_SEP) -> np.ndarray:
    """Join constant names per row where their mask is set, e.g. ``"arv, title"``.

    The masks are packed into one integer code per row and each distinct code
    is spelled once, so dense masks cost integer arithmetic, not string work.
    """
    if not flags:
        return np.full(n, "", dtype=object)
    if len(flags) > 62:
        raise ValueError("join_flags packs at most 62 flags")
    code = np.zeros(n, dtype=np.int64)
    for bit, (mask, _) in enumerate(flags):
        code |= np.asarray(mask, dtype=np.int64) << bit
    uniq, inverse = np.unique(code, return_inverse=True)
    names = [name for _, name in flags]
    spelled = np.array(
        [sep.join(names[b] for b in range(len(names)) if (int(u) >> b) & 1) for u in uniq] or [""],
        dtype=object,
    )
    return spelled[inverse.reshape(-1)] if n else np.array([], dtype=object)
