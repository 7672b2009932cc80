"""How fast the toolkit gives up, and how much memory a download takes (issues 11 and 13).

Each scenario runs in a child process (its peak RSS is measured alone) against
real sockets on this machine:

1. ``offline``: environmental research with the default (online) sources while
   the services cannot be reached -- their host names do not resolve here, or
   (``--refused``) they point at a closed port. Reports how long the session
   took to pause, and why. Target: a pause within seconds, no item failed.
2. ``download``: ``add_document`` on a URL whose server sends 2 GB, once with
   ``Content-Length`` and once chunked (no length). Reports time and peak RSS.
   Target: refused, with memory flat (the cap is 200 MB; nothing is held).
3. ``trickle``: a server sending a PDF a byte every ``--every`` seconds.
   Reports when the download stopped. Target: at the download deadline
   (``TOOLKIT_DOWNLOAD_DEADLINE``, set here to ``--deadline``), not when the
   server is done.

Run: ``python benchmarks/bench_bounds.py [offline|download|trickle ...] [--refused]``
(``PYTHONPATH=<an older checkout>`` measures that code the same way, as far as
its API allows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fakes live with the tests

MB = 1024 * 1024


def child_offline(args: argparse.Namespace) -> dict[str, object]:
    from toolkit.demo import build_sample_workspace

    folder = Path(tempfile.mkdtemp())
    ws = build_sample_workspace(folder / "ws.duckdb")
    for jt in ("regrid_scraping", "visual_validation"):
        ws.run_session(ws.create_batch_job(jt, "Somerset"), max_items=100_000)
    if args.refused:
        from fakes import FakeService

        with FakeService() as dead:
            base = dead.url
        config = {
            "mode": "online",
            "flood": {"url": base + "/arcgis/rest/services/public/NFHL/MapServer/28/query"},
            "epa": {"base_url": base + "/echo/"},
            "wetlands": {"url": base + "/wetlands/MapServer/0/query"},
        }
        (folder / "env.json").write_text(json.dumps(config))
        os.environ["TOOLKIT_ENV_SOURCES"] = str(folder / "env.json")
    else:
        os.environ.pop("TOOLKIT_ENV_SOURCES", None)  # online, the real services
    job = ws.create_batch_job("environmental_research", "Somerset")
    started = time.monotonic()
    s = ws.run_session(job, max_seconds=args.max_seconds, max_items=args.max_items)
    took = time.monotonic() - started
    st = ws.get_batch_status(job)
    return {
        "seconds": round(took, 2),
        "outcome": s.outcome,
        "status": st["status"],
        "done": s.processed,
        "failed": s.failed,
        "pending": st["pending_items"],
        "reason": (st.get("pause_reason") or s.pause_reason or "")[:240],
    }


def child_download(args: argparse.Namespace) -> dict[str, object]:
    import toolkit

    ws = toolkit.connect(str(Path(tempfile.mkdtemp()) / "ws.duckdb"))
    started = time.monotonic()
    try:
        ws.add_document(args.url, "Blair")
        outcome = "added"
    except Exception as exc:  # the figure is what happened, whatever it was
        outcome = f"{type(exc).__name__}: {str(exc)[:200]}"
    return {"seconds": round(time.monotonic() - started, 2), "outcome": outcome}


def run_child(scenario: str, extra: list[str], env: dict[str, str] | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", scenario, *extra]
    full_env = {**os.environ, **(env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, check=False)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"{scenario} child failed:\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # ru_maxrss of children is the largest child so far: run the big ones last, or alone
    result["peak_rss_mb"] = round(max(peak_kb, before) / 1024)
    return result


def zeros(total: int):
    yield b"%PDF-1.4\n"
    sent, block = 9, b"\0" * MB
    while sent < total:
        n = min(MB, total - sent)
        yield block[:n]
        sent += n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=["offline", "download", "trickle"])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--refused", action="store_true", help="offline: a closed port, not DNS")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="offline session budget")
    parser.add_argument("--max-items", type=int, default=None)
    parser.add_argument("--every", type=float, default=5.0, help="trickle: seconds per byte")
    parser.add_argument("--deadline", type=float, default=30.0, help="trickle: download deadline")
    parser.add_argument("--gb", type=float, default=2.0, help="download: size served")
    args = parser.parse_args()
    if args.child:
        fn = {"offline": child_offline, "download": child_download}[args.child]
        print(json.dumps(fn(args)))
        return

    from fakes import FakeService, Reply

    if "offline" in args.scenarios:
        extra = ["--max-seconds", str(args.max_seconds)]
        if args.max_items:
            extra += ["--max-items", str(args.max_items)]
        if args.refused:
            extra.append("--refused")
        print("offline research:", run_child("offline", extra))
    private = {"TOOLKIT_ALLOW_PRIVATE_URLS": "1"}
    with FakeService() as svc:
        size = int(args.gb * 1024 * MB)
        svc.route(
            "/big.pdf",
            lambda r: Reply(stream=zeros(size), length=size, content_type="application/pdf"),
        )
        svc.route(
            "/chunked.pdf", lambda r: Reply(stream=zeros(size), content_type="application/pdf")
        )
        body = b"%PDF-1.4\n" + b"x" * 200
        svc.route(
            "/trickle.pdf",
            lambda r: Reply(body=body, trickle=args.every, content_type="application/pdf"),
        )
        if "download" in args.scenarios:
            for path in ("/big.pdf", "/chunked.pdf"):
                got = run_child("download", ["--url", svc.url + path], private)
                print(f"download {args.gb:g} GB {path}:", got)
        if "trickle" in args.scenarios:
            env = {**private, "TOOLKIT_DOWNLOAD_DEADLINE": str(args.deadline)}
            got = run_child("download", ["--url", svc.url + "/trickle.pdf"], env)
            print(f"trickle (a byte every {args.every:g} s, deadline {args.deadline:g} s):", got)


if __name__ == "__main__":
    main()
