"""The text helpers behind every reason and breakdown: joined per row in order, money
written to the cent, odd values named rather than dropped.

A property test holds the vectorised :class:`Joiner` to a plain per-row join.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.decisions._common import Fmt, Joiner, fmt, fmt_money


def test_joiner_keeps_each_rows_pieces_in_the_order_added() -> None:
    j = Joiner(4, sep="; ")
    j.add(np.array([True, False, True, False]), "first")
    j.add(np.array([False, False, True, True]), "value ", np.array(["a", "b", "c", "d"]))
    j.add(
        np.array([True, False, True, True]), "$", Fmt(np.array([1.5, 2.0, 3.0, 4.25]), money=True)
    )
    assert j.result().tolist() == [
        "first; $1.50",
        "",
        "first; value c; $3",
        "value d; $4.25",
    ]


def test_joiner_takes_percent_signs_and_empty_pieces_as_text() -> None:
    j = Joiner(2, sep=", ")
    j.add(np.array([True, True]), "10% of ", np.array(["50%s", "%d"], dtype=object), " 100%")
    j.add(np.array([True, False]), "")  # an empty piece still counts: the next gets a separator
    j.add(np.array([True, False]), "end")
    assert j.result().tolist() == ["10% of 50%s 100%, , end", "10% of %d 100%"]


def test_joiner_with_nothing_added_is_all_empty() -> None:
    out = Joiner(3).result()
    assert out.dtype == object and out.tolist() == ["", "", ""]
    assert Joiner(0).result().tolist() == []


def test_money_text_names_values_it_cannot_write_as_dollars() -> None:
    values = np.array([0.0, 3.0, 1234.5, -5.5, -0.001, 0.25, 1e14, np.inf, -np.inf, np.nan])
    assert fmt_money(values).tolist() == [
        "0",
        "3",
        "1234.50",
        "-5.50",
        "0",  # rounds to no cents: no minus sign on zero
        "0.25",
        "100000000000000.0",
        "inf",
        "-inf",
        "nan",
    ]


def test_decimal_text_writes_repeated_values_alike() -> None:
    values = np.array([1.23456, np.nan, 1.23456, 2.0, -0.5, np.inf])
    assert fmt(values, 4).tolist() == ["1.2346", "nan", "1.2346", "2.0", "-0.5", "inf"]
    assert fmt(np.array([]), 4).tolist() == []


pieces = st.lists(
    st.tuples(
        st.lists(st.booleans(), min_size=6, max_size=6),
        st.text(alphabet="ab%; $", max_size=4),
        st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=6, max_size=6),
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(pieces)
def test_joiner_matches_a_plain_per_row_join(adds: list) -> None:
    j = Joiner(6, sep="; ")
    expected: list[list[str]] = [[] for _ in range(6)]
    for mask, text, numbers in adds:
        values = np.array(numbers, dtype=float)
        j.add(np.array(mask), text, Fmt(values, money=True))
        for i, on in enumerate(mask):
            if on:
                expected[i].append(text + str(fmt_money(values[i : i + 1])[0]))
    assert j.result().tolist() == ["; ".join(p) for p in expected]
    assert all(isinstance(t, str) for t in j.result())
