"""Title research: sale-type consequences, redemption risk, lien validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from toolkit.decisions.title import LIEN_TYPES, assess_title, load_liens_csv
from toolkit.exceptions import UnknownChoiceError, ValidationError

ROOT = Path(__file__).resolve().parents[2]


def lien(lien_type: str, amount: Any, pid: int = 1, **kw: Any) -> dict[str, Any]:
    return {
        "property_id": pid,
        "lien_type": lien_type,
        "holder": kw.get("holder", "H"),
        "amount": amount,
        "recorded_date": kw.get("date", "2015-06-01"),
    }


def one(sale_type: str, liens: list[dict[str, Any]], **prop: Any) -> pd.Series:
    props = pd.DataFrame([{"property_id": 1, "sale_type": sale_type, **prop}])
    frame = pd.DataFrame(
        liens, columns=["property_id", "lien_type", "holder", "amount", "recorded_date"]
    )
    return assess_title(props, frame).iloc[0]


def test_upset_discharges_tax_only() -> None:
    # mortgage 40,000 + judgment 2,500 survive; the 900 tax claim is discharged
    r = one("upset", [lien("mortgage", 40000), lien("tax", 900), lien("judgment", 2500)])
    assert r["status"] == "SURVIVING_LIENS"
    assert r["surviving_total"] == 42500.0
    assert [x["lien_type"] for x in r["surviving_liens"]] == ["mortgage", "judgment"]
    assert r["surviving_liens"][0] == {
        "lien_type": "mortgage",
        "holder": "H",
        "amount": 40000.0,
        "recorded_date": "2015-06-01",
        "consequence": "survives",
    }
    assert "tax (H, $900): tax claim discharged by the upset sale" in r["reasons"]
    assert r["confidence"] == 0.8
    assert not r["redemption_risk"]


@pytest.mark.parametrize("kind", ["municipal", "pa_inheritance_tax", "water_sewer"])
def test_upset_divests_claims_the_upset_price_includes(kind: str) -> None:
    # issue 12: §5860.605 puts them in the upset price, so the sale divests them
    r = one("upset", [lien(kind, 300)])
    assert r["status"] == "CLEAR"
    assert r["surviving_total"] == 0.0
    assert "§5860.605" in r["reasons"] and "divested" in r["reasons"]


def test_judicial_clears_mortgages_and_liens_when_notice_confirmed() -> None:
    liens = [
        lien("mortgage", 50000),
        lien("judgment", 2000),
        lien("tax", 800),
        lien("municipal", 400),
        lien("mechanics", 3000),
    ]
    r = one("judicial", liens, notice_confirmed=True)
    assert r["status"] == "CLEAR"
    assert r["surviving_total"] == 0.0
    assert r["surviving_liens"] == []
    assert "notice confirmed" in r["reasons"]
    assert r["confidence"] == 0.7  # relies on the decree


def test_judicial_without_confirmed_notice_is_review_naming_notice() -> None:
    r = one("judicial", [lien("mortgage", 50000)])
    assert r["status"] == "NEEDS_REVIEW"
    assert r["surviving_total"] == 50000.0  # the mortgage may stay on (Mid Penn Bank, 2023)
    assert "notice not confirmed" in r["reasons"] and "Mid Penn Bank" in r["reasons"]
    r = one("judicial", [], title_searched="Y")
    assert r["status"] == "NEEDS_REVIEW" and "notice" in r["reasons"]


def test_judicial_keeps_ground_rent_and_flags_federal() -> None:
    r = one(
        "judicial", [lien("mortgage", 50000), lien("ground_rent", 1200)], notice_confirmed="yes"
    )
    assert (r["status"], r["surviving_total"]) == ("SURVIVING_LIENS", 1200.0)
    assert "separately taxed ground rents survive" in r["reasons"]
    r = one("judicial", [lien("irs_federal", 7000)], notice_confirmed=True)
    assert (r["status"], r["surviving_total"]) == ("NEEDS_REVIEW", 7000.0)
    assert "§7425" in r["reasons"]


def test_repository_is_free_and_clear_except_ground_rent() -> None:
    r = one("repository", [lien("mortgage", 1000), lien("judgment", 500), lien("municipal", 80)])
    assert (r["status"], r["surviving_total"]) == ("CLEAR", 0.0)
    assert "§5860.627" in r["reasons"]
    assert "did not find and serve can remain" in r["reasons"]  # a note, not a review
    r = one("repository", [lien("mortgage", 1000), lien("ground_rent", 600)])
    assert (r["status"], r["surviving_total"]) == ("SURVIVING_LIENS", 600.0)
    props = pd.DataFrame({"property_id": [1], "sale_type": ["repository"]})
    assert assess_title(props, None, searched=[1]).iloc[0]["status"] == "CLEAR"


@pytest.mark.parametrize("sale", ["upset", "judicial", "repository", "private", "sheriff"])
def test_federal_tax_lien_is_redemption_risk_and_review_at_every_sale(sale: str) -> None:
    r = one(sale, [lien("irs_federal", 7000)], notice_confirmed=True, usps_vacancy="Y")
    assert r["status"] == "NEEDS_REVIEW"
    assert bool(r["redemption_risk"])
    assert r["redemption_period"] == "120 days from the sale (26 U.S.C. §7425(d))"
    assert "§7425(d)" in r["reasons"]


def test_private_sale_clears_tax_claims_only() -> None:
    # municipal 400 and mortgage 9,000 survive; tax 700 discharged
    r = one("private", [lien("tax", 700), lien("municipal", 400), lien("mortgage", 9000)])
    assert (r["status"], r["surviving_total"]) == ("SURVIVING_LIENS", 9400.0)


@pytest.mark.parametrize(
    ("occupancy", "risk"),
    [
        ({"usps_vacancy": "N"}, True),
        ({"occupied": "yes"}, True),
        ({}, True),
        ({"usps_vacancy": "Y"}, False),
        ({"occupied": False}, False),
    ],
)
def test_philadelphia_sheriff_redemption_risk(occupancy: dict[str, Any], risk: bool) -> None:
    r = one("sheriff", [], is_philadelphia=True, title_searched="Y", **occupancy)
    assert bool(r["redemption_risk"]) is risk
    assert "53 P.S. §7293" in r["reasons"]


def test_philadelphia_by_county_name_and_sheriff_sales_elsewhere() -> None:
    r = one("sheriff", [], county="Philadelphia County", usps_vacancy="N")
    assert r["redemption_risk"] and r["redemption_period"].startswith("9 months")
    # §7293(a) is not Philadelphia's alone: 9 months elsewhere, 3 in a second-class county
    r = one("sheriff", [], county="Blair", usps_vacancy="N")
    assert r["redemption_risk"] and r["redemption_period"].startswith("9 months")
    r = one("sheriff", [], county="Allegheny", usps_vacancy="N")
    assert r["redemption_risk"] and r["redemption_period"].startswith("3 months")
    r = one("sheriff", [], county="Blair", usps_vacancy="Y")
    assert not r["redemption_risk"] and r["redemption_period"] == ""
    assert not one("upset", [], county="Blair", title_searched="Y")["redemption_risk"]
    r = one("judicial", [], is_philadelphia=True, title_searched="Y")
    assert r["status"] == "NEEDS_REVIEW"
    assert "redemption rules unverified" in r["reasons"]


def test_sheriff_lien_consequences_are_review() -> None:
    assert one("sheriff", [lien("mortgage", 100)])["status"] == "NEEDS_REVIEW"


def test_no_title_work_is_said_and_lowers_confidence() -> None:
    r = one("upset", [])
    assert r["status"] == "NEEDS_REVIEW"
    assert r["confidence"] == 0.2
    assert np.isnan(r["surviving_total"])  # unknown, not zero
    assert r["reasons"] == "no title work recorded and no liens known: surviving liens unknown"
    props = pd.DataFrame(
        {"property_id": [1, 2], "sale_type": ["upset", "upset"], "title_searched": [None, "yes"]}
    )
    out = assess_title(props, None, searched=[1])
    assert out["status"].tolist() == ["CLEAR", "CLEAR"]
    assert out["confidence"].tolist() == [0.8, 0.8]
    assert out.loc[0, "reasons"] == "title searched: no liens found"


@pytest.mark.parametrize(
    ("sale", "text"),
    [(None, "sale_type missing"), ("tax deed", "sale_type 'tax deed' unknown (valid: upset")],
)
def test_unknown_sale_type(sale: str | None, text: str) -> None:
    r = one(sale, [lien("mortgage", 1)])  # type: ignore[arg-type]
    assert r["status"] == "NEEDS_REVIEW"
    assert text in r["reasons"]


def test_bad_lien_rows_make_the_property_review() -> None:
    r = one("upset", [lien("morgage", 100)])
    assert r["status"] == "NEEDS_REVIEW"
    assert "lien row 1: lien_type 'morgage' unknown (valid: mortgage, judgment" in r["reasons"]
    r = one("upset", [lien("tax", 100, date="31/31/2020")])
    assert r["status"] == "NEEDS_REVIEW"
    assert "recorded_date '31/31/2020' is not a date" in r["reasons"]
    r = one("upset", [lien("tax", -5)])
    assert "amount '-5' is not a sum >= 0" in r["reasons"]
    assert r["status"] == "NEEDS_REVIEW"


def test_surviving_lien_without_amount_needs_review() -> None:
    r = one("upset", [lien("mortgage", None), lien("judgment", 1000)])
    assert r["status"] == "NEEDS_REVIEW"
    assert r["surviving_total"] == 1000.0  # the known part only
    assert r["surviving_liens"][0]["amount"] is None
    assert "mortgage (H, amount unknown)" in r["reasons"]


def test_lien_types_are_normalised_and_other_properties_ignored() -> None:
    props = pd.DataFrame({"property_id": [1], "sale_type": ["upset"]})
    liens = pd.DataFrame([lien(" IRS Federal ", 10), lien("mortgage", 99, pid=2)])
    r = assess_title(props, liens).iloc[0]
    assert r["surviving_liens"][0]["lien_type"] == "irs_federal"
    assert r["surviving_total"] == 10.0


def test_liens_frame_needs_its_columns() -> None:
    props = pd.DataFrame({"property_id": [1], "sale_type": ["upset"]})
    with pytest.raises(ValidationError, match=r"lacks column.*amount"):
        assess_title(
            props,
            pd.DataFrame(
                {
                    "property_id": [1],
                    "lien_type": ["tax"],
                    "holder": ["x"],
                    "recorded_date": ["2020-01-01"],
                }
            ),
        )


# --- CSV loader -----------------------------------------------------------------


def write(tmp_path: Path, body: str) -> Path:
    f = tmp_path / "liens.csv"
    f.write_text(
        "# synthetic test file\nproperty_id,lien_type,holder,amount,recorded_date\n" + body
    )
    return f


def test_loader_parses_money_and_dates(tmp_path: Path) -> None:
    f = write(tmp_path, '1,Mortgage,BANK,"$1,234.50",03/15/2011\n2,tax,COUNTY,,2020-02-29\n')
    out = load_liens_csv(f)
    assert out["lien_type"].tolist() == ["mortgage", "tax"]
    assert out["amount"].iloc[0] == 1234.5 and pd.isna(out["amount"].iloc[1])
    assert out["recorded_date"].dt.strftime("%Y-%m-%d").tolist() == ["2011-03-15", "2020-02-29"]
    assert out["property_id"].tolist() == [1, 2]


def test_loader_refuses_unknown_lien_type(tmp_path: Path) -> None:
    f = write(tmp_path, "1,tax,COUNTY,5,2020-01-01\n2,morgage,BANK,5,2020-01-01\n")
    with pytest.raises(UnknownChoiceError) as info:
        load_liens_csv(f)
    msg = str(info.value)
    assert "row 2" in msg and "'morgage'" in msg and "Did you mean 'mortgage'?" in msg
    for kind in LIEN_TYPES:
        assert kind in msg


def test_loader_refuses_bad_date_and_amount(tmp_path: Path) -> None:
    f = write(tmp_path, "1,tax,COUNTY,5,2020-13-01\n")
    with pytest.raises(ValidationError, match=r"row 1: recorded_date '2020-13-01' is not a date"):
        load_liens_csv(f)
    f = write(tmp_path, "1,tax,COUNTY,lots,2020-01-01\n")
    with pytest.raises(ValidationError, match=r"amount 'lots' is not a sum >= 0"):
        load_liens_csv(f)


def test_loader_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Cannot read liens file"):
        load_liens_csv(tmp_path / "absent.csv")
    f = tmp_path / "cols.csv"
    f.write_text("property_id,lien_type\n1,tax\n")
    with pytest.raises(ValidationError, match="lacks column"):
        load_liens_csv(f)


def test_sample_liens_file() -> None:
    liens = load_liens_csv(ROOT / "data" / "sample" / "liens.csv")
    assert "SYNTHETIC" in (ROOT / "data" / "sample" / "liens.csv").read_text().splitlines()[0]
    props = pd.read_csv(ROOT / "data" / "sample" / "properties.csv", comment="#")
    props.insert(0, "property_id", range(1, len(props) + 1))
    # the sample repeats county + parcel_id so the row-number ids can be checked
    joined = liens.merge(props, on="property_id", suffixes=("", "_p"))
    assert (joined["parcel_id"] == joined["parcel_id_p"]).all()
    out = assess_title(props, liens)
    with_liens = out[out["property_id"].isin(liens["property_id"])]
    assert (with_liens["confidence"] > 0.2).all()
    assert set(out["status"]) <= {"CLEAR", "SURVIVING_LIENS", "NEEDS_REVIEW"}


def test_empty_properties() -> None:
    out = assess_title(pd.DataFrame({"property_id": [], "sale_type": []}), None)
    assert len(out) == 0 and list(out.columns)[:3] == [
        "property_id",
        "status",
        "surviving_liens",
    ]
