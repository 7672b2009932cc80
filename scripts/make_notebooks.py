"""Generate notebooks/*.ipynb from this file, so they stay thin and alike.

    python scripts/make_notebooks.py          # (re)write notebooks/
    python scripts/make_notebooks.py --check  # exit 1 if notebooks/ differs from this file

Each job notebook is a page: what the job type does and needs, one cell tagged
``parameters`` (papermill), a cell that checks them before anything changes,
then a call into ``toolkit.notebook``. Stored without outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"
sys.path.insert(0, str(ROOT))

from toolkit.jobs import job_types  # noqa: E402

NEEDS = {
    "pdf_parsing": (
        "Upset-sale list PDFs registered as documents (`document_type = 'property_list'`) "
        "that are not parsed yet. Rows that fail to parse are kept in `parsing_errors`, "
        "never dropped."
    ),
    "county_research": (
        "Counties with active properties or documents and no research in the last 30 days. "
        "A person checks the sale date, registration deadline, deposit and affidavit rules, "
        "with sources; the item form below records each county."
    ),
    "regrid_scraping": (
        "Imported properties without a parcel record. The Regrid processor reads the token from "
        "the `REGRID_TOKEN` environment variable (never from the notebook). Regrid charges per "
        "parcel record: a parcel fetched once is never fetched again."
    ),
    "visual_validation": (
        "Properties with parcel data (run `regrid_scraping` first). Screening throws out "
        "slivers, cemeteries, landlocked strips and utility parcels; a person can override."
    ),
    "property_condition": (
        "Approved properties (passed visual validation) without a condition assessment. "
        "Partly remote research by a person: the item form shows one property at a time."
    ),
    "environmental_research": (
        "Approved properties without an environmental assessment (flood zone, EPA "
        "facilities, wetlands, mine subsidence); several outside look-ups per property."
    ),
    "title_research": (
        "Approved properties without title research. Partly manual (recorder and docket "
        "look-ups): mortgages survive an upset sale, so this is where buyers get hurt. The "
        "item form shows one property at a time with its context."
    ),
    "bid_strategy": (
        "Approved properties with condition, environmental and title results. Produces a max "
        "bid and a BID / REVIEW / PASS decision per property."
    ),
}

# The intro line that points at what is below the control panel.
FORM_LINE = {
    "title_research": "The title form below it works one property at a time by hand.",
    "property_condition": "The condition form below it grades one property at a time.",
    "county_research": "The county form below it records one county's sale at a time.",
    "visual_validation": "Below it, a review of the CAUTION and REJECTED properties.",
    "bid_strategy": "Below it, the bid list and an export button.",
}
# What a person does in each notebook besides the control panel (toolkit/notebook/forms.py).
# Interactive only: a headless run (interactive=False) runs one automatic session, nothing else.
EXTRAS = {
    "title_research": (
        "## One property at a time\n\nPress **Begin**: the property's context, the liens already "
        "on file and search links (recorder, prothonotary docket). Enter each lien found (type, "
        "holder, amount, recorded date) or tick **No liens found**, then **Save & next**: the "
        "title search is recorded and the title result computed as the automatic session does. "
        "**Failed** with a note marks the property failed.",
        "if params.interactive:\n    from toolkit.notebook.forms import TitleForm\n\n"
        "    form = TitleForm.from_params(params)\n    display(form.widget)",
    ),
    "property_condition": (
        "## Grade from imagery\n\nPress **Begin**: the property's facts, links to its street-level "
        "and aerial views, and the parcel sketch. Choose a grade A-F, say what you saw, "
        "**Save & next**: the manual grade wins over the computed one and sets the repair "
        "estimate.",
        "if params.interactive:\n    from toolkit.notebook.forms import ConditionForm\n\n"
        "    form = ConditionForm.from_params(params)\n    display(form.widget)",
    ),
    "county_research": (
        "## One county at a time\n\nPress **Begin**: the county's active properties, when it was "
        "last researched and the sales on file. Enter the upcoming sale (dates, deposit, terms, "
        "certification, place), where you found it and when, a link and notes, then "
        "**Save & next**.",
        "if params.interactive:\n    from toolkit.notebook.forms import CountyResearchForm\n\n"
        "    form = CountyResearchForm.from_params(params)\n    display(form.widget)",
    ),
    "visual_validation": (
        "## Review what screening threw out\n\nEvery CAUTION and REJECTED property with its "
        "reasons and parcel sketch. Override the verdict (APPROVED, CAUTION, REJECTED) with a "
        "note saying what you saw; the computed verdict is kept beside your override.",
        "if params.interactive:\n    from toolkit.notebook.forms import ScreeningReview\n\n"
        "    review = ScreeningReview(params.db, county=params.county_id)\n"
        "    display(review.widget)",
    ),
    "bid_strategy": (
        "## The bid list\n\nBID and REVIEW properties (PASS on demand) with their maximum bids, "
        "nearest sale first: click a column header to sort, type in Search to filter, open a "
        "row's reasons or breakdown, and **click a row to open the property** below the grid. "
        "**Export** writes the list to `exports/` beside the workspace (`data/exports/` by "
        "default) as CSV or Excel.",
        "if params.interactive:\n    from toolkit.notebook.grid import BidGrid\n\n"
        "    bids = BidGrid(params.db, county=params.county_id)\n    display(bids.widget)",
    ),
}

CELL_IDS = {"visual_validation": "review", "bid_strategy": "bid-list"}

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _nb(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _cell(source: str, cell_id: str, tags: list[str] | None = None) -> nbformat.NotebookNode:
    cell = new_code_cell(source.strip())
    cell["id"] = cell_id
    if tags:
        cell.metadata["tags"] = tags
    return cell


def _md(source: str, cell_id: str) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source.strip())
    cell["id"] = cell_id
    return cell


def job_notebook(name: str) -> nbformat.NotebookNode:
    jt = job_types()[name]
    title = name.replace("_", " ").capitalize()
    intro = f"""
# {title}

{jt.description}

**Needs:** {NEEDS[name]}

**Guide:** batches of {jt.batch_size}, about {jt.per_session} {jt.noun} per session.

*Interactive* (run all cells): the control panel — pick a county, Start or Resume, Pause at any
time; progress is saved after every batch and resumes exactly where it stopped.
{FORM_LINE.get(name, "")}

*Headless* (`interactive = False`, as `toolkit run {name}` / papermill set it): one session, then a
summary and a table of this session's failures. For example
`papermill notebooks/{name}.ipynb out.ipynb -p interactive False -p county Blair`.
"""
    params = f"""
db = None  # DuckDB file or postgresql:// URL (None: $TOOLKIT_DB, else data/toolkit.duckdb)
county = None  # county name, id or FIPS code (None: all counties)
batch_size = None  # None: the guide's {jt.batch_size}
job_id = None  # a job to continue (None: the newest active one for this county, or a new one)
max_batches = None  # session budget in batches (None: about {jt.per_session} {jt.noun})
max_minutes = None  # session budget in minutes (None: no time limit)
interactive = True  # False: run one session headless
processor = None  # "module:function" to use instead of the job type's own processor
strategy = "county"  # county | round_robin | auction_date
summary_path = None  # headless: where to write the session summary as JSON (the runner sets it)
"""
    check = f"""
from toolkit.notebook import check_parameters

params = check_parameters(
    "{name}", db=db, county=county, batch_size=batch_size, job_id=job_id,
    max_batches=max_batches, max_minutes=max_minutes, interactive=interactive,
    processor=processor, strategy=strategy, summary_path=summary_path,
)
"""
    run = """
if params.interactive:
    from toolkit.notebook import ControlPanel

    panel = ControlPanel.from_params(params)
    display(panel.widget)
else:
    from toolkit.notebook import run_notebook_session

    result = run_notebook_session(params)
"""
    cells = [
        _md(intro, "about"),
        _cell(params, "parameters", ["parameters"]),
        _cell(check, "check-parameters"),
        _md("## Run", "run-heading"),
        _cell(run, "run-session"),
    ]
    extra = EXTRAS.get(name)
    if extra is not None:
        heading, code = extra
        cell_id = CELL_IDS.get(name, "item-form")
        cells += [_md(heading, f"{cell_id}-heading"), _cell(code, cell_id)]
    return _nb(cells)


def dashboard_notebook() -> nbformat.NotebookNode:
    return _nb(
        [
            _md(
                """
# Dashboard

Start every session here: what is pending (and how many sessions it will take), what is
running or paused, the last sessions and how they ended, and the data audit (gaps and
properties per pipeline stage). **Refresh** reloads everything.
""",
                "about",
            ),
            _cell(
                "db = None  # workspace (None: $TOOLKIT_DB, else data/toolkit.duckdb)\n"
                "interactive = True  # False: plain tables (headless)",
                "parameters",
                ["parameters"],
            ),
            _cell(
                "from toolkit.notebook import Dashboard\n\ndashboard = Dashboard(db)\n"
                "dashboard.show(interactive)",
                "dashboard",
            ),
        ]
    )


def property_notebook() -> nbformat.NotebookNode:
    return _nb(
        [
            _md(
                """
# Property

One property on one page: its sale-list row, parcel record and sketch, screening, condition,
environment, title (with its liens) and bid, each with the inputs it used; links to the
county's recorder and tax claim bureau (from the county research) and to imagery; and the
research you can record for it (a screening override, a condition grade, a title search).
Type a parcel number (and the county, if the number is listed in several) and press **Open**.
""",
                "about",
            ),
            _cell(
                "db = None  # workspace (None: $TOOLKIT_DB, else data/toolkit.duckdb)\n"
                "parcel = None  # a parcel number or property id (None: type it in the page)\n"
                "county = None  # the parcel's county, when the number is in several",
                "parameters",
                ["parameters"],
            ),
            _cell(
                "from toolkit.notebook.property import PropertyView\n\n"
                "view = PropertyView(db, parcel, county=county)\ndisplay(view.widget)",
                "property",
            ),
        ]
    )


def map_notebook() -> nbformat.NotebookNode:
    return _nb(
        [
            _md(
                """
# Map

Every property with coordinates, coloured by its bid decision (BID / REVIEW / PASS) or its
screening verdict, with the flood-zone layer where one is loaded. **Click a point** to open
the property below the map. Offline the points show on a blank map; online, on
OpenStreetMap tiles.
""",
                "about",
            ),
            _cell(
                "db = None  # workspace (None: $TOOLKIT_DB, else data/toolkit.duckdb)\n"
                "county = None  # one county (None: all)\n"
                'colour_by = "decision"  # decision | verdict\n'
                "tiles = None  # None: base tiles only when online; True / False to choose",
                "parameters",
                ["parameters"],
            ),
            _cell(
                "from toolkit.notebook.map import PropertyMap\n\n"
                "property_map = PropertyMap(db, county=county, colour_by=colour_by, tiles=tiles)\n"
                "display(property_map.widget)",
                "map",
            ),
        ]
    )


def progress_notebook() -> nbformat.NotebookNode:
    cells = [
        _md(
            """
# Progress analysis

Throughput over time, failures by reason, the per-county pipeline funnel and the ETA of each
active job — pandas frames from SQL on the workspace, with matplotlib plots. The queries live
in `toolkit.notebook.dashboard`; the last cell shows how to ask your own.
""",
            "about",
        ),
        _cell(
            "db = None  # workspace (None: $TOOLKIT_DB, else data/toolkit.duckdb)\n"
            'freq = "auto"  # throughput period: auto | minute | hour | day | week',
            "parameters",
            ["parameters"],
        ),
        _cell(
            """
%matplotlib inline
import toolkit
from toolkit.notebook import dashboard as d

ws = toolkit.connect(db)
""",
            "setup",
        ),
        _md("## Throughput over time", "throughput-heading"),
        _cell(
            "tp = d.throughput(ws, freq)\nd.show(tp.tail(20), d.plot_throughput(tp), "
            '"Nothing finished yet.")',
            "throughput",
        ),
        _md("## Failures by reason", "failures-heading"),
        _cell(
            "fails = d.failures_by_reason(ws)\n"
            'd.show(fails, d.plot_failures(fails), "No failures.")',
            "failures",
        ),
        _md("## Pipeline funnel per county", "funnel-heading"),
        _cell(
            "funnel = d.county_funnel(ws)\n"
            'd.show(funnel, d.plot_funnel(funnel), "No properties yet.")',
            "funnel",
        ),
        _md("## Active jobs: progress and time left", "eta-heading"),
        _cell(
            "eta = d.eta_per_job(ws)\n"
            'd.show(eta.drop(columns=["eta_seconds"]), d.plot_job_progress(eta), "No active job.")\n'
            'd.show(eta.head(0), d.plot_eta(eta), "")',
            "eta",
        ),
        _md("## Your own SQL", "sql-heading"),
        _cell(
            """
ws.sql(
    "SELECT job_type, status, count(*) AS jobs, sum(processed_items) AS processed "
    "FROM batch_jobs GROUP BY job_type, status ORDER BY job_type, status"
)
""",
            "own-sql",
        ),
    ]
    return _nb(cells)


def notebooks() -> dict[str, nbformat.NotebookNode]:
    """Every notebook this project ships, by file name."""
    out = {f"{name}.ipynb": job_notebook(name) for name in NEEDS}
    out["dashboard.ipynb"] = dashboard_notebook()
    out["progress_analysis.ipynb"] = progress_notebook()
    out["property.ipynb"] = property_notebook()
    out["map.ipynb"] = map_notebook()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, nb in notebooks().items():
        text = nbformat.writes(nb) + "\n"
        path = OUT / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"Out of date (run python scripts/make_notebooks.py): {', '.join(stale)}")
        return 1
    print(
        f"{'Checked' if args.check else 'Wrote'} {len(notebooks())} notebooks in {OUT}"
        + (f" ({len(stale)} changed)" if stale and not args.check else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
