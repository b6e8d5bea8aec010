"""A test double of a ClickHouse server: the embedded engine (chDB) behind ClickHouse's HTTP interface.

No ClickHouse server can be installed here, so the server and cluster paths run against this:
clickhouse-connect and dbt-clickhouse talk to it unchanged, and every statement runs on the real
engine. Only the transport is imitated, and where chDB is laxer than a server it behaves like one:
- one statement per request (a server refuses multi-statements);
- `file()` reads only under the server's own user_files directory (its working directory), and
  `url()`, `FROM INFILE` and `INTO OUTFILE` are refused: a client's files are not the server's;
- a login other than the configured user and password fails with AUTHENTICATION_FAILED (516);
- statements run one at a time (one engine), except `KILL QUERY` and reads of `system.processes`,
  which a server answers while other statements run (each on a handle of its own), so a client
  can find and kill a statement in flight over a second connection.

With `--cluster NAME` it also stands in for a cluster: every DDL statement must carry
`ON CLUSTER NAME` (stripped before it runs), created MergeTree-family tables must be Replicated
(run as their plain variant: chDB has no Keeper), and `clusterAllReplicas(NAME, system.X)` reads
the one node. Violations are recorded and served as JSON at `/_recorder`.

Run it as `python chdb_http.py --data DIR --port N [--user U --password P] [--cluster NAME]`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email.parser
import email.policy
import gzip
import json
import os
import re
import threading
import time
import traceback
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters the HTTP layer consumes; every other one (but param_*) is a setting.
TRANSPORT_PARAMS = frozenset({
    "query", "database", "default_format", "session_id", "session_timeout", "session_check", "query_id",
    "quota_key", "compress", "decompress", "wait_end_of_query", "client_protocol_version", "role",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "enable_http_compression",
    "buffer_size", "user", "password", "max_result_bytes", "max_result_rows",
})
RESULT_KEYWORDS = frozenset({"select", "with", "show", "describe", "desc", "exists", "explain", "check"})
DDL_KEYWORDS = frozenset({"create", "alter", "drop", "exchange", "rename", "truncate"})
HTTP_STATUS = {62: 400, 60: 404, 81: 404, 291: 403, 516: 401, 48: 501}


class ServerError(Exception):
    """An error the server reports as ClickHouse does: `Code: N. DB::Exception: ...`."""

    def __init__(self, code: int, message: str, name: str):
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code = code


# ---- SQL tokens -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # ws, comment, string, ident (quoted), word, param, punct
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<ident>`(?:[^`\\]|\\.|``)*`|"(?:[^"\\]|\\.|"")*")
  | (?P<param>\{[A-Za-z_][A-Za-z0-9_]*:[^{}]*\})
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*|\d[\w.]*)
  | (?P<punct>.)
""", re.X | re.S)


def tokenize(sql: str) -> list[Token]:
    return [Token(m.lastgroup or "punct", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(sql)]


def significant(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind not in ("ws", "comment")]


def unquote(token: Token, params: dict[str, str]) -> str:
    """The value of a literal, quoted identifier, bare word or bound {name:Type} parameter."""
    if token.kind in ("string", "ident"):
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if token.kind == "param":
        return unescape_param(params.get(token.text[1:].split(":", 1)[0], ""))
    return token.text


def unescape_param(value: str) -> str:
    """A bound parameter as sent over HTTP (TSV escaping), or a quoted literal, as its text."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1]
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "0": "\0"}.get(m.group(1), m.group(1)), value)


def first_keyword(tokens: list[Token]) -> str:
    for token in significant(tokens):
        if token.kind == "word":
            return token.word
        if token.text != "(":
            return ""
    return ""


def check_single_statement(tokens: list[Token]) -> None:
    seen_end = None
    for token in significant(tokens):
        if token.text == ";":
            seen_end = token
        elif seen_end is not None:
            raise ServerError(62, "Syntax error (Multi-statements are not allowed): failed at position "
                                  f"{seen_end.start + 1} (end of query)", "SYNTAX_ERROR")


def check_file_access(tokens: list[Token], params: dict[str, str], user_files: Path) -> None:
    """Refuse what a server would: file() outside user_files, and the client-side file clauses."""
    sig = significant(tokens)
    for i, token in enumerate(sig):
        following = sig[i + 1] if i + 1 < len(sig) else None
        if token.word in ("infile", "outfile") and i > 0 and sig[i - 1].word in ("from", "into"):
            raise ServerError(48, f"{sig[i - 1].text.upper()} {token.text.upper()} is a client-side clause; "
                                  "the server has no access to the client's files", "NOT_IMPLEMENTED")
        if following is None or following.text != "(":
            continue
        if token.word in ("url", "urlcluster"):
            raise ServerError(291, f"{token.text}() reads from the server's network, not the client's; "
                                   "this test server refuses it", "DATABASE_ACCESS_DENIED")
        if token.word in ("file", "filecluster"):
            argument = sig[i + 3] if token.word == "filecluster" and i + 3 < len(sig) else (
                sig[i + 2] if i + 2 < len(sig) else None)
            if argument is None or argument.kind not in ("string", "param"):
                continue
            raw = unquote(argument, params)
            path = Path(os.path.normpath(raw if os.path.isabs(raw) else user_files / raw))
            if not (path == user_files or str(path).startswith(str(user_files) + os.sep)):
                raise ServerError(291, f"File `{raw}` is not inside `{user_files}{os.sep}`",
                                  "DATABASE_ACCESS_DENIED")


# ---- cluster statement recorder ---------------------------------------------------------------

_ENGINE = re.compile(r"^(Replicated)?(\w*MergeTree)$")


@dataclass
class Recorder:
    """Checks and strips the cluster parts of statements, keeping what it saw."""

    cluster: str
    statements: list[str] = field(default_factory=list)
    violations: list[dict[str, str]] = field(default_factory=list)

    def violation(self, kind: str, sql: str) -> None:
        self.violations.append({"kind": kind, "statement": " ".join(sql.split())[:2000]})

    def rewrite(self, sql: str, params: dict[str, str]) -> str:
        tokens = tokenize(sql)
        edits: list[tuple[int, int, str]] = []
        keyword = first_keyword(tokens)
        sig = significant(tokens)
        if keyword in DDL_KEYWORDS and not self._temporary(sig):
            self.statements.append(" ".join(sql.split()))
            self._on_cluster(sql, sig, params, edits)
            if keyword == "create":
                self._engine(sql, sig, edits)
        if keyword == "system" and self._sync_replica(sig):
            # one node, no replication queue to wait for
            return "select 1 where 0"
        self._cluster_functions(sql, sig, params, edits)
        for start, end, text in sorted(edits, reverse=True):
            sql = sql[:start] + text + sql[end:]
        return sql

    @staticmethod
    def _sync_replica(sig: list[Token]) -> bool:
        return [t.word for t in sig[1:3]] == ["sync", "replica"]

    @staticmethod
    def _temporary(sig: list[Token]) -> bool:
        return len(sig) > 1 and sig[1].word == "temporary"

    def _on_cluster(self, sql: str, sig: list[Token], params: dict[str, str],
                    edits: list[tuple[int, int, str]]) -> None:
        depth = 0
        for i, token in enumerate(sig[:-2]):
            depth += token.text == "("
            depth -= token.text == ")"
            if depth == 0 and token.word == "on" and sig[i + 1].word == "cluster":
                name = unquote(sig[i + 2], params)
                if name != self.cluster:
                    self.violation(f"ON CLUSTER {name}, expected {self.cluster}", sql)
                edits.append((token.start, sig[i + 2].end, " "))
                return
        self.violation("missing ON CLUSTER", sql)

    def _engine(self, sql: str, sig: list[Token], edits: list[tuple[int, int, str]]) -> None:
        depth = 0
        for i, token in enumerate(sig):
            depth += token.text == "("
            depth -= token.text == ")"
            if depth != 0 or token.word != "engine":
                continue
            j = i + 1 + (i + 1 < len(sig) and sig[i + 1].text == "=")
            if j >= len(sig):
                return
            match = _ENGINE.match(sig[j].text)
            if not match:
                return
            if not match.group(1):
                self.violation(f"table engine {sig[j].text} is not Replicated", sql)
                return
            end = sig[j].end
            if j + 1 < len(sig) and sig[j + 1].text == "(":
                # ZooKeeper path and replica name come first, as string literals when given
                args = sig[j + 2:]
                strip = 0
                while strip < 2 and strip * 2 < len(args) and args[strip * 2].kind == "string":
                    strip += 1
                if strip:
                    last = args[strip * 2 - 1] if args[strip * 2 - 1].text == "," else args[strip * 2 - 2]
                    end = last.end
                    edits.append((sig[j].start, end, match.group(2) + "("))
                    return
            edits.append((sig[j].start, sig[j].end, match.group(2)))
            return

    def _cluster_functions(self, sql: str, sig: list[Token], params: dict[str, str],
                           edits: list[tuple[int, int, str]]) -> None:
        uses_shard_num = any(t.word == "_shard_num" for t in sig)
        for i, token in enumerate(sig):
            if token.word not in ("clusterallreplicas", "cluster"):
                continue
            if i + 2 >= len(sig) or sig[i + 1].text != "(":
                continue
            if token.word == "cluster" and i > 0 and sig[i - 1].word == "on":
                continue
            name = unquote(sig[i + 2], params)
            if name != self.cluster:
                self.violation(f"{token.text}({name}, ...), expected cluster {self.cluster}", sql)
            depth, close = 0, None
            for k in range(i + 1, len(sig)):
                depth += sig[k].text == "("
                depth -= sig[k].text == ")"
                if depth == 0:
                    close = k
                    break
            if close is None:
                return
            inner = [t for t in sig[i + 4:close]]
            relation = "".join(t.text if t.text != "," else "." for t in inner)
            if uses_shard_num:
                relation = f"(select *, toUInt32(1) as _shard_num from {relation})"
            edits.append((token.start, sig[close].end, relation))


# ---- the engine -------------------------------------------------------------------------------

@dataclass
class Result:
    body: bytes
    fmt: str | None
    summary: dict[str, str]


class Engine:
    """One chDB engine; a connection handle per HTTP session, statements one at a time."""

    def __init__(self, data: Path, recorder: Recorder | None):
        self.data = data
        self.user_files = Path.cwd().resolve()
        self.scratch = data / "http_tmp"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.recorder = recorder
        self.lock = threading.Lock()
        # chDB keeps the engine while any handle is open: this one lives as long as the server
        self.anchor = chdb.connect(str(data))
        self.sessions: dict[str, tuple[object, dict[str, str]]] = {}
        self.version = self.anchor.query("select version()", "TabSeparated").bytes().decode().strip()
        self.timezone = self.anchor.query("select timezone()", "TabSeparated").bytes().decode().strip()

    def execute(self, sql: str, data: bytes | None, fmt: str, params: dict[str, str],
                settings: dict[str, str], database: str | None, session: str | None) -> Result:
        params = {k.removeprefix("param_"): v for k, v in params.items()}
        tokens = tokenize(sql)
        check_single_statement(tokens)
        check_file_access(tokens, params, self.user_files)
        result_format = None
        scratch = None
        if data is not None:
            scratch = self.scratch / f"{uuid.uuid4().hex}.data"
            scratch.write_bytes(data)
            sql = from_infile(sql, tokens, scratch)
        elif first_keyword(tokens) in RESULT_KEYWORDS:
            trailing = re.search(r"\bformat\s+(\w+)\s*;?\s*$", sql, re.I)
            result_format = trailing.group(1) if trailing else fmt
        # the one statement kind a test needs next to a running one; anything else waits its turn
        beside = first_keyword(tokens) == "kill" or any(
            t.kind in ("word", "ident") and t.text.lower() in ("processes", "`processes`") for t in tokens)
        with contextlib.nullcontext() if beside else self.lock:
            if self.recorder is not None:
                sql = self.recorder.rewrite(sql, params)
            conn, applied = (chdb.connect(str(self.data)), {}) if beside else self._handle(session)
            try:
                for name, value in settings.items():
                    if applied.get(name) != value:
                        self._run(conn, f"set {name} = {quote(value)}", "TabSeparated", {})
                        applied[name] = value
                if database:
                    self._run(conn, f"use `{database.replace('`', '``')}`", "TabSeparated", {})
                started = time.monotonic()
                result = self._run(conn, sql, fmt, params)
            finally:
                if session is None or beside:
                    conn.close()
                if scratch is not None:
                    scratch.unlink(missing_ok=True)
        body = result.bytes() or b""
        rows, size = str(result.rows_read()), str(result.bytes_read())
        written = (rows, size) if data is not None else ("0", "0")
        summary = {"read_rows": rows, "read_bytes": size, "total_rows_to_read": rows,
                   "written_rows": written[0], "written_bytes": written[1],
                   "result_rows": "0", "result_bytes": str(len(body)),
                   "elapsed_ns": str(int((time.monotonic() - started) * 1e9))}
        return Result(body, result_format, summary)

    def _handle(self, session: str | None) -> tuple[object, dict[str, str]]:
        if session is None:
            return chdb.connect(str(self.data)), {}
        if session not in self.sessions:
            self.sessions[session] = (chdb.connect(str(self.data)), {})
        return self.sessions[session]

    @staticmethod
    def _run(conn: object, sql: str, fmt: str, params: dict[str, str]):
        try:
            return conn.query(sql, fmt, params=params)  # type: ignore[attr-defined]
        except Exception as ex:
            message = str(ex)
            at = message.find("Code: ")
            raise EngineError(message[at:] if at >= 0 else message) from None

    def close(self) -> None:
        for conn, _ in self.sessions.values():
            conn.close()  # type: ignore[attr-defined]
        self.anchor.close()


class EngineError(Exception):
    """An error chDB raised, already in ClickHouse's `Code: N. DB::Exception:` form."""

    @property
    def code(self) -> int:
        match = re.match(r"Code: (\d+)", str(self))
        return int(match.group(1)) if match else 1002


def from_infile(sql: str, tokens: list[Token], path: Path) -> str:
    """`INSERT ... FORMAT X` whose data came in the request body, reading it from PATH instead."""
    sig = significant(tokens)
    fmt_at = max(i for i, t in enumerate(sig) if t.word == "format")
    depth, settings_at = 0, None
    for t in sig[:fmt_at]:
        depth += t.text == "("
        depth -= t.text == ")"
        if depth == 0 and t.word == "settings":
            settings_at = t.start
    insert_at = settings_at if settings_at is not None else sig[fmt_at].start
    return f"{sql[:insert_at]} from infile {quote(str(path))} {sql[insert_at:]}"


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def split_insert_data(text: str) -> tuple[str, int] | None:
    """For `INSERT ... FORMAT X <data>`: the statement and the offset where the data starts."""
    tokens = tokenize(text)
    if first_keyword(tokens) != "insert":
        return None
    sig = significant(tokens)
    for i, token in enumerate(sig[:-1]):
        if token.word == "format" and sig[i + 1].kind == "word":
            end = sig[i + 1].end
            rest = text[end:]
            skip = len(rest) - len(rest.lstrip(" \t"))
            if rest[skip:skip + 2] == "\r\n":
                skip += 2
            elif rest[skip:skip + 1] == "\n":
                skip += 1
            return text[:end], end + skip
        if token.word in ("select", "values", "with"):
            return None
    return None


# ---- HTTP ---------------------------------------------------------------------------------------

def decompress(data: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return data
    from clickhouse_connect.driver._backend.httpcommon import decompress_response

    return decompress_response(data, encoding)


def compress(data: bytes, accepted: str) -> tuple[bytes, str | None]:
    names = [part.split(";")[0].strip() for part in accepted.split(",")]
    if "lz4" in names:
        import lz4.frame

        return lz4.frame.compress(data), "lz4"
    if "gzip" in names:
        return gzip.compress(data, 1), "gzip"
    if "deflate" in names:
        return zlib.compress(data, 1), "deflate"
    return data, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code: int, message: str, query_id: str) -> None:
        body = f"{message} (version {self.server.engine.version})\n".encode()
        self._send(HTTP_STATUS.get(code, 500), body, {
            "X-ClickHouse-Exception-Code": str(code), "X-ClickHouse-Query-Id": query_id,
            "Content-Type": "text/plain; charset=UTF-8"})

    def _handle(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/ping", "/ping/"):
            self._send(200, b"Ok.\n")
            return
        if url.path == "/_recorder":
            recorder = self.server.engine.recorder
            state = {"statements": recorder.statements, "violations": recorder.violations} if recorder else {}
            self._send(200, json.dumps(state).encode(), {"Content-Type": "application/json"})
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        body = self._body() if self.command == "POST" else b""
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            if self.headers.get_content_type() == "multipart/form-data":
                params.update(self._form(body))
                body = b""
            body = decompress(body, self.headers.get("Content-Encoding"))
            self._authenticate(params)
            self._query(params, body, query_id)
        except ServerError as ex:
            self._error(ex.code, str(ex), query_id)
        except EngineError as ex:
            self._error(ex.code, str(ex), query_id)
        except Exception as ex:  # a bug of this server: the client still gets a ClickHouse error
            traceback.print_exc()
            message = f"Code: 1001. DB::Exception: {type(ex).__name__}: {ex}. (STD_EXCEPTION)"
            self._error(1001, message, query_id)

    def _form(self, body: bytes) -> dict[str, str]:
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[name] = part.get_payload(decode=True).decode()
        return fields

    def _authenticate(self, params: dict[str, str]) -> None:
        user, password = "default", ""
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        elif self.headers.get("X-ClickHouse-User"):
            user, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        elif "user" in params:
            user, password = params["user"], params.get("password", "")
        if (user, password) != (self.server.user, self.server.password):
            raise ServerError(516, f"{user}: Authentication failed: password is incorrect, or there is no "
                                   "user with such name", "AUTHENTICATION_FAILED")

    def _query(self, params: dict[str, str], body: bytes, query_id: str) -> None:
        engine = self.server.engine
        data = None
        if "query" in params:
            sql = params["query"]
            if body:
                if split_insert_data(sql + "\n") is not None:
                    data = body
                else:
                    sql = f"{sql}\n{body.decode()}"
        else:
            text = body.decode("latin-1")
            split = split_insert_data(text)
            if split is not None:
                sql = split[0].encode("latin-1").decode()
                data = body[split[1]:]
            else:
                sql = body.decode()
        if not sql.strip():
            self._send(200, b"Ok.\n")
            return
        settings = {k: v for k, v in params.items()
                    if k not in TRANSPORT_PARAMS and not k.startswith("param_")}
        bound = {k: v for k, v in params.items() if k.startswith("param_")}
        fmt = params.get("default_format") or "TabSeparated"
        result = engine.execute(sql, data, fmt, bound, settings, params.get("database") or None,
                                params.get("session_id") or None)
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Timezone": engine.timezone,
                   "X-ClickHouse-Summary": json.dumps(result.summary),
                   "X-ClickHouse-Server-Display-Name": "chdb-http",
                   "Content-Type": "text/plain; charset=UTF-8"}
        if result.fmt:
            headers["X-ClickHouse-Format"] = result.fmt
        payload = result.body
        if params.get("enable_http_compression") == "1" and self.headers.get("Accept-Encoding"):
            payload, encoding = compress(payload, self.headers["Accept-Encoding"])
            if encoding:
                headers["Content-Encoding"] = encoding
        self._send(200, payload, headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, engine: Engine, user: str, password: str):
        super().__init__(("127.0.0.1", port), Handler)
        self.engine = engine
        self.user = user
        self.password = password


def serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="chDB data directory")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    parser.add_argument("--cluster", default=None, help="check and strip ON CLUSTER NAME")
    args = parser.parse_args(argv)
    engine = Engine(args.data.resolve(), Recorder(args.cluster) if args.cluster else None)
    server = Server(args.port, engine, args.user, args.password)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        engine.close()


if __name__ == "__main__":
    serve()
