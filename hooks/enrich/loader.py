"""`enrich load`: the source tables from NAME.csv / NAME.parquet files, all of them or none.

The files travel from this process to the warehouse in INSERT bodies, and ClickHouse parses them,
never Python row by row. The engine never opens a client path: on a server that would be the
server's disk, and ClickHouse Cloud has no `file()` at all. Every file is parsed into a scratch
table first; the tables are swapped in (`enrich.swap`) only when all of them parsed, so a bad file
leaves the warehouse exactly as it was, and a kill leaves a swap the next command completes.

Decisions:
- A column the table does not have is an error (its values would be silently dropped).
- `ctf_events` is optional: absent, it is emptied on replace. An append adds the tables whose
  files are present and leaves the others as they are (appending one table needs one file).
- A file holding no rows does not replace a table holding some without `--allow-empty`: a
  truncated export must not silently empty the warehouse.
- Values that parse but break the contract (shares <= 0, duplicates, ...) load as they are; the
  dbt models quarantine them. Strings are bytes to ClickHouse: non-UTF-8 text loads unchanged
  and is judged by the models, like any other odd id.
- ClickHouse's text parsers default or wrap some values silently (an empty number reads as 0,
  256 as a UInt8 reads as 0, a seventh decimal is cut off, a seventh digit of a second too, an
  enum accepts its number, spaces around an unquoted field are trimmed). Trimming is turned off
  (input is taken as written, docs/domain.md section 7) and a second pass over the raw text
  turns the rest into errors naming file, line and column.
"""

from __future__ import annotations

import csv
import re
import stat
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from clickhouse_connect.driver.client import Client

from enrich import space, swap
from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.ddl import Ddl
from enrich.errors import EnrichError
from enrich.swap import SOURCE_TABLES
from enrich.warehouse import connect, quote_identifier, resolve_target, table

OPTIONAL_TABLES = frozenset({"ctf_events"})
FORMATS = {".csv": "CSVWithNames", ".parquet": "Parquet"}
BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20

# Nothing may be skipped or defaulted while parsing; the files are the whole truth.
STRICT_SETTINGS = {
    "input_format_allow_errors_num": 0,
    "input_format_allow_errors_ratio": 0,
    "input_format_csv_empty_as_default": 0,
    "input_format_null_as_default": 0,
    "input_format_defaults_for_omitted_fields": 0,
    "input_format_csv_use_default_on_bad_values": 0,
    "input_format_csv_allow_variable_number_of_columns": 0,
    "input_format_csv_enum_as_number": 0,
    # An unquoted field is taken as written (docs/domain.md section 7): `t1` and `t1 ` are two ids,
    # and a number with spaces around it is an error (the second pass names it), never trimmed.
    "input_format_csv_trim_whitespaces": 0,
    "input_format_parquet_allow_missing_columns": 0,
    "input_format_with_names_use_header": 1,
    # One parser reading the file in order, so "(at row N)" and the row numbers are file rows.
    "input_format_parallel_parsing": 0,
    "input_format_parquet_preserve_order": 1,
    "max_threads": 1,
}
# An upload is one statement: a replicated table must not drop a block equal to an earlier one,
# and the rows must be in the table when the INSERT returns.
UPLOAD_SETTINGS = {**STRICT_SETTINGS, "insert_deduplicate": 0, "async_insert": 0}
# The file's row number, 0-based, given by the engine as the rows of one upload arrive in order.
ROW_COLUMN = "_row"


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: Path
    format: str

    @property
    def label(self) -> str:
        return self.path.name


@dataclass
class LoadSummary:
    mode: str
    rows: dict[str, int] = field(default_factory=dict)
    untouched: list[str] = field(default_factory=list)
    seconds: float = 0.0
    recovered: str | None = None

    def describe(self) -> str:
        lines = [f"note: {self.recovered}"] if self.recovered else []
        lines += [f"{self.mode}: {sum(self.rows.values())} rows in {self.seconds:.1f}s"]
        lines += [f"  {name:<12} {count:>10} rows" for name, count in self.rows.items()]
        lines += [f"  {name:<12} no file, left as it was" for name in self.untouched]
        return "\n".join(lines)


def load_directory(config: Config, directory: Path, append: bool = False,
                   allow_empty: bool = False) -> LoadSummary:
    """Load every source file in DIRECTORY; replace the tables, or add to them with `append`."""
    started = time.monotonic()
    files = find_source_files(directory, every_table=not append)
    DbtSession(config).run_operation("create_sources")
    target = resolve_target(config)
    client = connect(target)
    ddl = Ddl.for_target(client, target)
    database = target.database
    # Replacing with no ctf_events file empties the table: the directory is the whole dataset.
    swapped = [name for name in SOURCE_TABLES if name in files or not append]
    summary = LoadSummary(mode="append" if append else "replace",
                          untouched=[name for name in SOURCE_TABLES if name not in swapped])
    with space.reported(target):
        summary.recovered = swap.recover_interrupted_load(client, ddl)
        columns = {name: table_columns(client, database, name) for name in SOURCE_TABLES}
        try:
            with ExitStack() as stack:
                staged = {name: stack.enter_context(staged_file(ddl, source, swap.scratch_name(name)))
                          for name, source in files.items()}
                for name, file in staged.items():
                    check_header(file, columns[name])
                for name in swapped:
                    scratch = swap.prepare(ddl, name)
                    if append:
                        client.command(f"insert into {table(database, scratch)} "
                                       f"select * from {table(database, name)}")
                    summary.rows[name] = (parse_into(ddl, staged[name], scratch, columns[name])
                                          if name in staged else 0)
            if not append and not allow_empty:
                _refuse_emptying(client, database, files, summary.rows)
            swap.commit(client, ddl, swapped)
        except BaseException:
            # Drops what was not committed, completes what was.
            swap.recover_interrupted_load(client, ddl)
            raise
    summary.seconds = time.monotonic() - started
    return summary


def _refuse_emptying(client: Client, database: str, files: dict[str, SourceFile],
                     rows: dict[str, int]) -> None:
    for name, source in files.items():
        if rows[name] == 0 and (current := _count(client, database, name)) > 0:
            raise EnrichError(f"{source.label}: no rows, and loading it would empty {name} ({current} rows); "
                              "pass --allow-empty to do that")


def find_source_files(directory: Path, every_table: bool = True) -> dict[str, SourceFile]:
    """The source files in DIRECTORY; with EVERY_TABLE each required table must have one."""
    if not directory.is_dir():
        raise EnrichError(f"{directory}: not a directory")
    found: dict[str, SourceFile] = {}
    for name in SOURCE_TABLES:
        candidates = [directory / f"{name}{suffix}" for suffix in FORMATS]
        present = [path for path in candidates if path.exists() or path.is_symlink()]
        if len(present) > 1:
            raise EnrichError(f"{directory}: both {present[0].name} and {present[1].name}; keep one")
        if present:
            # Not resolved: the file keeps the name that says which table it is for.
            path = present[0].absolute()
            check_readable(path)
            found[name] = SourceFile(name, path, FORMATS[path.suffix])
        elif every_table and name not in OPTIONAL_TABLES:
            raise EnrichError(f"{directory}: missing {name}.csv (or {name}.parquet)")
    if not found:
        names = ", ".join(f"{name}.csv" for name in SOURCE_TABLES)
        raise EnrichError(f"{directory}: no source file (one or more of {names}, or .parquet)")
    return found


def check_readable(path: Path) -> None:
    """A regular file this process can read (a symlink counts as what it points to)."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise EnrichError(f"{path}: not a regular file")
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as ex:
        raise EnrichError(f"{path}: cannot read: {ex.strerror or type(ex).__name__}") from None


def table_columns(client: Client, database: str, name: str) -> list[Column]:
    rows = client.query(
        "select name, type from system.columns where database = {db:String} and table = {t:String} "
        "and default_kind != 'MATERIALIZED' "
        "order by position",
        parameters={"db": database, "t": name},
    ).result_rows
    return [Column(n, t) for n, t in rows]


@dataclass(frozen=True)
class StagedFile:
    """A source file ready to parse: its columns, and for Parquet its bytes in the warehouse."""

    source: SourceFile
    # the file's column names in its order (a name may repeat: check_header says so)
    names: list[str]
    # their types in the file (every value of a text format is its text)
    types: dict[str, str]
    # the table holding a Parquet file's bytes: Parquet is read from its footer, so it is uploaded
    # whole once and read from there, and its schema is the engine's reading of it
    blob: str | None
    # prefix of helper tables the parse creates
    base: str


@contextmanager
def staged_file(ddl: Ddl, source: SourceFile, base: str) -> Iterator[StagedFile]:
    """SOURCE, staged for `check_header` and `parse_into`; helper tables are named BASE__*."""
    if source.format != "Parquet":
        names = _text_header(source)
        yield StagedFile(source, names, dict.fromkeys(names, "String"), None, base)
        return
    blob = f"{base}__blob"
    ddl.drop_table(blob)
    try:
        ddl.create_table(blob, "data String", "MergeTree", "tuple()", if_not_exists=False)
        try:
            _upload(ddl.client, source, table(ddl.database, blob), "RawBLOB", ["data"])
        except _ParseFailure as failure:
            raise EnrichError(f"{source.label}: cannot read: {_first_line(failure.message)}") from None
        described = _run(ddl.client, source, f"describe format(Parquet, (select data from "
                                              f"{table(ddl.database, blob)}))")
        yield StagedFile(source, [row[0] for row in described], {row[0]: row[1] for row in described},
                         blob, base)
    finally:
        ddl.drop_table(blob)


def _text_header(source: SourceFile) -> list[str]:
    """The names in a text file's first record; utf-8-sig: a BOM before a quoted name is no part of it."""
    if source.format == "JSONEachRow":
        return []
    with source.path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        names = next(csv.reader(fh), [])
    return [n.strip() for n in names]


def check_header(staged: StagedFile, columns: list[Column]) -> None:
    """The file's columns must be exactly the table's, in any order."""
    names = staged.names
    where = "schema" if staged.source.format == "Parquet" else "line 1"
    expected = [c.name for c in columns]
    if names and not set(names) & set(expected):
        # Not a header of this table at all; its text may be anything, so it is not echoed.
        raise EnrichError(f"{staged.source.label}: {where}: none of the columns of {staged.source.table} "
                          f"({', '.join(expected)})")
    problems = []
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"duplicate column(s) {', '.join(_bounded(n, _VALUE_CHARS) for n in duplicated)}")
    missing = [n for n in expected if n not in names]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    unknown = [n for n in names if n not in expected]
    if unknown:
        shown = ", ".join(_bounded(n, _VALUE_CHARS) for n in unknown[:_SHOWN_NAMES])
        more = " ..." if len(unknown) > _SHOWN_NAMES else ""
        problems.append(f"unexpected column(s) {shown}{more} (expected: {', '.join(expected)})")
    if problems:
        raise EnrichError(f"{staged.source.label}: {where}: {'; '.join(problems)}")


def parse_into(ddl: Ddl, staged: StagedFile, scratch: str, columns: list[Column]) -> int:
    """Insert the parsed file into SCRATCH and return its row count, or raise an error naming the
    file, line and column."""
    client, source, database = ddl.client, staged.source, ddl.database
    structure = ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in columns)
    before = _count(client, database, scratch)
    text = f"{staged.base}__text"
    try:
        try:
            if staged.blob is not None:
                blob_sql = f"(select data from {table(database, staged.blob)})"
                _command(client, f"insert into {table(database, scratch)} "
                                 f"select * from format(Parquet, {{structure:String}}, {blob_sql})",
                         {"structure": structure})
                parsed = _count(client, database, scratch) - before
                rows_sql = (f"(select rowNumberInAllBlocks() as {ROW_COLUMN}, * "
                            f"from format(Parquet, {blob_sql}))")
            else:
                _upload(client, source, table(database, scratch), source.format)
                parsed = _count(client, database, scratch) - before
                # The raw text of every value, numbered in file order, for the second pass.
                names = [c.name for c in columns]
                ddl.drop_table(text)
                ddl.create_table(text, ", ".join([f"{quote_identifier(n)} String" for n in names]
                                                 + [f"{ROW_COLUMN} UInt64 default rowNumberInAllBlocks()"]),
                                 "MergeTree", ROW_COLUMN, if_not_exists=False)
                _upload(client, source, table(database, text), source.format, names)
                uploaded = _count(client, database, text)
                if uploaded != parsed:
                    raise EnrichError(f"{source.label}: the upload was interrupted ({parsed} rows parsed, "
                                      f"{uploaded} read back); run the command again")
                rows_sql = table(database, text)
        except _ParseFailure as failure:
            raise EnrichError(_describe_parse_error(source, failure.message)) from None
        _check_lossless(client, source, columns, staged.types, rows_sql)
        return parsed
    finally:
        ddl.drop_table(text)


def _upload(client: Client, source: SourceFile, target_table: str, fmt: str,
            column_names: list[str] | None = None) -> None:
    """Stream the file's bytes (after a UTF-8 BOM, if any) into TARGET_TABLE, parsed as FMT."""
    with source.path.open("rb") as fh:
        if fh.read(len(BOM)) != BOM:
            fh.seek(0)
        try:
            client.raw_insert(target_table, column_names, _chunks(fh), settings=UPLOAD_SETTINGS, fmt=fmt)
        except Exception as ex:
            if isinstance(ex, OSError) or space.is_no_space(ex):
                raise
            raise _ParseFailure(_exception_text(ex)) from ex


def upload_lines(client: Client, source: SourceFile, target_table: str) -> None:
    """Every line of the file as a row of TARGET_TABLE's `line` column."""
    try:
        _upload(client, source, target_table, "LineAsString", ["line"])
    except _ParseFailure as failure:
        raise EnrichError(f"{source.label}: cannot read: {_first_line(failure.message)}") from None


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        yield chunk


# -- the second pass: values ClickHouse's text parsers would have changed silently ------------

_INT_TYPE = re.compile(r"U?Int\d+")
_DATETIME64 = re.compile(r"DateTime64\((\d+)")
_DECIMAL_SCALE = 40


def _text_checks(column: Column, value: str, param: str) -> list[tuple[str, str]]:
    """SQL conditions, each with its reason, that are true when the text VALUE would not load as itself."""
    t = column.type
    if t == "String":
        return []
    checks = [(f"{value} = ''", f"empty value; {t} needs one"),
              # unquoted spaces are kept as written: around a number they are an error, not trimmed
              (f"match({value}, '^\\s|\\s$')", f"spaces around the value; {t} takes none")]
    if (precision := _DATETIME64.match(t)) is not None:
        # a time keeps the digits its type has (microseconds for block_time and resolved_at);
        # more would be cut off silently
        checks.append((f"length(extract({value}, '\\.([0-9]+)')) > {precision.group(1)}",
                       f"more than {precision.group(1)} fractional digits of a second"))
    if _INT_TYPE.fullmatch(t):
        checks.append((f"accurateCastOrNull({value}, {{{param}:String}}) is null", f"out of range for {t}"))
    elif t.startswith("Decimal("):
        checks.append((
            f"ifNull(toDecimal256OrNull({value}, {_DECIMAL_SCALE}) "
            f"!= toDecimal256(accurateCastOrNull({value}, {{{param}:String}}), {_DECIMAL_SCALE}), true)",
            f"does not fit {t} exactly (too many digits)",
        ))
    elif t.startswith("Enum"):
        checks.append((f"toString(cast({value}, {{{param}:String}})) != {value}",
                       f"not one of the names of {t}"))
    elif (inner := t.removeprefix("Array(").removesuffix(")")) != t and _INT_TYPE.fullmatch(inner):
        checks.append((
            f"arrayExists(x -> accurateCastOrNull(x, {{{param}_e:String}}) is null, "
            f"extractAll({value}, '-?[0-9]+'))",
            f"an element is out of range for {inner}",
        ))
    return checks


@dataclass(frozen=True)
class _Check:
    column: Column
    sql: str
    reason: str


def _check_lossless(client: Client, source: SourceFile, columns: list[Column], file_types: dict[str, str],
                    rows_sql: str) -> None:
    """Raise on the first value the typed parse took but changed, naming its row and column.

    ROWS_SQL holds the file's values as the file types them (every value's text for a text
    format), numbered in file order in `_row`."""
    parameters: dict[str, str] = {}
    checks: list[_Check] = []
    for i, column in enumerate(columns):
        param = f"t{i}"
        parameters[param] = column.type
        parameters[f"{param}_e"] = column.type.removeprefix("Array(").removesuffix(")")
        ident = quote_identifier(column.name)
        file_type = file_types.get(column.name, "String")
        value = ident
        if file_type.startswith("Nullable("):
            checks.append(_Check(column, f"isNull({ident})", "null value"))
            file_type = file_type.removeprefix("Nullable(").removesuffix(")")
            value = f"assumeNotNull({ident})"
        if source.format == "CSVWithNames" and column.type == "String":
            # CSV writes NULL as \N, and a String column reads it back as those two characters:
            # an exported NULL id would load as a real-looking one.
            parameters["csv_null"] = "\\N"
            checks.append(_Check(column, f"{ident} = {{csv_null:String}}",
                                 "a NULL, which the contract does not allow"))
        if file_type == "String":
            checks += [_Check(column, sql, reason) for sql, reason in _text_checks(column, value, param)]
        elif file_type != column.type:
            # a time is compared by value: a file's milliseconds in a microsecond column print
            # with more zeros but are the same instant; digits the column cannot hold still differ
            times = file_type.startswith("DateTime") and column.type.startswith("DateTime")
            same = ("{v} = cast({v}, {{{p}:String}})" if times
                    else "toString({v}) = toString(cast({v}, {{{p}:String}}))")
            checks.append(_Check(column, f"not ({same.format(v=value, p=param)})",
                                 f"changes when converted from the file's {file_type} to {column.type}"))
    if not checks:
        return
    which = ", ".join(f"{c.sql}, {n}" for n, c in enumerate(checks, start=1))
    shown = ", ".join(f"{c.sql}, toString({quote_identifier(c.column.name)})" for c in checks)
    query = (f"select {ROW_COLUMN}, multiIf({which}, 0) as bad, multiIf({shown}, '') "
             f"from {rows_sql} where bad != 0 order by {ROW_COLUMN} limit 1")
    found_rows = _run(client, source, query, parameters)
    if not found_rows:
        return
    row_number, bad, text = found_rows[0]
    check = checks[bad - 1]
    shown_value = "" if text is None else f"{_quoted(text)}: "
    where = _where(source, row_number + 1)
    raise EnrichError(f"{source.label}: {where}, column {check.column.name}: {shown_value}{check.reason}")


# -- errors ------------------------------------------------------------------------------------

class _ParseFailure(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_AT_ROW = re.compile(r"\(at row (\d+)\)")
_COLUMN_LINE = re.compile(r"Column \d+,\s+name: (.+?),\s+type: (.+?),\s+(?:parsed text|ERROR)")


def _describe_parse_error(source: SourceFile, message: str) -> str:
    """ClickHouse's parse error as `FILE: line N, column C: cannot parse 'V' as T (why)`."""
    reason = _first_line(message)
    row = _AT_ROW.search(message)
    if row is None:
        return f"{source.label}: {reason}"
    row_number = int(row.group(1))
    where = _where(source, row_number)
    header, record = _csv_header_and_record(source, row_number)
    if record is not None and len(record) != len(header):
        return f"{source.label}: {where}: {len(record)} field(s), the header has {len(header)}"
    block = message.split(f"\nRow {row_number}:\n", 1)[-1]
    detail = re.search(r"ERROR:? ?(.*)", block)
    detail_text = detail.group(1).strip() if detail else ""
    # The failing column's line ends in "ERROR"; it is the last column line up to there.
    columns = _COLUMN_LINE.findall(block[: detail.start() + len("ERROR")] if detail else block)
    if not columns:
        return f"{source.label}: {where}: {_bounded(detail_text or reason)}"
    name, type_ = columns[-1]
    value = record[header.index(name)] if record is not None and name in header else None
    shown = "the value" if value is None else _quoted(value)
    why = _bounded(detail_text or reason)
    return f"{source.label}: {where}, column {name}: cannot parse {shown} as {type_} ({why})"


def _first_line(message: str) -> str:
    text = message.split("\n", 1)[0]
    # An INSERT's parse error arrives wrapped: "Code: 27. DB::Exception: Code: 27. DB::Exception: ..."
    text = re.sub(r"^(Code: \d+\. DB::Exception: )+", "", text)
    return _bounded(_AT_ROW.sub("", text).rstrip(" :"))


# A value or a reason is shown up to this many characters: a file's text, however long, must not
# make the error message as long.
_VALUE_CHARS = 60
_REASON_CHARS = 300
_SHOWN_NAMES = 10


def _bounded(text: str, limit: int = _REASON_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _quoted(value: str) -> str:
    if len(value) <= _VALUE_CHARS:
        return repr(value)
    return f"{value[:_VALUE_CHARS]!r}... ({len(value):,} characters)"


def _where(source: SourceFile, row_number: int) -> str:
    """`line M` of a CSV data row (1-based, after the header); `row N` of a Parquet file."""
    if source.format != "CSVWithNames":
        return f"row {row_number}"
    line = _csv_record(source, row_number)[0]
    return f"line {line}" if line is not None else f"row {row_number}"


def _csv_record(source: SourceFile, row_number: int) -> tuple[int | None, list[str] | None]:
    """The first line and the fields of data row ROW_NUMBER; quoted fields may span lines."""
    # ClickHouse took the file, so Python's default 128 KB field limit must not fail the error
    # report; no field is longer than the file.
    csv.field_size_limit(max(csv.field_size_limit(), source.path.stat().st_size))
    with source.path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.reader(fh)
        start = 1
        for index, record in enumerate(reader):
            if index == row_number:
                return start, record
            start = reader.line_num + 1
    return None, None


def _csv_header_and_record(source: SourceFile, row_number: int) -> tuple[list[str], list[str] | None]:
    if source.format != "CSVWithNames":
        return [], None
    header = [n.strip() for n in _csv_record(source, 0)[1] or []]
    return header, _csv_record(source, row_number)[1]


# -- ClickHouse calls --------------------------------------------------------------------------

def _exception_text(ex: Exception) -> str:
    # A message quoting non-UTF-8 input bytes fails to decode in the driver; the bytes survive.
    cause = ex.__cause__
    while cause is not None:
        if isinstance(cause, UnicodeDecodeError):
            return bytes(cause.object).decode("utf-8", errors="replace")
        cause = cause.__cause__
    return str(ex)


def _command(client: Client, sql: str, parameters: dict[str, str]) -> None:
    try:
        client.command(sql, parameters=parameters, settings=UPLOAD_SETTINGS)
    except Exception as ex:
        if space.is_no_space(ex):
            raise
        raise _ParseFailure(_exception_text(ex)) from ex


def _run(client: Client, source: SourceFile, sql: str, parameters: dict[str, str] | None = None) -> list:
    try:
        return client.query(sql, parameters=parameters or None, settings=STRICT_SETTINGS).result_rows
    except Exception as ex:
        if space.is_no_space(ex):
            raise
        raise EnrichError(f"{source.label}: cannot read: {_first_line(_exception_text(ex))}") from None


def _count(client: Client, database: str, name: str) -> int:
    return int(client.query(f"select count() from {table(database, name)}").result_rows[0][0])
