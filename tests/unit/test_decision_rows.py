"""Decision results → result rows: batch order, NULLs for missing values, plain Python values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.processors.decisions import _rows


def test_rows_follow_the_batch_and_turn_every_missing_value_into_none():
    out = pd.DataFrame(
        {
            "property_id": ["a", "b", "c"],
            "f": [1.0, np.nan, 2.0],
            "nullable_int": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "nullable_float": pd.array([1.5, None, 2], dtype="Float64"),
            "text": ["s", None, np.nan],
            "n": np.array([1, 2, 3], dtype=np.int64),
        }
    )
    rows = _rows(out, pd.Series(["c", "a", "missing", "b"]), {c: c for c in out.columns[1:]})
    assert rows == [
        {"f": 2.0, "nullable_int": 3, "flag": True, "nullable_float": 2.0, "text": None, "n": 3},
        {"f": 1.0, "nullable_int": 1, "flag": True, "nullable_float": 1.5, "text": "s", "n": 1},
        dict.fromkeys(["f", "nullable_int", "flag", "nullable_float", "text", "n"]),
        {
            "f": None,
            "nullable_int": None,
            "flag": False,
            "nullable_float": None,
            "text": None,
            "n": 2,
        },
    ]
    plain = {int, float, bool, str, type(None)}
    assert all(type(v) in plain for r in rows for v in r.values())


def test_rows_rename_rule_columns_to_table_columns():
    out = pd.DataFrame({"property_id": ["a"], "value_source": ["regrid"], "unused": [1]})
    assert _rows(out, pd.Series(["a"]), {"value_source": "market_value_source"}) == [
        {"market_value_source": "regrid"}
    ]
