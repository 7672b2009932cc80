"""The MCP server behind ``toolkit mcp``: the guide's commands as tools, for an AI assistant.

Built with the official MCP Python SDK 2.x (``mcp.server.mcpserver.MCPServer``,
FastMCP's new name). Tools are named as the guide names its functions; each
calls :class:`~toolkit.assistant.tools.Assistant` in a worker thread (the SDK
runs plain functions off the event loop) and answers with a JSON object. A
:class:`~toolkit.exceptions.ToolkitError` becomes a tool error (``isError``)
with the toolkit's message; any other failure a short one. Either way the
text is redacted first, so secrets reach neither the assistant nor the log.

Transports:

* stdio (:func:`serve_stdio`) — what desktop and command-line assistants launch.
  The SDK points fd 1 at stderr while it serves, so stray prints cannot corrupt
  the protocol.
* streamable HTTP (:func:`serve_http`) on 127.0.0.1 only, at ``/mcp``, behind a
  bearer token (``$TOOLKIT_MCP_TOKEN``, else one is generated and printed once
  on stderr). The token is checked by a small ASGI wrapper before the SDK sees
  the request; the SDK's own ``AuthSettings`` expect an OAuth authorization
  server, which a single local token does not have.

The workspace is not held open between calls: every workspace call opens and
closes its own connection, so the DuckDB file stays free for the notebooks
and the command line while the server waits.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import MissingDependencyError, ToolkitError, ValidationError

if TYPE_CHECKING:
    from toolkit.assistant.tools import Assistant

__all__ = [
    "HOST",
    "TOKEN_ENV",
    "BearerAuth",
    "build_server",
    "require_sdk",
    "serve_http",
    "serve_stdio",
    "token_from_environment",
]

SDK_HINT = "pip install 'taxsale-toolkit[mcp]'"
TOKEN_ENV = "TOOLKIT_MCP_TOKEN"
HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MIN_TOKEN_LENGTH = 16
PATH = "/mcp"

logger = logging.getLogger("toolkit.assistant")

INSTRUCTIONS = """\
taxsale-toolkit: research Pennsylvania tax-sale properties in resumable batch jobs, as the \
user's batch-processing guide describes (resource toolkit://guide). A session: \
get_pending_work_summary → create_batch_job or resume_batch_job → 2-4 batches (get_next_batch, \
then update_batch_progress for each item; or run_session for a type's processor) → \
pause_batch_job before your context fills up, reporting "Paused at 150/235 properties (64%)". \
Progress is saved after every item; a paused job resumes exactly where it stopped, in any \
later session. Prompt "research_session" walks through it."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def require_sdk() -> None:
    """Raise :class:`~toolkit.exceptions.MissingDependencyError` unless the MCP SDK 2.x is there."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"`toolkit mcp` needs the MCP Python SDK, version 2 or later (package 'mcp'): "
            f"{SDK_HINT}"
        ) from exc


def _chain(exc: BaseException) -> str:
    """The message, then each underlying cause on its own line (as the CLI prints them)."""
    lines, seen = [str(exc)], {id(exc)}
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        lines.append(f"caused by {type(cause).__name__}: {cause}")
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return "\n".join(lines)


class _Redacting(logging.Filter):
    """Scrub the server's secrets from every log record (the SDK's and uvicorn's too)."""

    def __init__(self, assistant: Assistant) -> None:
        super().__init__()
        self.assistant = assistant

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        clean = self.assistant.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:  # a traceback's text could hold a secret: keep only the type
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "error"
            record.msg, record.args = f"{clean} ({kind}; traceback withheld)", ()
            record.exc_info = record.exc_text = None
        return True


def _install_log_filter(assistant: Assistant) -> None:
    filt = _Redacting(assistant)
    for handler in logging.getLogger().handlers:
        handler.addFilter(filt)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(filt)


def build_server(assistant: Assistant, *, log_level: str = "WARNING") -> Any:
    """The MCPServer with the guide's tools, resources and the research-session prompt."""
    require_sdk()
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError
    from mcp.types import ToolAnnotations

    import toolkit
    from toolkit.assistant.tools import guide_text, session_prompt

    server = MCPServer(
        "taxsale-toolkit",
        title="taxsale-toolkit",
        version=toolkit.__version__,
        instructions=INSTRUCTIONS,
        log_level=log_level,  # type: ignore[arg-type]
    )
    _install_log_filter(assistant)

    def call(
        fn: Callable[..., Any], *args: Any, error: type[Exception] = ToolError, **kwargs: Any
    ) -> Any:
        try:
            return assistant.redact(fn(*args, **kwargs))
        except ToolkitError as exc:
            raise error(assistant.redact(_chain(exc))) from None
        except Exception as exc:  # a bug: say what kind, keep the details out
            logger.error(
                "%s failed: %s: %s",
                getattr(fn, "__name__", fn),
                type(exc).__name__,
                assistant.redact(str(exc)),
            )
            raise error(
                f"Internal error ({type(exc).__name__}): {assistant.redact(str(exc))}"
            ) from None

    read = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    write = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
    a = assistant

    @server.tool(annotations=read)
    def get_pending_work_summary() -> dict[str, Any]:
        """What work is pending: per job type, how many items, batches and sessions.

        Call it at the start of a session ("Show pending work") to pick what to work on.
        """
        return call(a.get_pending_work_summary)

    @server.tool(annotations=write)
    def create_batch_job(
        job_type: str,
        county: str | None = None,
        batch_size: int | None = None,
        strategy: str = "county",
        force: bool = False,
    ) -> dict[str, Any]:
        """Start a batch job: "Start [job_type] for [County] in batches of [size]".

        job_type: one of pdf_parsing, county_research, regrid_scraping, visual_validation,
        property_condition, environmental_research, title_research, bid_strategy (spoken
        names such as "Regrid scraping" work too). county: a Pennsylvania county name
        ("Blair"), or null for all counties. batch_size: default the guide's size for the
        type (see resource toolkit://job-types); over 100 is warned against. strategy:
        county (one county at a time), round_robin or auction_date (nearest sale first).
        force: start although a job of the same type and county is active (refused
        otherwise). The work list is fixed now, in order; returns the job_id.
        """
        return call(a.create_batch_job, job_type, county, batch_size, strategy, force)

    @server.tool(annotations=write)
    def get_next_batch(job_id: str) -> dict[str, Any]:
        """Claim the job's next batch: items with item_id first and what you need to work them.

        job_id: the full id or its first 8 characters. Items not reported yet come back
        first. Report each item with update_batch_progress. An empty list means nothing
        is left to hand out.
        """
        return call(a.get_next_batch, job_id)

    @server.tool(annotations=write)
    def update_batch_progress(
        job_id: str,
        last_item_id: str,
        items_processed: int,
        items_failed: int,
        error_message: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one item at once: (1, 0) done, or (0, 1) failed with error_message.

        For title_research, property_condition and county_research items, a done item
        carries your research in result, checked exactly as the notebook forms check it
        (a bad field is an error naming it, and nothing is saved):
        title_research {liens: [{lien_type, holder, amount, recorded_date}], no_liens: true
        when none were found, source, note}; property_condition {grade: A-F, note};
        county_research {sale_type (upset, judicial, repository, private, sheriff; null:
        no sale found), sale_date, registration_deadline (YYYY-MM-DD), deposit,
        payment_terms, bidder_certification, location, platform, source (required),
        as_of, link_url, link_title, note}. Ten failures in a row pause the job.
        """
        return call(
            a.update_batch_progress,
            job_id,
            last_item_id,
            items_processed,
            items_failed,
            error_message,
            result,
        )

    @server.tool(annotations=write)
    def pause_batch_job(job_id: str | None = None, reason: str | None = None) -> dict[str, Any]:
        """Pause a job ("Pause batch job"; default: the running one) and say where it stands.

        Progress is saved already; report the message ("Paused at 150/235 properties (64%)")
        and how to go on ("Resume with: 'Resume batch job'").
        """
        return call(a.pause_batch_job, job_id, reason)

    @server.tool(annotations=write)
    def resume_batch_job(job_id: str | None = None, job_type: str | None = None) -> dict[str, Any]:
        """Resume a paused or interrupted job ("Resume batch job").

        No job_id: the most recent paused job (of job_type, if given). It goes on exactly
        where it stopped, in this or any later session.
        """
        return call(a.resume_batch_job, job_id, job_type)

    @server.tool(annotations=write)
    def complete_batch_job(job_id: str) -> dict[str, Any]:
        """Mark a job completed; every item must be finished (done, failed or skipped)."""
        return call(a.complete_batch_job, job_id)

    @server.tool(annotations=read)
    def get_batch_status(job_id: str | None = None) -> dict[str, Any]:
        """A job's status ("Show batch job status"): progress, batch, failures with errors, ETA.

        No job_id: the most recently updated active job.
        """
        return call(a.get_batch_status, job_id)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, open_world_hint=True))
    def say(phrase: str) -> dict[str, Any]:
        """Do what one of the guide's phrases says.

        "What work is pending?", "Start Regrid scraping for Blair County in batches of 50"
        (creates the job and runs one session with its processor), "Resume batch job",
        "Show batch job status", "Show active batch jobs", "Run data audit",
        "Pause batch job". An unknown phrase is an error listing those understood.
        """
        return call(a.say, phrase)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, open_world_hint=True))
    def run_session(job_id: str, max_batches: int | None = None) -> dict[str, Any]:
        """Work a job with its automatic processor for one session, then pause at the budget.

        The budget is the guide's per-session figure for the type (e.g. 150 properties for
        regrid_scraping), or max_batches. May take minutes; progress is saved as it goes.
        """
        return call(a.run_session, job_id, max_batches)

    @server.tool(annotations=read)
    def run_data_audit() -> dict[str, Any]:
        """The guide's "Run data audit": gaps per county and properties per pipeline stage."""
        return call(a.run_data_audit)

    @server.tool(annotations=write)
    def export_bids(
        path: str | None = None, county: str | None = None, include_pass: bool = False
    ) -> dict[str, Any]:
        """Write the bidder's list (BID and REVIEW properties; PASS too with include_pass).

        path: a .csv or .xlsx file name in the workspace's exports folder (default
        bids.csv). Returns the file's path, the row count and the first rows.
        """
        return call(a.export_bids, path, county, include_pass)

    @server.resource(
        "toolkit://guide",
        name="guide",
        title="Batch processing guide",
        description="The user's batch-processing guide: job types, batch sizes, "
        "commands and the session workflow.",
        mime_type="text/markdown",
    )
    def guide() -> str:
        return guide_text()

    @server.resource(
        "toolkit://job-types",
        name="job-types",
        title="Job types",
        description="The guide's job-type table: batch size, per session, what "
        "each works on, and the research keys a result takes.",
        mime_type="application/json",
    )
    def job_types() -> str:
        return json.dumps(call(a.job_types, error=ResourceError), indent=1)

    @server.resource(
        "toolkit://jobs/active",
        name="active-jobs",
        title="Active jobs",
        description="Every pending, running or paused job with its progress.",
        mime_type="application/json",
    )
    def active_jobs() -> str:
        return json.dumps(call(a.active_jobs, error=ResourceError), indent=1)

    @server.resource(
        "toolkit://jobs/{job_id}/status",
        name="job-status",
        title="Job status",
        description="One job's status (its id, or the first 8 characters).",
        mime_type="application/json",
    )
    def job_status(job_id: str) -> str:
        return json.dumps(call(a.get_batch_status, job_id, error=ResourceError), indent=1)

    @server.prompt(
        name="research_session",
        title="Research session",
        description="One session of the guide's workflow: show pending work, "
        "start or resume a job, 2-4 batches, then pause with the "
        "progress.",
    )
    def research_session(job_type: str = "", county: str = "", batch_size: str = "") -> str:
        return session_prompt(job_type, county, batch_size)

    return server


# -- transports ------------------------------------------------------------------------------


def serve_stdio(assistant: Assistant, *, log_level: str = "WARNING") -> None:
    """Serve over stdin/stdout until the client closes them."""
    build_server(assistant, log_level=log_level).run("stdio")


def token_from_environment() -> tuple[str, bool]:
    """(the bearer token, whether it was generated): ``$TOOLKIT_MCP_TOKEN``, else a new one."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        return secrets.token_urlsafe(32), True
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValidationError(
            f"${TOKEN_ENV} is {len(token)} characters long; use at least {MIN_TOKEN_LENGTH} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')."
        )
    return token, False


class BearerAuth:
    """ASGI wrapper: HTTP requests need ``Authorization: Bearer <token>``, else 401.

    The comparison takes constant time; lifespan events pass through untouched.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k.lower() == b"authorization"), b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":  # (the MCP transports use none; refuse it all the same)
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {
                "error": "unauthorized",
                "message": "This server needs 'Authorization: Bearer <token>': the token "
                f"`toolkit mcp --http` printed, or ${TOKEN_ENV}.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="taxsale-toolkit"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def serve_http(
    assistant: Assistant, token: str, *, port: int = DEFAULT_PORT, log_level: str = "WARNING"
) -> None:
    """Serve streamable HTTP at ``http://127.0.0.1:<port>/mcp`` until interrupted."""
    import uvicorn

    server = build_server(assistant, log_level=log_level)
    app = BearerAuth(server.streamable_http_app(streamable_http_path=PATH, host=HOST), token)
    config = uvicorn.Config(
        app, host=HOST, port=port, log_level=log_level.lower(), access_log=False, lifespan="on"
    )
    _install_log_filter(assistant)
    print(
        f"Serving MCP (streamable HTTP) at http://{HOST}:{port}{PATH} — this machine only.",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(config).run()
