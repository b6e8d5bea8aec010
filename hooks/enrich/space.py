"""Disk full, on this machine or in the warehouse, as one line saying where: an operator can free
space and run the command again; it is neither a bug (a traceback) nor bad data (a parse error)."""

from __future__ import annotations

import errno
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from enrich.errors import EnrichError
from enrich.warehouse import Target

# ClickHouse's own code, and the errno it quotes when a write fails
_ENGINE_NO_SPACE = re.compile(r"NOT_ENOUGH_SPACE|errno: 28\b|No space left on device")
_ENGINE_PATH = re.compile(r"(?:file|path|directory) (/[^\s,:'\"]+)")


def is_no_space(ex: BaseException) -> bool:
    if isinstance(ex, OSError) and ex.errno == errno.ENOSPC:
        return True
    return not isinstance(ex, OSError) and bool(_ENGINE_NO_SPACE.search(str(ex)))


def where(target: Target, ex: BaseException) -> str:
    """The path that ran out of space, as well as the error tells it."""
    if isinstance(ex, OSError):
        # A write without a file name is a temporary copy on its way to the engine.
        return str(ex.filename) if ex.filename else tempfile.gettempdir()
    named = _ENGINE_PATH.search(str(ex))
    if named:
        return named.group(1)
    creds = target.credentials
    return str(creds.path) if target.embedded else f"the ClickHouse server {creds.host}:{creds.port}"


NOTHING_CHANGED = "nothing was changed. Free some space and run the command again"


@contextmanager
def reported(target: Target, outcome: str = NOTHING_CHANGED) -> Iterator[None]:
    """Turn running out of disk space inside the block into a one-line EnrichError; OUTCOME says
    what state the command leaves and what to run."""
    try:
        yield
    except Exception as ex:
        if not is_no_space(ex):
            raise
        raise EnrichError(f"{where(target, ex)}: no space left on device; {outcome}") from None
