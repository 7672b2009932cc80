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
        str(ROOT / "notebooks" / "regrid_scraping.ipynb"), str(served / "regrid_scraping.ipynb"),
        parameters={"db": db, "county": "Blair", "processor": "procs:slow"}, prepare_only=True,
        progress_bar=False,
    )  # fmt: skip
    port = _free_port()
    home = tmp_path / "home"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "tests")]),
        "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "ws"),
        "TOOLKIT_DB": db,
    }  # fmt: skip
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={served}",
         "--ServerApp.port_retries=0", "--LabApp.news_url=",
         "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=served,
    )  # fmt: skip
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
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )  # fmt: skip
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
