"""End to end in a real browser: JupyterLab, a job notebook, Start, a moving progress bar, Pause.

Needs Debian's Chromium (``apt-get install -y chromium``) and the Playwright Python driver
(``pip install playwright``; its own browser download is not used). Skipped without them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import load_sample

import toolkit

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "toolkit-test-token"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian chromium: apt-get install -y chromium"
    ),
]

SLOW = """
import time

def slow(item):
    time.sleep(0.04)  # slow enough to watch the bar move
    return {"source": "test", "parcelnumb": item["parcel_id"]}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"JupyterLab did not answer at {url}")


@pytest.fixture
def lab(tmp_path: Path):
    """JupyterLab on 127.0.0.1 serving a parameterised copy of notebooks/regrid_scraping.ipynb."""
    import papermill as pm

    db = str(tmp_path / "ws.duckdb")
    ws = toolkit.connect(db)
    load_sample(ws)
    ws.close()
    (tmp_path / "procs.py").write_text(SLOW)
    served = tmp_path / "served"
    served.mkdir()
    pm.execute_notebook(
        str(ROOT / "notebooks" / "regrid_scraping.ipynb"),
        str(served / "regrid_scraping.ipynb"),
        parameters={"db": db, "county": "Blair", "processor": "procs:slow"},
        prepare_only=True,
        progress_bar=False,
    )
    port = _free_port()
    home = tmp_path / "home"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "tests")]),
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "ws"),
        "TOOLKIT_DB": db,
    }
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={served}",
            "--ServerApp.port_retries=0",
            "--LabApp.news_url=",
            "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=served,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", 40)
        yield port, db
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_start_progress_and_pause_in_jupyterlab(lab) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs the playwright Python driver"
    )
    port, db = lab
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(45_000)
            page.goto(f"http://127.0.0.1:{port}/lab/tree/regrid_scraping.ipynb?token={TOKEN}")
            page.locator(".jp-Notebook").first.wait_for()
            # a fresh JupyterLab may ask which kernel to start: the default (this Python) is right
            select = page.locator(".jp-Dialog button", has_text=re.compile(r"^Select$"))
            try:
                select.wait_for(timeout=5_000)
                select.click()
            except sync_api.TimeoutError:
                pass
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            start = page.locator(".jupyter-widgets button", has_text="Start")
            start.wait_for()
            status = page.locator(".toolkit-status")
            bar = page.locator(".toolkit-progress .progress-bar")
            start.click()
            page.locator(".toolkit-status", has_text="Batch").wait_for()

            def snapshot() -> tuple[int, str]:
                text = status.inner_text()
                return int(re.search(r"· (\d+)/235", text).group(1)), text

            first, _ = snapshot()
            page.wait_for_function(
                "([el, n]) => { const m = /· (\\d+)\\/235/.exec(el.innerText);"
                " return m && +m[1] > n; }",
                arg=[status.element_handle(), first + 10],
            )
            second, text = snapshot()
            assert second > first and "failed" in text
            if os.environ.get("TOOLKIT_SCREENSHOTS"):  # to look at what a person sees
                page.screenshot(path=str(Path(os.environ["TOOLKIT_SCREENSHOTS"]) / "panel.png"))
            width = bar.evaluate("el => parseFloat(el.style.width || getComputedStyle(el).width)")
            assert width > 0
            page.locator(".jupyter-widgets button", has_text="Pause").click()
            page.locator(".toolkit-message", has_text="Paused at").wait_for()
        except Exception:
            page.screenshot(path=str(Path(db).parent / "failure.png"))
            raise
        finally:
            browser.close()
    st = toolkit.connect(db).get_batch_status(toolkit.connect(db).active_jobs().job_id[0])
    assert st["status"] == "paused" and st["pause_reason"] == "paused from the control panel"
    assert second <= st["processed_items"] < 235


# -- the research cockpit: dashboard, bid grid, property view, map, a form ----------------

ARTIFACTS = ROOT / "tests" / "artifacts"
COCKPIT_COUNTY = "Somerset"
NO_WINDOWING = '{"windowingMode": "none"}'  # render every cell: screenshots of whole outputs


@pytest.fixture(scope="module")
def cockpit(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab over a workspace with Somerset through every stage (sample sources)."""
    import shutil as _shutil
    import warnings

    import papermill as pm

    from toolkit.demo import build_sample_workspace
    from toolkit.jobs.registry import PROPERTY_STAGES

    tmp = tmp_path_factory.mktemp("cockpit")
    db = str(tmp / "ws.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_ENV_SOURCES", "sample")
        mp.delenv("TOOLKIT_DB", raising=False)
        ws = build_sample_workspace(db)
        for job_type in PROPERTY_STAGES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                job = ws.create_batch_job(job_type, COCKPIT_COUNTY)
            # title research leaves a few properties for the form (paused at its budget)
            ws.run_session(job, max_items=100 if job_type == "title_research" else 100_000)
        # Blair's parcel data: one batch, then paused at the budget (a job row on the dashboard)
        job = ws.create_batch_job("regrid_scraping", "Blair", 50)
        ws.run_session(job, max_batches=1)
        parcel = str(
            ws.query("notebook_property_index", [None, None])
            .dropna(subset=["decision"])
            .parcel_id.iloc[0]
        )
        ws.close()
    served = tmp / "served"
    served.mkdir()
    params = {
        "dashboard.ipynb": {"db": db},
        "bid_strategy.ipynb": {"db": db, "county": COCKPIT_COUNTY},
        "property.ipynb": {"db": db, "parcel": parcel, "county": COCKPIT_COUNTY},
        "map.ipynb": {"db": db, "county": COCKPIT_COUNTY, "tiles": False},
        "title_research.ipynb": {"db": db, "county": COCKPIT_COUNTY},
    }
    for name, p in params.items():
        pm.execute_notebook(
            str(ROOT / "notebooks" / name),
            str(served / name),
            parameters=p,
            prepare_only=True,
            progress_bar=False,
        )
    port = _free_port()
    home = tmp / "home"
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(NO_WINDOWING)
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "ws"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "TOOLKIT_DB": db,
        "TOOLKIT_ENV_SOURCES": "sample",
    }
    log = (tmp / "lab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={served}",
            "--ServerApp.port_retries=0",
            "--LabApp.news_url=",
            "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=served,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", 40)
        yield port, db, parcel
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        _shutil.rmtree(home / "runtime", ignore_errors=True)


@pytest.fixture(scope="module")
def browser(cockpit):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs the playwright Python driver"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield b, sync_api
        finally:
            b.close()


def _open_and_run(browser, port: int, name: str):
    b, sync_api = browser
    # tall: a whole page's output fits (JupyterLab scrolls inside; a screenshot does not)
    page = b.new_page(viewport={"width": 1500, "height": 2800})
    page.set_default_timeout(60_000)
    # a workspace per notebook: JupyterLab does not restore the other pages' tabs
    stem = name.removesuffix(".ipynb").replace("_", "-")
    page.goto(f"http://127.0.0.1:{port}/lab/workspaces/{stem}/tree/{name}?reset&token={TOKEN}")
    page.locator(".jp-Notebook:visible").first.wait_for()
    select = page.locator(".jp-Dialog button", has_text=re.compile(r"^Select$"))
    try:
        select.wait_for(timeout=5_000)
        select.click()
    except sync_api.TimeoutError:
        pass
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    return page


def _shot(page, locator, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))
    return path


def _fail_shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"))


def test_dashboard_in_the_browser(cockpit, browser) -> None:
    port, _, _ = cockpit
    page = _open_and_run(browser, port, "dashboard.ipynb")
    try:
        charts = page.locator(".toolkit-dashboard-charts img")
        charts.first.wait_for()
        assert charts.count() == 3  # funnel, job progress, sessions over time
        row = page.locator(".toolkit-job-row").first
        row.wait_for()
        text = row.inner_text()
        assert "regrid_scraping" in text and "Blair" in text and "paused" in text
        assert "ETA" not in text and "None" not in text
        assert not row.locator("button", has_text="Resume").is_disabled()
        link = row.locator("a", has_text="regrid_scraping")
        assert link.get_attribute("href") == "regrid_scraping.ipynb"
        body = page.locator(".toolkit-table").first.inner_text()
        assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", body)  # no microseconds
        _shot(page, page.locator(".jp-OutputArea-output").last, "dashboard")
    except Exception:
        _fail_shot(page, "dashboard")
        raise
    finally:
        page.close()


def test_bid_grid_in_the_browser(cockpit, browser) -> None:
    port, _, _ = cockpit
    page = _open_and_run(browser, port, "bid_strategy.ipynb")
    try:
        rows = page.locator(".toolkit-bid-grid table.dataTable tbody tr")
        rows.first.wait_for()
        first = rows.first.inner_text()
        assert "$" in first and ("REVIEW" in first or "BID" in first)
        height = rows.first.evaluate("el => el.getBoundingClientRect().height")
        assert height < 60, height  # one line per row: the reasons open on demand
        _shot(page, page.locator(".toolkit-bid-grid").first, "bid_grid")
        rows.first.locator("td").nth(3).click()
        title = page.locator(".toolkit-property-title")
        title.wait_for()
        assert "Parcel" in title.inner_text()
        _shot(page, page.locator(".toolkit-property").first, "bid_grid_property")
    except Exception:
        _fail_shot(page, "bid_grid")
        raise
    finally:
        page.close()


def test_property_view_in_the_browser(cockpit, browser) -> None:
    port, _, parcel = cockpit
    page = _open_and_run(browser, port, "property.ipynb")
    try:
        title = page.locator(".toolkit-property-title")
        title.wait_for()
        assert parcel in title.inner_text()
        for stage in ("parcel", "screening", "condition", "environment", "bid"):
            assert page.locator(f".toolkit-stage-{stage} table").count() == 1, stage
        assert page.locator(".toolkit-links a", has_text="aerial view").count() == 1
        assert page.locator(".toolkit-sketch").count() == 1
        _shot(page, page.locator(".toolkit-property").first, "property")
        bid = page.locator(".toolkit-stage-bid")
        bid.evaluate("el => el.scrollIntoView()")
        _shot(page, bid, "property_bid")
    except Exception:
        _fail_shot(page, "property")
        raise
    finally:
        page.close()


def test_map_in_the_browser(cockpit, browser) -> None:
    port, _, _ = cockpit
    page = _open_and_run(browser, port, "map.ipynb")
    try:
        review = page.locator(".toolkit-map path.leaflet-interactive[fill='#b26a00']")
        review.first.wait_for()
        points = page.locator(".toolkit-map path.leaflet-interactive")
        assert points.count() >= 140  # every Somerset property, plus flood-zone polygons
        assert page.locator(".toolkit-map .leaflet-tile").count() == 0  # offline: no tiles
        _shot(page, page.locator(".toolkit-map").first, "map")
        review.first.click(force=True)  # a REVIEW property's point
        title = page.locator(".toolkit-property-title")
        title.wait_for()
        _shot(page, page.locator(".jp-OutputArea-output").last, "map_property")
    except Exception:
        _fail_shot(page, "map")
        raise
    finally:
        page.close()


def test_title_form_in_the_browser(cockpit, browser) -> None:
    port, _, _ = cockpit
    page = _open_and_run(browser, port, "title_research.ipynb")
    try:
        begin = page.locator(".jupyter-widgets button", has_text="Begin")
        begin.wait_for()
        begin.click()
        page.locator(".jupyter-widgets button", has_text="Add lien").click()
        amount = page.locator("input[placeholder='amount']").first
        amount.fill("forty")
        amount.press("Tab")
        page.locator(".jupyter-widgets button", has_text="Save & next").click()
        page.locator(".toolkit-error").first.wait_for()
        assert page.locator(".toolkit-bad-field").count() == 1
        _shot(page, page.locator(".jp-OutputArea-output").last, "title_form_error")
        amount.fill("1200")
        amount.press("Tab")
        page.locator(".jupyter-widgets button", has_text="Save & next").click()
        saved = page.locator(".jupyter-widgets", has_text="Saved parcel")
        saved.first.wait_for()
        assert page.locator(".toolkit-bad-field").count() == 0
        _shot(page, page.locator(".jp-OutputArea-output").last, "title_form_saved")
    except Exception:
        _fail_shot(page, "title_form")
        raise
    finally:
        page.close()
