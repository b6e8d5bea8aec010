"""New contents for several source tables at once, swapped in all together or not at all, even
across a kill.

A load or a seed fills one scratch table `<name>__load` per table it replaces. When every one of
them is complete, each is marked with the same table comment `load <id> ready: <names>`; setting
the last mark is the commit point. Then each scratch table is EXCHANGEd with its table (the
comment travels with the data, so a swapped table carries the mark), the swapped tables' marks
become `loaded <id>`, and the scratch tables, which hold the old contents now, are dropped.

`recover_interrupted_load` resolves what a kill left, at the start of the next command: when every
table a mark lists is either marked and not swapped or swapped, the load had committed and the
remaining exchanges are made; otherwise nothing was swapped and the scratch tables are dropped.
"""

from __future__ import annotations

import re
import uuid

from clickhouse_connect.driver.client import Client

from enrich import killpoints
from enrich.ddl import Ddl
from enrich.project import SOURCE_TABLES

SCRATCH_SUFFIX = "__load"
_READY = re.compile(r"^load (?P<id>[0-9a-f]+) ready: (?P<names>[\w,]+)$")


def scratch_name(name: str) -> str:
    return name + SCRATCH_SUFFIX


def is_scratch(table_name: str) -> bool:
    """A swap's scratch table, or a helper table a load parses a file through (`<scratch>__text`)."""
    return any(table_name.startswith(scratch_name(name)) for name in SOURCE_TABLES)


def prepare(ddl: Ddl, name: str) -> str:
    """An empty scratch table shaped like NAME; returns its name."""
    scratch = scratch_name(name)
    ddl.drop_table(scratch)
    ddl.create_table_like(scratch, name)
    return scratch


def commit(client: Client, ddl: Ddl, names: list[str]) -> None:
    """Swap every NAME's full scratch table in, all or none."""
    comments = _comments(client, ddl)
    # A swapped-out table must not carry a mark, or the next recovery could take it for a pending one.
    for name in names:
        if _READY.match(comments.get(name, "")):
            ddl.comment(name, _loaded(comments[name]))
    mark = f"load {uuid.uuid4().hex[:16]} ready: {','.join(names)}"
    for position, name in enumerate(names):
        if position:
            killpoints.reached("load-mark")
        ddl.comment(scratch_name(name), mark)
    killpoints.reached("load-committed")
    _finish(client, ddl, mark)


def recover_interrupted_load(client: Client, ddl: Ddl) -> str | None:
    """Finish a committed load or seed a kill interrupted, or drop an uncommitted one's scratch
    tables; returns what it did, or None when there was nothing to do."""
    comments = _comments(client, ddl)
    scratch = [name for name in comments if is_scratch(name)]
    marks = {comments[scratch_name(n)] for n in SOURCE_TABLES
             if _READY.match(comments.get(scratch_name(n), ""))}
    for mark in marks:
        names = _names(mark)
        if all(mark in (comments.get(scratch_name(n)), comments.get(n)) for n in names):
            _finish(client, ddl, mark)
            return f"finished an interrupted load: {', '.join(names)} swapped in"
    for name in scratch:
        ddl.drop_table(name)
    # Marks left on swapped tables by a kill after the exchanges.
    for name in SOURCE_TABLES:
        if _READY.match(comments.get(name, "")):
            ddl.comment(name, _loaded(comments[name]))
    if not scratch:
        return None
    return "dropped the scratch tables of an interrupted load (no table had been replaced)"


def _finish(client: Client, ddl: Ddl, mark: str) -> None:
    names = _names(mark)
    comments = _comments(client, ddl)
    pending = [n for n in names if comments.get(scratch_name(n)) == mark and comments.get(n) != mark]
    for position, name in enumerate(pending):
        if position:
            killpoints.reached("load-exchange")
        ddl.exchange(name, scratch_name(name))
    for name in names:
        ddl.comment(name, _loaded(mark))
    for name in (n for n in _comments(client, ddl) if is_scratch(n)):
        ddl.drop_table(name)


def _names(mark: str) -> list[str]:
    match = _READY.match(mark)
    assert match is not None
    return match["names"].split(",")


def _loaded(mark: str) -> str:
    match = _READY.match(mark)
    assert match is not None
    return f"loaded {match['id']}"


def _comments(client: Client, ddl: Ddl) -> dict[str, str]:
    rows = client.query("select name, comment from system.tables where database = {db:String}",
                        parameters={"db": ddl.database}).result_rows
    return {str(name): str(comment) for name, comment in rows}
