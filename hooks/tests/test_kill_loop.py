"""Reliability: SIGKILL at random moments and at every kill point, restarting only with `enrich run
--resume`, ends with the tables of an uninterrupted run (a file of its own: it is the longest test,
and the test workers share the files out).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from bench import torture
from conftest import enrich_env, run_enrich, seeded_copy
from reliability import (
    LEFTOVERS_SQL,
    RESULT_TABLES,
    ask,
    checksum_sql,
    checksums,
    state,
)

pytestmark = pytest.mark.reliability


# bench/torture.py's next_kill draws a timed kill (at start-up, or among the batches) or a kill point.
# The first 14 draws of this seed name every kind, in an order that lands each of them: the kinds
# that need batches left (checkpoint, replaced, batch, step_completed, finalized) come while the
# 2 x 10 batches last, the gates last. `make torture` kills 100 times at the reference scale.
CRASH_SEED = int(os.environ.get("RELIABILITY_SEED", "936078"))
CRASH_KILLS = int(os.environ.get("RELIABILITY_KILLS", "14"))
KILL_KINDS = {"startup", "batch", *torture.HOOKS}
# a value correction is loaded after this many kills: same rows, same times, other numbers
CORRECTION_AFTER = CRASH_KILLS // 2
CRASH_BATCH_SIZE = "40"  # the tiny scale has 400 pairs: 10 batches per step


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, tiny_seed: Path) -> tuple[dict, dict]:
    """The result tables of an uninterrupted run on the tiny seed, then of one (--fresh: every
    result table dropped and rebuilt) with the fee correction. One home for both: its second run
    reuses dbt's parse of the project instead of a second home parsing it again."""
    home = seeded_copy(tiny_seed, tmp_path_factory.mktemp("uninterrupted"))
    run_enrich(home, "run")
    reference = checksums(home, RESULT_TABLES)
    assert all(count > 0 for count, _ in reference.values()), reference
    torture.correct_fee(home, 1)
    run_enrich(home, "run", "--fresh")
    return reference, checksums(home, RESULT_TABLES)


def test_a_resume_loop_killed_at_random_moments_ends_equal_to_an_uninterrupted_run(
        uninterrupted: tuple[dict, dict], own_pg: str, tiny_seed: Path, tmp_path: Path) -> None:
    """The one restart command (bench/torture.py's machinery, briefly): a --fresh run, then only
    `enrich run --resume`, killed at random moments (before the first checkpoint too) and at every
    kill point; halfway a value correction is loaded. The loop always finishes, with the tables of an
    uninterrupted run on the corrected data."""
    reference, corrected = uninterrupted
    assert corrected != reference  # the correction changes the results
    # a home of its own: the correction must not reach the tests that share `seeded`
    home = seeded_copy(tiny_seed, tmp_path / "home")
    attempts = torture.converge(
        home, enrich_env(POSTGRES_URL=own_pg), random.Random(CRASH_SEED), ("--fresh",), CRASH_KILLS,
        tmp_path / "runs.log", CRASH_BATCH_SIZE,
        between=lambda kill: torture.correct_fee(home, 1) if kill == CORRECTION_AFTER else None)

    kills = [a for a in attempts if a.killed]
    report = "\n".join(f"{i:2d}. {a.how:<18} {' '.join(a.flags):<22} {'killed' if a.killed else 'finished'}: "
                       f"{a.where}" for i, a in enumerate(attempts, 1))
    print(f"\n{len(kills)} kills (seed {CRASH_SEED}):\n{report}")
    kinds = {a.how.split(":")[0].split(" ")[0] for a in kills}
    assert kinds == KILL_KINDS, report

    final = state(home)
    assert final is not None and final.status == "complete" and final.steps_done == ["D", "E"], report
    found = ask(home, {"leftovers": LEFTOVERS_SQL, **{t: checksum_sql(t) for t in RESULT_TABLES}})
    assert found.pop("leftovers") == [], report
    assert {t: rows[0] for t, rows in found.items()} == corrected, report
    assert sorted(p.name for p in home.iterdir() if p.name.endswith(".tmp")) == [], report
