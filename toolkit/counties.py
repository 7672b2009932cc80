"""Pennsylvania's 67 counties and their FIPS codes (state 42).

Source: U.S. Census Bureau FIPS county codes for Pennsylvania (42001 Adams …
42133 York; odd numbers in alphabetical order). ``id`` is the three-digit county
code as an integer, so ``SELECT id FROM counties WHERE county_name = 'Blair'`` is 13.
"""

from __future__ import annotations

PA_COUNTIES: tuple[str, ...] = (
    "Adams",
    "Allegheny",
    "Armstrong",
    "Beaver",
    "Bedford",
    "Berks",
    "Blair",
    "Bradford",
    "Bucks",
    "Butler",
    "Cambria",
    "Cameron",
    "Carbon",
    "Centre",
    "Chester",
    "Clarion",
    "Clearfield",
    "Clinton",
    "Columbia",
    "Crawford",
    "Cumberland",
    "Dauphin",
    "Delaware",
    "Elk",
    "Erie",
    "Fayette",
    "Forest",
    "Franklin",
    "Fulton",
    "Greene",
    "Huntingdon",
    "Indiana",
    "Jefferson",
    "Juniata",
    "Lackawanna",
    "Lancaster",
    "Lawrence",
    "Lebanon",
    "Lehigh",
    "Luzerne",
    "Lycoming",
    "McKean",
    "Mercer",
    "Mifflin",
    "Monroe",
    "Montgomery",
    "Montour",
    "Northampton",
    "Northumberland",
    "Perry",
    "Philadelphia",
    "Pike",
    "Potter",
    "Schuylkill",
    "Snyder",
    "Somerset",
    "Sullivan",
    "Susquehanna",
    "Tioga",
    "Union",
    "Venango",
    "Warren",
    "Washington",
    "Wayne",
    "Westmoreland",
    "Wyoming",
    "York",
)


def seed_rows() -> list[tuple[int, str, str, str, str]]:
    """(id, county_name, state, fips, regrid_path) for every PA county."""
    rows = []
    for i, name in enumerate(PA_COUNTIES):
        code = 2 * i + 1
        slug = name.lower().replace(" ", "-")
        rows.append((code, name, "PA", f"42{code:03d}", f"/us/pa/{slug}"))
    return rows
