"""An AI assistant drives the toolkit: the guide's commands as MCP tools (``toolkit mcp``).

* :mod:`toolkit.assistant.tools` — :class:`Assistant`: the guide's functions as
  calls that take and return plain JSON values, over the public
  :class:`~toolkit.workspace.Workspace` API and :mod:`toolkit.phrases`. No MCP
  SDK needed, so it is tested and usable on its own.
* :mod:`toolkit.assistant.server` — the MCP server over it (the official SDK,
  ``mcp`` 2.x: ``MCPServer``): tools, resources and the "research session"
  prompt; stdio, or streamable HTTP on 127.0.0.1 behind a bearer token.

The SDK is an optional extra: ``pip install 'taxsale-toolkit[mcp]'``. Nothing
here is imported by ``import toolkit`` or ``toolkit --help``. See
``docs/assistant.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Assistant": "toolkit.assistant.tools",
    "build_server": "toolkit.assistant.server",
    "require_sdk": "toolkit.assistant.server",
    "serve_http": "toolkit.assistant.server",
    "serve_stdio": "toolkit.assistant.server",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'toolkit.assistant' has no attribute {name!r}")
