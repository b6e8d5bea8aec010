"""The errors an operator can act on, and the exit codes the README documents."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # the gates ran and at least one failed: the results cannot be trusted
    GATES_FAILED = 1
    # the command line is wrong (argparse's own convention)
    USAGE = 2
    # a run is unfinished: continue it with `enrich run --resume` (or start over with --fresh)
    UNFINISHED = 3
    # configuration, connection, engine, input or dbt error: the message says what to fix
    ERROR = 4
    # stopped by a signal after checkpointing the batch in flight (128 + signal number)
    INTERRUPTED = 130
    TERMINATED = 143


class EnrichError(Exception):
    """A problem the operator can fix: printed as one clear message, without a traceback."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(EnrichError):
    """The options contradict each other or the recorded run."""

    exit_code = ExitCode.USAGE


class UnfinishedRun(EnrichError):
    """A plain `enrich run` found an unfinished run's checkpoint."""

    exit_code = ExitCode.UNFINISHED


class LockLost(EnrichError):
    """The warehouse lock was taken over while this runner held it (it was paused past its lease):
    the run stops before its next write, as an error (exit 4)."""


class Cancelled(EnrichError):
    """A second SIGINT/SIGTERM cancelled the dbt work in flight (enrich.stopping): its statements were
    killed or refused. The runner stops with the signal's exit code, the cancelled batch not
    checkpointed."""
