"""Benchmark: pages per second of ``toolkit.pdf.parse_pdf`` beside pdfplumber's bare text.

The reference, measured in the same run over the same pages, is what any
pdfplumber-based reader must pay at least: ``page.extract_text()`` on every page.
The ratio says how much the layout-aware parsing adds on top.

Target (issue): the 200+ page synthetic list parsed in under 30 s.

Run: ``python benchmarks/bench_pdf.py [--repeat N]``
(regenerate the PDFs first with ``python scripts/make_sample_pdfs.py`` if missing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LONG = ROOT / "data" / "sample" / "pdfs" / "long" / "synthetic_printer_long.pdf"
OTHERS = {
    "ruled_table (Blair)": ROOT / "data" / "sample" / "pdfs" / "blair_upset_ruled.pdf",
    "word_table (Clearfield)": ROOT / "data" / "sample" / "pdfs" / "clearfield_upset_word.pdf",
}
TARGET_SECONDS = 30.0


def reference(path: Path) -> tuple[float, int]:
    """Seconds for pdfplumber's bare ``extract_text()`` over every page; page count."""
    import pdfplumber

    start = time.perf_counter()
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            page.extract_text()
            page.close()
        n = len(pdf.pages)
    return time.perf_counter() - start, n


def ours(path: Path) -> tuple[float, int, int, int]:
    """Seconds for ``parse_pdf``; pages, rows, errors."""
    from toolkit.pdf import parse_pdf

    start = time.perf_counter()
    doc = parse_pdf(path)
    return time.perf_counter() - start, doc.page_count, len(doc.rows), len(doc.errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; best is kept")
    args = parser.parse_args()
    if not LONG.is_file():
        print(f"missing {LONG}: run python scripts/make_sample_pdfs.py", file=sys.stderr)
        return 2
    import pdfplumber  # noqa: F401  - import cost is not part of either figure

    print(
        f"{'document':<28}{'pages':>6}{'rows':>7}{'errors':>7}"
        f"{'parse s':>9}{'ref s':>8}{'parse p/s':>11}{'ref p/s':>9}{'ratio':>7}"
    )
    ok = True
    for name, path in [("printer_report (long)", LONG), *OTHERS.items()]:
        best_ours = min((ours(path) for _ in range(args.repeat)), key=lambda r: r[0])
        best_ref = min((reference(path) for _ in range(args.repeat)), key=lambda r: r[0])
        secs, pages, rows, errors = best_ours
        ref_secs, _ = best_ref
        print(
            f"{name:<28}{pages:>6}{rows:>7}{errors:>7}{secs:>9.2f}{ref_secs:>8.2f}"
            f"{pages / secs:>11.1f}{pages / ref_secs:>9.1f}{secs / ref_secs:>7.2f}"
        )
        if path == LONG:
            ok = secs < TARGET_SECONDS
            verdict = "meets" if ok else "MISSES"
            print(f"  -> long list: {secs:.1f} s, {verdict} the {TARGET_SECONDS:.0f} s target")
    print("ratio = parse_pdf time / bare extract_text time over the same pages (lower is better)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
