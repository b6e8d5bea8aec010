"""The `enrich` command: load, seed, run the steps, show the gates, export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from enrich.config import Config
from enrich.errors import EnrichError


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
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(args.dbt_args)
    return 0 if result.success else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enrich",
        description="P&L (Step D) and resolution accuracy (Step E) for a prediction-market warehouse.",
    )
    parser.add_argument("--home", help="runtime directory (default $ENRICH_HOME or ./runtime)")
    parser.add_argument("--target", help="dbt target: local (embedded chDB, default), server or cluster")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    load = commands.add_parser("load", help="load source tables from NAME.csv / NAME.parquet files in DIR")
    load.add_argument("directory", metavar="DIR")
    load.add_argument("--append", action="store_true", help="add the rows instead of replacing the tables")
    load.add_argument("--allow-empty", action="store_true", help="let a file with no rows empty its table")
    load.set_defaults(handler=_cmd_load)

    seed = commands.add_parser("seed", help="generate a deterministic synthetic dataset as the source tables")
    seed.add_argument("--scale", choices=["tiny", "reference", "10x"], default="reference")
    seed.add_argument("--seed", type=int, default=42)
    seed.set_defaults(handler=_cmd_seed)

    export = commands.add_parser("export", help="write a model, source or quarantine to .csv or .parquet")
    export.add_argument("name")
    export.add_argument("--out", required=True)
    export.set_defaults(handler=_cmd_export)

    run = commands.add_parser("run", help="run Step D, Step E and the gates in resumable batches")
    run.add_argument("--step", choices=["D", "E", "all"], default="all")
    run.add_argument("--batch-size", type=int, default=None,
                     help="pairs per batch (default $BATCH_SIZE or automatic)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue after the last committed batch")
    mode.add_argument("--fresh", action="store_true", help="discard the checkpoint and start over")
    mode.add_argument("--changed", action="store_true",
                      help="rebuild only the partitions whose flows, resolutions or markets changed")
    run.add_argument("--local-checkpoints-only", action="store_true",
                     help="go on without Postgres checkpoints even when POSTGRES_URL is set")
    run.set_defaults(handler=_cmd_run)

    gates = commands.add_parser("gates", help="run the validation gates (dbt tests) and print the gate table")
    gates.set_defaults(handler=_cmd_gates)

    status = commands.add_parser("status", help="checkpoint, progress, timings, mutations, quarantine")
    status.set_defaults(handler=_cmd_status)

    reset = commands.add_parser("reset", help="hard reset (backup, drop results) or rebuild one market")
    what = reset.add_mutually_exclusive_group(required=True)
    what.add_argument("--all", action="store_true",
                      help="back up and drop the P&L and outcome tables, delete the checkpoints")
    what.add_argument("--market", metavar="ID", help="recompute the partitions holding market ID")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation (--all)")
    reset.set_defaults(handler=_cmd_reset)

    dims = commands.add_parser("dims", help="list markets missing from markets_dim, or merge market rows in")
    source = dims.add_mutually_exclusive_group(required=True)
    source.add_argument("--missing", action="store_true", help="list traded markets absent from markets_dim")
    source.add_argument("--from", dest="from_file", metavar="FILE",
                        help="merge market rows from a .csv, .parquet or .jsonl file into markets_dim")
    dims.add_argument("--out", help="file for --missing (default $ENRICH_HOME/missing-markets.txt)")
    dims.set_defaults(handler=_cmd_dims)

    dbt = commands.add_parser("dbt", help="run dbt with .env.local and --home applied, e.g. enrich dbt test")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(handler=_cmd_dbt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace, Config], int] = args.handler
    try:
        config = Config.from_env(home=args.home, target=args.target)
        return handler(args, config)
    except EnrichError as ex:
        print(f"enrich: {ex}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
