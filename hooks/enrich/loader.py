"""`enrich load`: the source tables from NAME.csv / NAME.parquet files, all of them or none.

ClickHouse parses the files (`file()` table function), never Python row by row. Every file is
parsed into a scratch table first; the real tables are swapped only when all of them parsed, so
a bad file leaves the warehouse exactly as it was.

Decisions:
- A column the table does not have is an error (its values would be silently dropped).
- `ctf_events` is optional: absent, it is emptied on replace and left alone on append.
- Values that parse but break the contract (shares <= 0, duplicates, ...) load as they are; the
  dbt models quarantine them. Strings are bytes to ClickHouse: non-UTF-8 text loads unchanged
  and is judged by the models, like any other odd id.
- ClickHouse's text parsers default or wrap some values silently (an empty number reads as 0,
  256 as a UInt8 reads as 0, a seventh decimal is cut off, an enum accepts its number). A second
  pass over the raw text turns those into errors too.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from clickhouse_connect.driver.client import Client

from enrich.config import Config
from enrich.dbtsession import DbtSession
from enrich.errors import EnrichError
from enrich.warehouse import connect, quote_identifier, resolve_target, table

SOURCE_TABLES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")
OPTIONAL_TABLES = frozenset({"ctf_events"})
FORMATS = {".csv": "CSVWithNames", ".parquet": "Parquet"}
SCRATCH_SUFFIX = "__load"

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
    "input_format_parquet_allow_missing_columns": 0,
    "input_format_with_names_use_header": 1,
    # One parser reading the file in order, so "(at row N)" and `_row_number` are file rows.
    "input_format_parallel_parsing": 0,
    "max_threads": 1,
}


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

    def describe(self) -> str:
        lines = [f"{self.mode}: {sum(self.rows.values())} rows in {self.seconds:.1f}s"]
        lines += [f"  {name:<12} {count:>10} rows" for name, count in self.rows.items()]
        lines += [f"  {name:<12} no file, left as it was" for name in self.untouched]
        return "\n".join(lines)


def load_directory(config: Config, directory: Path, append: bool = False) -> LoadSummary:
    """Load every source file in DIRECTORY; replace the tables, or add to them with `append`."""
    started = time.monotonic()
    files = find_source_files(directory)
    DbtSession(config).run_operation("create_sources")
    target = resolve_target(config)
    client = connect(target)
    database = target.database
    columns = {name: table_columns(client, database, name) for name in SOURCE_TABLES}
    for source in files.values():
        check_header(client, source, columns[source.table])

    # Replacing with no ctf_events file empties the table: the directory is the whole dataset.
    swapped = [name for name in SOURCE_TABLES if name in files or not append]
    summary = LoadSummary(mode="append" if append else "replace",
                          untouched=[name for name in SOURCE_TABLES if name not in swapped])
    try:
        for name in swapped:
            scratch = _prepare_scratch(client, database, name, keep_rows=append)
            before = _count(client, database, scratch)
            if name in files:
                parse_into(client, files[name], database, scratch, columns[name])
            summary.rows[name] = _count(client, database, scratch) - before
        for name in swapped:
            client.command(f"exchange tables {table(database, name)} and "
                           f"{table(database, name + SCRATCH_SUFFIX)}")
    finally:
        for name in swapped:
            client.command(f"drop table if exists {table(database, name + SCRATCH_SUFFIX)}")
    summary.seconds = time.monotonic() - started
    return summary


def find_source_files(directory: Path) -> dict[str, SourceFile]:
    if not directory.is_dir():
        raise EnrichError(f"{directory}: not a directory")
    found: dict[str, SourceFile] = {}
    for name in SOURCE_TABLES:
        candidates = [directory / f"{name}{suffix}" for suffix in FORMATS]
        present = [path for path in candidates if path.is_file()]
        if len(present) > 1:
            raise EnrichError(f"{directory}: both {present[0].name} and {present[1].name}; keep one")
        if present:
            path = present[0].resolve()
            found[name] = SourceFile(name, path, FORMATS[path.suffix])
        elif name not in OPTIONAL_TABLES:
            raise EnrichError(f"{directory}: missing {name}.csv (or {name}.parquet)")
    return found


def table_columns(client: Client, database: str, name: str) -> list[Column]:
    rows = client.query(
        "select name, type from system.columns where database = {db:String} and table = {t:String} "
        "order by position",
        parameters={"db": database, "t": name},
    ).result_rows
    return [Column(n, t) for n, t in rows]


def check_header(client: Client, source: SourceFile, columns: list[Column]) -> None:
    """The file's columns must be exactly the table's, in any order."""
    if source.format == "Parquet":
        described = _run(client, source, "describe file({path:String}, 'Parquet')")
        names = [row[0] for row in described]
        where = "schema"
    else:
        with source.path.open(newline="", encoding="utf-8", errors="replace") as fh:
            names = next(csv.reader(fh), [])
        names = [n.removeprefix("\ufeff").strip() for n in names]
        where = "line 1"
    expected = [c.name for c in columns]
    problems = []
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"duplicate column(s) {', '.join(duplicated)}")
    missing = [n for n in expected if n not in names]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    unknown = [n for n in names if n not in expected]
    if unknown:
        problems.append(f"unexpected column(s) {', '.join(unknown)} (expected: {', '.join(expected)})")
    if problems:
        raise EnrichError(f"{source.label}: {where}: {'; '.join(problems)}")


def parse_into(client: Client, source: SourceFile, database: str, scratch: str,
               columns: list[Column]) -> None:
    """Insert the parsed file into SCRATCH, or raise an error naming the file, line and column."""
    structure = ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in columns)
    insert = (f"insert into {table(database, scratch)} "
              f"select * from file({{path:String}}, {{format:String}}, {{structure:String}})")
    try:
        _command(client, insert, {"path": str(source.path), "format": source.format, "structure": structure})
    except _ParseFailure as failure:
        raise EnrichError(_describe_parse_error(source, failure.message)) from None
    _check_lossless(client, source, columns)


# -- the second pass: values ClickHouse's text parsers would have changed silently ------------

_INT_TYPE = re.compile(r"U?Int\d+")
_DECIMAL_SCALE = 40


def _text_checks(column: Column, value: str, param: str) -> list[tuple[str, str]]:
    """SQL conditions, each with its reason, that are true when the text VALUE would not load as itself."""
    t = column.type
    if t == "String":
        return []
    checks = [(f"{value} = ''", f"empty value; {t} needs one")]
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


def _check_lossless(client: Client, source: SourceFile, columns: list[Column]) -> None:
    """Raise on the first value the typed parse took but changed, naming its row and column."""
    parameters: dict[str, str] = {"path": str(source.path), "format": source.format}
    if source.format == "Parquet":
        described = _run(client, source, "describe file({path:String}, 'Parquet')")
        file_types = {row[0]: row[1] for row in described}
        source_sql = "file({path:String}, {format:String})"
    else:
        file_types = {c.name: "String" for c in columns}
        parameters["structure"] = ", ".join(f"{quote_identifier(c.name)} String" for c in columns)
        source_sql = "file({path:String}, {format:String}, {structure:String})"
    checks: list[_Check] = []
    for i, column in enumerate(columns):
        param = f"t{i}"
        parameters[param] = column.type
        parameters[f"{param}_e"] = column.type.removeprefix("Array(").removesuffix(")")
        ident = quote_identifier(column.name)
        file_type = file_types[column.name]
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
            checks.append(_Check(column, f"toString({value}) != toString(cast({value}, {{{param}:String}}))",
                                 f"changes when converted from the file's {file_type} to {column.type}"))
    if not checks:
        return
    which = ", ".join(f"{c.sql}, {n}" for n, c in enumerate(checks, start=1))
    shown = ", ".join(f"{c.sql}, toString({quote_identifier(c.column.name)})" for c in checks)
    query = (f"select _row_number, multiIf({which}, 0) as bad, multiIf({shown}, '') "
             f"from {source_sql} where bad != 0 order by _row_number limit 1")
    found_rows = _run(client, source, query, parameters)
    if not found_rows:
        return
    row_number, bad, text = found_rows[0]
    check = checks[bad - 1]
    shown_value = "" if text is None else f"{text!r}: "
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
        return f"{source.label}: {where}: {detail_text or reason}"
    name, type_ = columns[-1]
    value = record[header.index(name)] if record is not None and name in header else None
    shown = "the value" if value is None else repr(value)
    why = detail_text or reason
    return f"{source.label}: {where}, column {name}: cannot parse {shown} as {type_} ({why})"


def _first_line(message: str) -> str:
    text = message.split("\n", 1)[0]
    text = re.sub(r"^Code: \d+\. DB::Exception: ", "", text)
    return _AT_ROW.sub("", text).rstrip(" :")


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
    with source.path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
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
    header = [n.removeprefix("\ufeff").strip() for n in _csv_record(source, 0)[1] or []]
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
        client.command(sql, parameters=parameters, settings=STRICT_SETTINGS)
    except Exception as ex:
        raise _ParseFailure(_exception_text(ex)) from ex


def _run(client: Client, source: SourceFile, sql: str, parameters: dict[str, str] | None = None) -> list:
    try:
        return client.query(sql, parameters=parameters or {"path": str(source.path)},
                            settings=STRICT_SETTINGS).result_rows
    except Exception as ex:
        raise EnrichError(f"{source.label}: cannot read: {_first_line(_exception_text(ex))}") from None


def _prepare_scratch(client: Client, database: str, name: str, keep_rows: bool) -> str:
    scratch = name + SCRATCH_SUFFIX
    client.command(f"drop table if exists {table(database, scratch)}")
    client.command(f"create table {table(database, scratch)} as {table(database, name)}")
    if keep_rows:
        client.command(f"insert into {table(database, scratch)} select * from {table(database, name)}")
    return scratch


def _count(client: Client, database: str, name: str) -> int:
    return int(client.query(f"select count() from {table(database, name)}").result_rows[0][0])
