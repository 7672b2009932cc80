"""One error tree for the whole toolkit.

Every message names the bad value and, where there is a closed set, the valid
choices. Driver errors are re-raised as one of these ``from`` the original.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose."""


# --- bad input -------------------------------------------------------------


class ValidationError(ToolkitError, ValueError):
    """A value given by the caller is not acceptable; nothing was changed."""


class UnknownChoiceError(ValidationError):
    """A name that is not one of a known set; suggests the closest."""

    def __init__(self, what: str, value: object, choices: Iterable[str]) -> None:
        self.what = what
        self.value = value
        self.choices = sorted(str(c) for c in choices)
        close = difflib.get_close_matches(str(value), self.choices, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(
            f"Unknown {what} {value!r}.{hint} Valid choices: {', '.join(self.choices)}."
        )


class UnknownJobTypeError(UnknownChoiceError):
    def __init__(self, value: object, choices: Iterable[str]) -> None:
        super().__init__("job type", value, choices)


class UnknownCountyError(UnknownChoiceError):
    def __init__(self, value: object, choices: Iterable[str]) -> None:
        super().__init__("county", value, choices)


class AmbiguousCountyError(ValidationError):
    pass


class InvalidBatchSizeError(ValidationError):
    pass


class JobNotFoundError(ValidationError, LookupError):
    """A job id that is malformed or names no job."""


# --- lifecycle -------------------------------------------------------------


class InvalidTransitionError(ToolkitError):
    """The job's status does not allow the requested action."""


class JobPausedError(InvalidTransitionError):
    """Work was asked of a paused job."""


class ActiveJobExistsError(ToolkitError):
    """Another job of the same type and county is already active."""


# --- processors and sources ------------------------------------------------


class ProcessorError(ToolkitError):
    """A processor returned something that is not a result."""


class ItemError(ToolkitError):
    """One item failed; the batch goes on. The message is stored as its error."""


class ItemSkipped(ToolkitError):
    """The item cannot be worked now (e.g. "needs research"); not a failure."""


class ItemInterrupted(ToolkitError):
    """A pause stopped an item's work midway: the item stays pending, not failed."""


class FatalSourceError(ToolkitError):
    """A failure that retrying cannot fix (bad credentials): pause the job at once."""


class SourceError(ToolkitError):
    """An outside service or local layer failed for one request."""


class NotFoundError(SourceError, ItemError):
    """The service answered, and the thing is not there."""


class DocumentError(ItemError):
    """A document cannot be parsed (encrypted, truncated, not a PDF, no text layer)."""


class ConfigError(ValidationError):
    """A configuration file or profile value is invalid."""


# --- storage ---------------------------------------------------------------


class StoreError(ToolkitError):
    """The database refused or failed."""


class LockTimeoutError(StoreError):
    """The workspace file stayed locked by another process for too long."""


class WorkspaceDamagedError(StoreError):
    """The workspace file cannot be read: truncated, or its blocks fail their checksums."""


class DiskFullError(StoreError):
    """The disk holding the workspace has no room left for a write; nothing was lost."""


class NotAWorkspaceError(StoreError):
    """A database that holds other tables than the toolkit's, opened without ``init=True``."""


class SchemaVersionError(StoreError):
    """The workspace was written by a newer toolkit."""


class MissingDependencyError(ToolkitError, ImportError):
    """An optional extra is not installed; the message says which pip install fixes it."""
