"""The `enrich` command: load, seed, run the steps, show the gates, export.

Every operator error ends in one line on stderr and a documented exit code (`enrich.errors.ExitCode`),
never a traceback. An unexpected exception (a bug) prints one line too and leaves its traceback in
`<home>/enrich-errors.log`.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from enrich.config import Config
from enrich.errors import EnrichError, ExitCode


def _cmd_load(args: argparse.Namespace, config: Config) -> int:
    from enrich import loader

    summary = loader.load_directory(config, Path(args.directory), append=args.append,
                                    allow_empty=args.allow_empty)
    print(summary.describe())
    return 0


def _cmd_seed(args: argparse.Namespace, config: Config) -> int:
    from enrich import seed

    summary = seed.seed(config, scale=args.scale, seed=args.seed)
    print(summary.describe())
    return 0


def _cmd_export(args: argparse.Namespace, config: Config) -> int:
    from enrich.export import export_relation

    rows = export_relation(config, args.name, Path(args.out))
    print(f"exported {rows} rows of {args.name} to {args.out}")
    return 0


def _cmd_run(args: argparse.Namespace, config: Config) -> int:
    from enrich import runner

    return runner.main(config, args)


def _cmd_gates(args: argparse.Namespace, config: Config) -> int:
    from enrich import gates

    return gates.main(config, args)


def _cmd_status(args: argparse.Namespace, config: Config) -> int:
    from enrich import status

    return status.main(config, args)


def _cmd_reset(args: argparse.Namespace, config: Config) -> int:
    from enrich import reset

    return reset.main(config, args)


def _cmd_dims(args: argparse.Namespace, config: Config) -> int:
    from enrich import dims

    return dims.main(config, args)


def _cmd_dbt(args: argparse.Namespace, config: Config) -> int:
    """dbt on this project from any directory, with dbt's own exit code (0 success, 1 a model or
    test failed, 2 dbt itself failed)."""
    from dbt.cli.main import dbtRunner

    argv = list(args.dbt_args)
    if argv and not argv[0].startswith("-"):
        defaults = [("--project-dir", config.project_dir), ("--profiles-dir", config.profiles_dir)]
        if config.is_shipped_project:
            # dbt writes target/ and logs/ under the project by default: inside site-packages
            # here, so they go to the home (as the runner's do), unless the environment says where
            defaults += [(option, config.home / "dbt" / folder)
                         for option, folder, variable in (("--target-path", "target", "DBT_TARGET_PATH"),
                                                          ("--log-path", "logs", "DBT_LOG_PATH"))
                         if not os.environ.get(variable)]
        for option, value in defaults:
            if option not in argv:
                argv += [option, str(value)]
    result = dbtRunner().invoke(argv)
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def _cmd_report(args: argparse.Namespace, config: Config) -> int:
    from enrich import report

    return report.main(config, args)


def _count(text: str) -> int:
    """A whole number >= 0, or argparse's usage error (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    parts = []
    for package in ("polymarket-enrich", "dbt-core", "dbt-clickhouse", "clickhouse-connect", "chdb-core"):
        try:
            parts.append(f"{package} {installed(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} (not installed)")
    return f"enrich {parts[0].split(' ', 1)[1]} ({', '.join(parts[1:])})"


def _global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """--home and --target, accepted before and after the subcommand.

    On a subcommand they default to SUPPRESS, so one given before the subcommand is not
    overwritten by the subparser's default.
    """
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--home", default=default, metavar="DIR",
                        help="the runtime directory: checkpoints, logs, dbt's files and the embedded "
                             "database (default $ENRICH_HOME, else ./runtime)")
    parser.add_argument("--target", default=default, metavar="NAME",
                        help="where the warehouse is: local (embedded chDB), server or cluster "
                             "(default $ENRICH_TARGET, else local)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enrich",
        description="P&L (Step D) and resolution accuracy (Step E) for a prediction-market warehouse.",
        epilog="exit codes: 0 ok, 1 a gate failed, 2 usage, 3 an unfinished run needs --resume, "
               "4 error, 130/143 stopped by SIGINT/SIGTERM",
    )
    parser.add_argument("--version", action="version", version=version())
    _global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace, Config], int], help: str,
                ) -> argparse.ArgumentParser:
        # the sentence is the subcommand's line in `enrich --help` and heads its own --help
        sub = commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        _global_options(sub, top=False)
        sub.set_defaults(handler=handler)
        return sub

    load = command("load", _cmd_load, "load the source tables from NAME.csv or NAME.parquet files in DIR, "
                                      "all tables or none")
    load.add_argument("directory", metavar="DIR",
                      help="the folder holding trades_raw, ctf_events (optional), markets_dim and "
                           "resolutions as .csv or .parquet")
    load.add_argument("--append", action="store_true",
                      help="add the files' rows to their tables and leave the tables without a file as "
                           "they are (default: replace every table)")
    load.add_argument("--allow-empty", action="store_true",
                      help="let a file with no rows empty a non-empty table (default: refused)")

    seed = command("seed", _cmd_seed, "replace the source tables with a deterministic synthetic dataset")
    seed.add_argument("--scale", choices=["tiny", "reference", "10x", "100x"], default="reference",
                      help="the dataset's size: tiny (400 pairs), reference (136,931 pairs), 10x or 100x "
                           "(default reference)")
    seed.add_argument("--seed", type=int, default=42,
                      help="the random seed; the same seed writes the same rows (default 42)")

    export = command("export", _cmd_export, "write a model, a source table or the quarantine to a .csv or "
                                            ".parquet file")
    export.add_argument("name", metavar="NAME",
                        help="what to write: a model (e.g. wallet_category_accuracy), a source table or "
                             "quarantine")
    export.add_argument("--out", required=True, metavar="FILE",
                        help="the file to write; its suffix, .csv or .parquet, picks the format (required)")

    run = command("run", _cmd_run, "run Step D, Step E and the gates in resumable, checkpointed batches")
    run.add_argument("--step", choices=["D", "E", "all"], default=None,
                     help="the step(s) to run: D (P&L), E (resolution accuracy) or all, which ends with "
                          "the gates (default all; a resume keeps the recorded one)")
    run.add_argument("--batch-size", type=int, default=None, metavar="N",
                     help="pairs per batch (default $BATCH_SIZE, else as few even batches as 1,000,000 "
                          "pairs per batch allows)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the unfinished run, start one when there is none, or bring a "
                           "complete one up to date: the one restart command")
    mode.add_argument("--fresh", action="store_true",
                      help="start over: drop every result table and rebuild it all (a new checkpoint "
                           "replaces the old one)")
    mode.add_argument("--changed", action="store_true",
                      help="rebuild only the partitions whose flows, resolutions or markets changed since "
                           "the last complete run")
    run.add_argument("--local-checkpoints-only", action="store_true",
                     help="keep checkpoints in the local state file only, even when POSTGRES_URL is set "
                          "(default: Postgres too)")
    run.add_argument("--min-resolved", type=_count, default=None, metavar="N",
                     help="the accuracy leaderboard of the closing summary counts wallets with at least N "
                          "resolved positions (default 10)")

    gates = command("gates", _cmd_gates, "run the validation gates (dbt tests) and print one line per gate; "
                                         "exit 1 when one fails")
    gates.add_argument("--json", action="store_true",
                       help="print one JSON document instead of the table (fields in the README)")

    status = command("status", _cmd_status, "show the checkpoint, progress and ETA, timings, pending "
                                            "mutations, table sizes and quarantine counts")
    status.add_argument("--json", action="store_true",
                        help="print one JSON document instead of the text (fields in the README)")

    report = command("report", _cmd_report, "write the results as a static HTML page, DIR/index.html, "
                                            "with charts, the leaderboards, the gates and the batch timings")
    report.add_argument("--out", required=True, metavar="DIR",
                        help="the folder to write index.html into (created when missing; required)")
    report.add_argument("--min-resolved", type=_count, default=None, metavar="N",
                        help="the accuracy leaderboard counts wallets with at least N resolved positions "
                             "(default 10)")

    reset = command("reset", _cmd_reset, "hard reset (back up, then drop the results) or rebuild the "
                                         "partitions of one market")
    what = reset.add_mutually_exclusive_group(required=True)
    what.add_argument("--all", action="store_true",
                      help="back up the P&L and outcome tables to Parquet, delete the checkpoints, then "
                           "drop the tables")
    what.add_argument("--market", metavar="ID",
                      help="recompute exactly the batch-key partitions holding market ID")
    reset.add_argument("--yes", action="store_true",
                       help="do not ask for confirmation before --all (default: ask on a terminal, refuse "
                            "without one)")

    dims = command("dims", _cmd_dims, "list the markets missing from markets_dim, or merge market rows "
                                      "into it")
    source = dims.add_mutually_exclusive_group(required=True)
    source.add_argument("--missing", action="store_true",
                        help="list the traded markets absent from markets_dim (gate 1)")
    source.add_argument("--from", dest="from_file", metavar="FILE",
                        help="merge market rows from a .csv, .parquet or .jsonl file into markets_dim")
    dims.add_argument("--out", metavar="FILE",
                      help="the file --missing writes (default $ENRICH_HOME/missing-markets.txt)")

    dbt = command("dbt", _cmd_dbt, "run dbt on this project with .env.local and --home applied, e.g. "
                                   "enrich dbt test; exits with dbt's code")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, metavar="DBT_ARGS",
                     help="dbt's command and options, passed as they are (e.g. build --select pnl)")
    return parser


def _operator_error(ex: BaseException) -> EnrichError | None:
    """The one-line form of an error the operator can fix, None for a bug."""
    from dbt.adapters.chdb.engine import EngineError

    if isinstance(ex, EnrichError):
        return ex
    if isinstance(ex, EngineError):
        return EnrichError(" ".join(str(ex).split()))
    if isinstance(ex, OSError) and ex.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
        where = f" ({ex.filename})" if ex.filename else ""
        return EnrichError(f"{ex.strerror}{where}; free space or fix the permissions, then run the "
                           "command again (`enrich run --resume` continues a run)")
    # dbt's errors can only come from a command that imported dbt: no import just to ask
    if "dbt_common.exceptions" in sys.modules:
        from dbt.adapters.exceptions import FailedToConnectError
        from dbt_common.exceptions import DbtRuntimeError

        if isinstance(ex, (FailedToConnectError, DbtRuntimeError)):
            return EnrichError(" ".join(str(ex).split()))
    return None


def _scrub(text: str) -> str:
    """Never print a secret, whatever a driver put in its message."""
    from enrich.checkpoints import scrub

    password = os.environ.get("CLICKHOUSE_PASSWORD")
    if password:
        text = text.replace(password, "***")
    url = os.environ.get("POSTGRES_URL")
    return scrub(text, url) if url else text


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace, Config], int] = args.handler
    config: Config | None = None
    try:
        config = Config.from_env(home=args.home, target=args.target)
        return handler(args, config)
    except BrokenPipeError:
        # the reader went away (`enrich status | head`): nothing more to say, and nothing for the
        # interpreter to fail on when it flushes stdout at exit; 141 as for a shell's SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except Exception as ex:
        known = _operator_error(ex)
        if known is not None:
            print(f"enrich: {_scrub(str(known))}", file=sys.stderr)
            return int(known.exit_code)
        log = (config.home if config else Path.cwd()) / "enrich-errors.log"
        try:
            with log.open("a") as fh:
                fh.write(_scrub(f"--- {datetime.now(UTC).isoformat()} enrich {' '.join(sys.argv[1:])}\n"
                                + traceback.format_exc()))
            where = f"; the traceback is in {log}"
        except OSError:
            where = ""
        message = _scrub(" ".join(str(ex).split())[:500])
        print(f"enrich: unexpected error (please report it): {type(ex).__name__}: {message}{where}",
              file=sys.stderr)
        return int(ExitCode.ERROR)


if __name__ == "__main__":
    sys.exit(main())
