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
    parser.add_argument("--home", default=default,
                        help="runtime directory (default $ENRICH_HOME or ./runtime)")
    parser.add_argument("--target", default=default,
                        help="dbt target: local (embedded chDB, default), server or cluster")


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
        sub = commands.add_parser(name, help=help)
        _global_options(sub, top=False)
        sub.set_defaults(handler=handler)
        return sub

    load = command("load", _cmd_load, "load source tables from NAME.csv / NAME.parquet files in DIR")
    load.add_argument("directory", metavar="DIR")
    load.add_argument("--append", action="store_true", help="add the rows instead of replacing the tables")
    load.add_argument("--allow-empty", action="store_true", help="let a file with no rows empty its table")

    seed = command("seed", _cmd_seed, "generate a deterministic synthetic dataset as the source tables")
    seed.add_argument("--scale", choices=["tiny", "reference", "10x", "100x"], default="reference")
    seed.add_argument("--seed", type=int, default=42)

    export = command("export", _cmd_export, "write a model, source or quarantine to .csv or .parquet")
    export.add_argument("name")
    export.add_argument("--out", required=True)

    run = command("run", _cmd_run, "run Step D, Step E and the gates in resumable batches")
    run.add_argument("--step", choices=["D", "E", "all"], default=None,
                     help="the step(s) to run (default all; a resume keeps the recorded one)")
    run.add_argument("--batch-size", type=int, default=None,
                     help="pairs per batch (default $BATCH_SIZE or automatic)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="continue the unfinished run (or start one); the one restart command")
    mode.add_argument("--fresh", action="store_true", help="drop the results and start over")
    mode.add_argument("--changed", action="store_true",
                      help="rebuild only the partitions whose flows, resolutions or markets changed")
    run.add_argument("--local-checkpoints-only", action="store_true",
                     help="go on without Postgres checkpoints even when POSTGRES_URL is set")
    run.add_argument("--min-resolved", type=_count, default=None, metavar="N",
                     help="the accuracy leaderboard of the closing summary counts wallets with at least N "
                          "resolved positions (default 10)")

    gates = command("gates", _cmd_gates, "run the validation gates (dbt tests) and print the gate table")
    gates.add_argument("--json", action="store_true", help="print the gates as JSON (see README)")

    status = command("status", _cmd_status, "checkpoint, progress, timings, mutations, quarantine")
    status.add_argument("--json", action="store_true", help="print the status as JSON (see README)")

    report = command("report", _cmd_report, "write the results as a static HTML page, DIR/index.html")
    report.add_argument("--out", required=True, metavar="DIR")
    report.add_argument("--min-resolved", type=_count, default=None, metavar="N",
                        help="the accuracy leaderboard counts wallets with at least N resolved positions "
                             "(default 10)")

    reset = command("reset", _cmd_reset, "hard reset (backup, drop results) or rebuild one market")
    what = reset.add_mutually_exclusive_group(required=True)
    what.add_argument("--all", action="store_true",
                      help="back up and drop the P&L and outcome tables, delete the checkpoints")
    what.add_argument("--market", metavar="ID", help="recompute the partitions holding market ID")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation (--all)")

    dims = command("dims", _cmd_dims, "list markets missing from markets_dim, or merge market rows in")
    source = dims.add_mutually_exclusive_group(required=True)
    source.add_argument("--missing", action="store_true", help="list traded markets absent from markets_dim")
    source.add_argument("--from", dest="from_file", metavar="FILE",
                        help="merge market rows from a .csv, .parquet or .jsonl file into markets_dim")
    dims.add_argument("--out", help="file for --missing (default $ENRICH_HOME/missing-markets.txt)")

    dbt = command("dbt", _cmd_dbt, "run dbt with .env.local and --home applied, e.g. enrich dbt test")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
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
