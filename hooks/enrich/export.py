"""`enrich export`: one table or view of the target database to a .csv or .parquet file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from enrich.config import Config
from enrich.errors import EnrichError
from enrich.warehouse import connect, resolve_target, table

FORMATS = {".csv": "CSVWithNames", ".parquet": "Parquet"}


def export_relation(config: Config, name: str, out: Path) -> int:
    """Write NAME (a model, a source or the quarantine) to OUT; return the number of rows written.

    The data goes to a temporary file renamed over OUT at the end, so a failed export leaves
    no half-written file behind.
    """
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise EnrichError(f"{out}: unknown format; use a .csv or .parquet file name")
    target = resolve_target(config)
    client = connect(target)
    available = [row[0] for row in client.query(
        "select name from system.tables where database = {db:String} and not is_temporary order by name",
        parameters={"db": target.database},
    ).result_rows]
    if name not in available:
        listed = ", ".join(available) or "none; run `enrich load` or `enrich seed` first"
        raise EnrichError(
            f"no table or view named {name!r} in database {target.database}; available: {listed}"
        )
    relation = table(target.database, name)
    # Counted up front: the streamed bytes do not say how many rows they hold.
    rows = int(client.query(f"select count() from {relation}").result_rows[0][0])
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with client.raw_stream(f"select * from {relation}", fmt=fmt) as stream, partial.open("wb") as fh:
            for chunk in stream:
                fh.write(chunk)
        os.replace(partial, out)
    except OSError as ex:
        # An operator's destination problem (read-only, full, not a directory): one line, no traceback.
        reason = ex.strerror or type(ex).__name__
        raise EnrichError(f"{out}: cannot write: {reason}; nothing was written") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return rows
