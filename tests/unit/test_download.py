"""Bounded downloads (toolkit.sources.download) against real local servers and sockets."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeService, Reply

from toolkit.exceptions import (
    BlockedURLError,
    DocumentError,
    DownloadError,
    FatalSourceError,
    NotFoundError,
    SourceError,
    ValidationError,
)
from toolkit.sources.download import blocked_reason, download

PDF = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 100 + b"%%EOF\n"
MB = 1024 * 1024


def zeros(total: int, piece: int = MB) -> Iterator[bytes]:
    """``total`` bytes of a PDF-looking body, produced as sent (never held)."""
    yield b"%PDF-1.4\n"
    sent = 9
    block = b"\0" * piece
    while sent < total:
        n = min(piece, total - sent)
        yield block[:n]
        sent += n


@pytest.fixture
def svc() -> Iterator[FakeService]:
    with FakeService() as service:
        service.route("/list.pdf", lambda r: Reply(body=PDF, content_type="application/pdf"))
        yield service


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_pdf_is_streamed_to_a_temporary_file(svc: FakeService, tmp_path: Path) -> None:
    got = download(svc.url + "/list.pdf", tmp_path, allow_private=True)
    assert got.path.parent == tmp_path and got.path.read_bytes() == PDF
    assert got.size == len(PDF) and got.content_type == "application/pdf"
    import hashlib

    assert got.sha256 == hashlib.sha256(PDF).hexdigest()


def test_memory_stays_flat_for_a_large_answer(svc: FakeService, tmp_path: Path) -> None:
    svc.route(
        "/big.pdf",
        lambda r: Reply(stream=zeros(64 * MB), length=64 * MB, content_type="application/pdf"),
    )
    tracemalloc.start()
    try:
        got = download(svc.url + "/big.pdf", tmp_path, allow_private=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.size == 64 * MB and got.path.stat().st_size == 64 * MB
    assert peak < 4 * MB  # the answer went to disk, a chunk at a time


def test_an_answer_announcing_2_gb_is_refused_before_its_body(
    svc: FakeService, tmp_path: Path
) -> None:
    svc.route(
        "/huge.pdf",
        lambda r: Reply(stream=zeros(2048 * MB), length=2048 * MB, content_type="application/pdf"),
    )
    started = time.monotonic()
    with pytest.raises(
        DownloadError,
        match=r"announces 2,147,483,648 bytes, more than the"
        r" 209,715,200-byte limit",
    ) as info:
        download(svc.url + "/huge.pdf", tmp_path, allow_private=True)
    assert time.monotonic() - started < 3.0  # reading 2 GB takes far longer
    assert "TOOLKIT_MAX_DOWNLOAD_MB" in str(info.value)
    assert files(tmp_path) == []


def test_an_answer_without_length_is_cut_off_at_the_cap(svc: FakeService, tmp_path: Path) -> None:
    svc.route(
        "/endless.pdf", lambda r: Reply(stream=zeros(50 * MB), content_type="application/pdf")
    )
    with pytest.raises(DownloadError, match=r"sent more than the 2,097,152-byte limit; stopped"):
        download(svc.url + "/endless.pdf", tmp_path, allow_private=True, max_bytes=2 * MB)
    assert files(tmp_path) == []


def test_the_cap_comes_from_the_environment(
    svc: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_MAX_DOWNLOAD_MB", "0.001")
    with pytest.raises(DownloadError, match="1,048-byte limit"):
        download(svc.url + "/list.pdf", tmp_path, allow_private=True)
    monkeypatch.setenv("TOOLKIT_MAX_DOWNLOAD_MB", "lots")
    with pytest.raises(ValidationError, match="TOOLKIT_MAX_DOWNLOAD_MB='lots' is not a"):
        download(svc.url + "/list.pdf", tmp_path, allow_private=True)


def test_a_trickling_server_is_stopped_at_the_deadline(svc: FakeService, tmp_path: Path) -> None:
    # a byte every 0.05 s: no read ever times out, the whole would take 100 s
    svc.route(
        "/slow.pdf",
        lambda r: Reply(body=b"%PDF-" + b"x" * 2000, trickle=0.05, content_type="application/pdf"),
    )
    started = time.monotonic()
    with pytest.raises(
        DownloadError,
        match=r"did not finish within the 1 s download deadline"
        r" \(\d+ bytes received\)",
    ) as info:
        download(svc.url + "/slow.pdf", tmp_path, allow_private=True, deadline=1.0, timeout=30)
    assert time.monotonic() - started < 2.5  # not the 100 s the body takes
    assert "TOOLKIT_DOWNLOAD_DEADLINE" in str(info.value)
    time.sleep(0.2)  # the reader thread lets go at its next byte
    assert files(tmp_path) == []


def test_an_html_page_is_refused_from_its_first_bytes(svc: FakeService, tmp_path: Path) -> None:
    page = b"<!DOCTYPE html><html>" + b"<p>tax sale</p>" * 10
    svc.route(
        "/page",
        lambda r: Reply(
            stream=iter([page] + [b"<p>more</p>" * 1000] * 10_000), content_type="text/html"
        ),
    )
    started = time.monotonic()
    with pytest.raises(DocumentError, match="HTML page, not a PDF"):
        from toolkit.documents import _pdf_check

        url = svc.url + "/page"
        download(url, tmp_path, allow_private=True, check=_pdf_check(url))
    assert time.monotonic() - started < 3.0  # not the 110 MB behind it
    assert files(tmp_path) == []


# -- where a download may go ----------------------------------------------------------


def test_a_private_address_needs_the_allowance(
    svc: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOOLKIT_ALLOW_PRIVATE_URLS", raising=False)
    with pytest.raises(BlockedURLError) as info:
        download(svc.url + "/list.pdf", tmp_path)
    message = str(info.value)
    assert "leads to 127.0.0.1 = 127.0.0.1, a loopback address (this machine)" in message
    assert "allow it with TOOLKIT_ALLOW_PRIVATE_URLS=1" in message
    assert svc.requests == [] and files(tmp_path) == []
    monkeypatch.setenv("TOOLKIT_ALLOW_PRIVATE_URLS", "1")
    assert download(svc.url + "/list.pdf", tmp_path).size == len(PDF)


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "a link-local address (cloud metadata"),
        ("http://10.1.2.3/list.pdf", "a private network address"),
        ("http://[::1]:{port}/list.pdf", "a loopback address"),
        ("http://localhost:{port}/list.pdf", "a loopback address"),
        ("http://224.0.0.1/list.pdf", "a multicast address"),
        ("http://0.0.0.0:{port}/list.pdf", "a reserved address"),
    ],
)
def test_a_redirect_to_another_host_must_be_public(
    svc: FakeService, tmp_path: Path, location: str, why: str
) -> None:
    port = svc.url.rsplit(":", 1)[1]
    svc.route("/go", lambda r: Reply(302, headers={"Location": location.format(port=port)}))
    with pytest.raises(BlockedURLError) as info:
        download(svc.url + "/go", tmp_path, allow_private=True)  # allowed: the URL's own host
    assert "A redirect leads to" in str(info.value) and why in str(info.value)
    assert "must lead to public addresses" in str(info.value)
    assert [r.path for r in svc.requests] == ["/go"] and files(tmp_path) == []


def test_redirects_on_the_same_host_are_followed(svc: FakeService, tmp_path: Path) -> None:
    svc.route("/a", lambda r: Reply(301, headers={"Location": "/b"}))
    svc.route("/b", lambda r: Reply(307, headers={"Location": svc.url + "/list.pdf"}))
    got = download(svc.url + "/a", tmp_path, allow_private=True)
    assert got.url == svc.url + "/list.pdf" and got.size == len(PDF)
    assert [r.path for r in svc.requests] == ["/a", "/b", "/list.pdf"]


def test_a_redirect_loop_is_named(svc: FakeService, tmp_path: Path) -> None:
    svc.route("/a", lambda r: Reply(302, headers={"Location": "/b"}))
    svc.route("/b", lambda r: Reply(302, headers={"Location": "/a"}))
    with pytest.raises(DownloadError) as info:
        download(svc.url + "/a", tmp_path, allow_private=True)
    assert str(info.value) == (
        f"Redirect loop: {svc.url}/a -> {svc.url}/b -> {svc.url}/a; nothing was added."
    )


def test_redirects_are_capped(svc: FakeService, tmp_path: Path) -> None:
    for i in range(10):
        svc.route(f"/r{i}", lambda r, i=i: Reply(302, headers={"Location": f"/r{i + 1}"}))
    with pytest.raises(
        DownloadError, match=r"redirected more than 3 times \(the next one to .*/r4\)"
    ):
        download(svc.url + "/r0", tmp_path, allow_private=True, max_redirects=3)
    assert len(svc.requests) == 4


def test_only_http_and_https(svc: FakeService, tmp_path: Path) -> None:
    svc.route("/ftp", lambda r: Reply(302, headers={"Location": "ftp://example.com/list.pdf"}))
    with pytest.raises(BlockedURLError, match="only http and https URLs are downloaded, not 'ftp'"):
        download(svc.url + "/ftp", tmp_path, allow_private=True)
    with pytest.raises(BlockedURLError, match="not 'file'"):
        download("file:///etc/passwd", tmp_path)


def test_connection_refused_and_unknown_host_are_clear(tmp_path: Path) -> None:
    with FakeService() as dead:
        url = dead.url + "/list.pdf"
    with pytest.raises(DownloadError, match=r"connection refused \(127.0.0.1\); check the link"):
        download(url, tmp_path, allow_private=True)
    with pytest.raises(DownloadError, match=r"'nonexistent.invalid' cannot be resolved \(DNS"):
        download("http://nonexistent.invalid/list.pdf", tmp_path)


def test_http_errors_map_to_toolkit_errors(svc: FakeService, tmp_path: Path) -> None:
    svc.route("/login", lambda r: Reply(403, body=b"no"))
    svc.route("/busy", lambda r: Reply(503, body=b"busy"))
    with pytest.raises(FatalSourceError, match="needs a login"):
        download(svc.url + "/login", tmp_path, allow_private=True)
    with pytest.raises(NotFoundError, match="HTTP 404"):
        download(svc.url + "/gone.pdf", tmp_path, allow_private=True)
    with pytest.raises(SourceError, match=r"after 2 attempt\(s\): HTTP 503"):
        download(svc.url + "/busy", tmp_path, allow_private=True, max_attempts=2)
    assert files(tmp_path) == []


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("127.0.0.1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("100.64.0.1", True),
        ("224.0.0.251", True),
        ("240.0.0.1", True),
        ("0.0.0.0", True),
    ],
)
def test_blocked_reason(address: str, blocked: bool) -> None:
    assert (blocked_reason(address) is not None) == blocked


# -- through add_document: every refusal leaves no row and no file ------------------------


def test_add_document_refusals_leave_nothing_behind(
    ws, svc: FakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.documents import add_document

    svc.route(
        "/huge.pdf",
        lambda r: Reply(stream=zeros(2048 * MB), length=2048 * MB, content_type="application/pdf"),
    )
    svc.route("/meta", lambda r: Reply(302, headers={"Location": "http://169.254.169.254/"}))
    svc.route("/slow.pdf", lambda r: Reply(body=b"%PDF-" + b"x" * 100, trickle=0.05))
    svc.route("/a", lambda r: Reply(302, headers={"Location": "/b"}))
    svc.route("/b", lambda r: Reply(302, headers={"Location": "/a"}))
    cases = [
        ("/huge.pdf", {}, DownloadError, "more than the 209,715,200-byte limit"),
        ("/meta", {}, BlockedURLError, "A redirect leads to 169.254.169.254"),
        ("/slow.pdf", {"deadline": 0.5}, DownloadError, "within the 0.5 s download deadline"),
        ("/a", {}, DownloadError, "Redirect loop"),
    ]
    for path, options, error, text in cases:
        with pytest.raises(error, match=text):
            add_document(ws.store, svc.url + path, "Blair", allow_private=True, **options)
    monkeypatch.delenv("TOOLKIT_ALLOW_PRIVATE_URLS", raising=False)
    with pytest.raises(BlockedURLError, match="a loopback address"):
        ws.add_document(svc.url + "/list.pdf", "Blair")
    time.sleep(0.2)
    assert ws.sql("SELECT count(*) AS n FROM documents").n[0] == 0
    assert files(tmp_path / "documents") == []
    doc = add_document(ws.store, svc.url + "/list.pdf", "Blair", allow_private=True)
    assert (
        ws.sql("SELECT url FROM documents WHERE id = $1::UUID", [doc]).url[0].endswith("/list.pdf")
    )
    assert len(files(tmp_path / "documents")) == 1


def test_broken_answers_are_toolkit_errors(svc: FakeService, tmp_path: Path) -> None:
    svc.route(
        "/gz.pdf", lambda r: Reply(body=b"%PDF-1.4 not gzip", headers={"Content-Encoding": "gzip"})
    )
    svc.route("/bad", lambda r: Reply(302, headers={"Location": "http://host:port/x.pdf"}))
    with pytest.raises(DownloadError, match="unreadable answer"):
        download(svc.url + "/gz.pdf", tmp_path, allow_private=True)
    with pytest.raises(BlockedURLError, match="not a valid URL"):
        download(svc.url + "/bad", tmp_path, allow_private=True)
    assert files(tmp_path) == []
