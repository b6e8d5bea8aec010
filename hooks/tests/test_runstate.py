"""The run-state core without a warehouse: the start decision, the checkpoint transitions, plan
packing, the state file and the Postgres store. All in-process."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import asdict
from pathlib import Path

import psycopg
import pytest

from enrich.checkpoints import (
    JOB,
    Checkpoint,
    CheckpointWriter,
    DamagedCheckpoint,
    LedgerRow,
    PgStore,
    read_local,
    redact_url,
    state_path,
    write_local,
)
from enrich.errors import EnrichError, ExitCode
from enrich.events import EventLog, read_events
from enrich.project import Step
from enrich.runstate import (
    MAX_DEFAULT_BATCH_PAIRS,
    Decision,
    Options,
    RunState,
    batch_size_option,
    decide,
    default_batch_size,
    pack_ranges,
    ranges_over,
)

WAREHOUSE = "clickhouse://ch.internal:8443/polymarket"
STEPS = (
    Step("D", "step_d", ("pnl", "pnl_positions"), ()),
    Step("E", "step_e", ("wallet_resolution_outcomes",), ("wallet_accuracy",)),
)
TABLES = ["pnl", "pnl_positions", "wallet_resolution_outcomes", "wallet_accuracy"]


# --- plan packing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "size", "expected"),
    [
        # 5+5 fills 10; the third key would make 15
        ([5, 5, 5, 5], 10, [(0, 1), (2, 3)]),
        # 7+3 = 10 fits; 12 alone exceeds the size and gets its own range; zero keys never open one
        ([0, 0, 7, 0, 3, 0, 12, 0], 10, [(0, 5), (6, 7)]),
        # nothing anywhere: one range over every key
        ([0, 0, 0, 0], 1, [(0, 3)]),
        # the smallest size: one key with pairs per range, the empty key rides along
        ([1, 1, 0, 1], 1, [(0, 0), (1, 2), (3, 3)]),
        # a single key
        ([9], 3, [(0, 0)]),
        # leading empty keys join the first range, trailing ones the last
        ([0, 4, 4, 0], 5, [(0, 1), (2, 3)]),
    ],
)
def test_pack_ranges_hand_computed(pairs: list[int], size: int, expected: list[tuple[int, int]]) -> None:
    assert pack_ranges(pairs, size) == expected


def test_pack_ranges_covers_every_key_once_within_size() -> None:
    rng = random.Random(7)
    for _ in range(200):
        pairs = [rng.choice([0, 0, 1, 3, 8, 40]) for _ in range(rng.randint(1, 64))]
        size = rng.randint(1, 60)
        ranges = pack_ranges(pairs, size)
        covered = [k for lo, hi in ranges for k in range(lo, hi + 1)]
        assert covered == list(range(len(pairs)))
        for lo, hi in ranges:
            keys_with_pairs = [k for k in range(lo, hi + 1) if pairs[k]]
            # over the size only when a single key is that large on its own
            assert sum(pairs[lo : hi + 1]) <= size or len(keys_with_pairs) == 1
        # greedy: a range plus the next range's first non-empty key would have been too big
        for (lo, hi), (nlo, nhi) in itertools.pairwise(ranges):
            first = next(pairs[k] for k in range(nlo, nhi + 1) if pairs[k])
            assert sum(pairs[lo : hi + 1]) + first > size


def test_ranges_over_changed_keys_are_contiguous_runs_split_by_size() -> None:
    pairs = [5] * 10
    # keys 1-3 form one run (15 pairs: split at 10), 7 another; 0, 4-6, 8-9 are left alone
    assert ranges_over({1, 2, 3, 7}, pairs, 10) == [(1, 2), (3, 3), (7, 7)]
    assert ranges_over(set(), pairs, 10) == []


def test_pack_ranges_rejects_a_batch_size_below_one() -> None:
    with pytest.raises(ValueError):
        pack_ranges([1, 2], 0)


def test_default_batch_size_is_as_few_even_batches_as_the_bound_allows() -> None:
    # the reference scale fits one batch; a key's pairs never split a range
    reference = [535] * 256
    assert len(pack_ranges(reference, default_batch_size(reference))) == 1
    for per_key, keys in ((5_349, 256), (53_489, 256), (1_000, 1_369), (MAX_DEFAULT_BATCH_PAIRS, 3)):
        pairs = [per_key] * keys
        wanted = -(-sum(pairs) // MAX_DEFAULT_BATCH_PAIRS)
        ranges = pack_ranges(pairs, default_batch_size(pairs))
        assert wanted <= len(ranges) <= wanted + 1, (per_key, keys)
        held = [sum(pairs[lo:hi + 1]) for lo, hi in ranges]
        # even, and within the bound unless a single key exceeds it
        assert max(held) <= min(-(-sum(pairs) // wanted) + per_key, max(MAX_DEFAULT_BATCH_PAIRS, per_key))
    uneven = [0] * 100 + [7] + [0] * 155
    assert pack_ranges(uneven, default_batch_size(uneven)) == [(0, 255)]
    assert default_batch_size([0] * 256) >= 1


def test_batch_size_sources() -> None:
    assert batch_size_option(None, {}) is None
    assert batch_size_option(None, {"BATCH_SIZE": "300"}) == 300
    assert batch_size_option(50, {"BATCH_SIZE": "300"}) == 50
    with pytest.raises(EnrichError, match="BATCH_SIZE") as info:
        batch_size_option(None, {"BATCH_SIZE": "lots"})
    assert info.value.exit_code == ExitCode.USAGE
    with pytest.raises(EnrichError, match="--batch-size"):
        batch_size_option(0, {})


# --- checkpoints for the decision table -------------------------------------------------------------


def checkpoint(
    status: str = "running", stamp: str = "2026-01-01T00:00:00+00:00", **changes: object
) -> Checkpoint:
    cp = Checkpoint(
        run_id=f"run-{status}-{stamp[17:19]}",
        warehouse=WAREHOUSE,
        mode="run",
        step_request="all",
        batch_size=10,
        batch_partitions=4,
        status=status,
        steps=["D", "E"],
        tables=list(TABLES),
        plan=[[0, 1, 10], [2, 3, 10]],
        updated_at=stamp,
    )
    if status == "complete":
        cp.done = {"D": [[0, 1], [2, 3]], "E": [[0, 1], [2, 3]]}
        cp.steps_done, cp.gates_done = ["D", "E"], True
        cp.signatures = {"0": [1, 2, 3], "2": [4, 5, 6]}
    for key, value in changes.items():
        setattr(cp, key, value)
    return cp


RUNNING = checkpoint("running")
COMPLETE = checkpoint("complete")
STOPPED = checkpoint("stopped", done={"D": [[0, 1]]})
DAMAGED = DamagedCheckpoint("checkpoint /home/x.state.json is damaged: invalid JSON at line 1, column 1")
ALL = set(TABLES)


# One row per situation of the README's "What happens when ..." table (and the rows the run-state
# issue adds): options, the local and Postgres checkpoints, the tables present -> the decision.
DECISIONS = [
    # a kill at any moment, before or after the first checkpoint: --resume continues it ...
    ("killed run, --resume", Options(resume=True), RUNNING, None, ALL, "resume", ExitCode.OK, "resuming"),
    # ... and a plain `enrich run` refuses with exit 3, saying what to run
    ("killed run, plain run", Options(), RUNNING, None, ALL, "refuse", ExitCode.UNFINISHED, "--resume"),
    (
        "stopped by a signal, --resume",
        Options(resume=True),
        STOPPED,
        None,
        ALL,
        "resume",
        ExitCode.OK,
        "resuming",
    ),
    # a kill before anything was recorded: --resume starts the run instead of failing forever
    (
        "no checkpoint, --resume",
        Options(resume=True),
        None,
        None,
        set(),
        "new",
        ExitCode.OK,
        "no checkpoint: starting a new run",
    ),
    # --fresh, interrupted: its own checkpoint (mode fresh) is what --resume continues
    (
        "interrupted --fresh, --resume",
        Options(resume=True),
        checkpoint(mode="fresh"),
        None,
        set(),
        "resume",
        ExitCode.OK,
        "resuming",
    ),
    (
        "--fresh over a damaged file",
        Options(fresh=True),
        DAMAGED,
        None,
        ALL,
        "new",
        ExitCode.OK,
        "--fresh starts over and replaces it",
    ),
    # a damaged state file never starts over by itself
    ("damaged, no Postgres, plain", Options(), DAMAGED, None, ALL, "refuse", ExitCode.ERROR, "--fresh"),
    (
        "damaged, no Postgres, --resume",
        Options(resume=True),
        DAMAGED,
        None,
        ALL,
        "refuse",
        ExitCode.ERROR,
        "no other checkpoint",
    ),
    (
        "damaged, Postgres has one, plain",
        Options(),
        DAMAGED,
        RUNNING,
        ALL,
        "refuse",
        ExitCode.ERROR,
        "--resume` continues from it",
    ),
    (
        "damaged, Postgres has one, --resume",
        Options(resume=True),
        DAMAGED,
        RUNNING,
        ALL,
        "resume",
        ExitCode.OK,
        "resuming",
    ),
    # Postgres newer than the file (the file's disk was restored from a backup): Postgres wins
    (
        "Postgres newer",
        Options(resume=True),
        checkpoint("running", "2026-01-01T00:00:00+00:00"),
        checkpoint("running", "2026-01-01T00:00:05+00:00"),
        ALL,
        "resume",
        ExitCode.OK,
        "run-running-05",
    ),
    # a complete run: --resume brings it up to date with the data (only changed keys)
    (
        "complete, --resume",
        Options(resume=True),
        COMPLETE,
        None,
        ALL,
        "new",
        ExitCode.OK,
        "only what changed",
    ),
    # reset --all killed after a drop: a complete checkpoint but a missing table: rebuild all
    (
        "complete, table gone, --resume",
        Options(resume=True),
        COMPLETE,
        None,
        ALL - {"pnl"},
        "new",
        ExitCode.OK,
        "pnl is missing",
    ),
    (
        "complete, table gone, --changed",
        Options(changed=True),
        COMPLETE,
        None,
        ALL - {"pnl"},
        "new",
        ExitCode.OK,
        "rebuilding every partition",
    ),
    ("complete, --changed", Options(changed=True), COMPLETE, None, ALL, "new", ExitCode.OK, "a new run"),
    # --changed after an interrupted run continues it: that rebuilds what is missing or stale
    (
        "unfinished, --changed",
        Options(changed=True),
        RUNNING,
        None,
        ALL,
        "resume",
        ExitCode.OK,
        "--changed continues",
    ),
    (
        "unfinished, --resume --step D",
        Options(resume=True, step="D"),
        RUNNING,
        None,
        ALL,
        "refuse",
        ExitCode.USAGE,
        "--step all",
    ),
    ("complete, plain run", Options(), COMPLETE, None, ALL, "new", ExitCode.OK, "a new run"),
]


@pytest.mark.parametrize(
    ("options", "local", "remote", "present", "action", "code", "says"),
    [row[1:] for row in DECISIONS],
    ids=[row[0] for row in DECISIONS],
)
def test_start_decision(
    options: Options, local: object, remote: object, present: set[str], action: str, code: ExitCode, says: str
) -> None:
    decision = decide(options, local, remote, present, "127.0.0.1:5432/ops")  # type: ignore[arg-type]
    assert (decision.action, decision.exit_code) == (action, code)
    assert says in decision.message
    if action == "resume":
        assert decision.checkpoint is not None and decision.checkpoint.unfinished
        assert decision.mode == decision.checkpoint.mode


def test_decision_modes() -> None:
    assert decide(Options(resume=True), COMPLETE, None, ALL, None).mode == "changed"
    assert decide(Options(resume=True), COMPLETE, None, ALL - {"pnl"}, None).mode == "run"
    assert decide(Options(fresh=True), RUNNING, None, ALL, None).mode == "fresh"
    assert decide(Options(changed=True, step="D"), None, None, set(), None).step == "D"


# --- transitions ------------------------------------------------------------------------------------


def new_state(tmp_path: Path, decision: Decision, queue_ledger: bool = False) -> RunState:
    writer = CheckpointWriter(
        state_path(tmp_path, WAREHOUSE), None, lambda _: None, queue_ledger=queue_ledger
    )
    return RunState.begin(decision, WAREHOUSE, None, 4, writer, EventLog(tmp_path))


def signatures(**keys: int) -> dict[int, tuple[int, int, int]]:
    return {int(k[1:]): (v, v * 7, 1) for k, v in keys.items()}


def test_the_request_is_recorded_before_any_work(tmp_path: Path) -> None:
    new_state(tmp_path, Decision("new", "asked", "fresh", "D"))
    stored = read_local(state_path(tmp_path, WAREHOUSE))
    assert stored is not None and stored.unfinished and not stored.planned
    assert (stored.mode, stored.step_request, stored.dropped) == ("fresh", "D", False)
    assert [e["event"] for e in read_events(tmp_path)] == ["run_started"]


def test_a_full_run_plans_every_key_and_commits_batch_by_batch(tmp_path: Path) -> None:
    state = new_state(tmp_path, Decision("new", "a new run"))
    state.set_steps(STEPS)
    state.reconcile(signatures(k0=2, k1=3, k3=1), [5, 5, 0, 5], 10)
    cp = state.checkpoint
    # the empty key 2 rides along with the range it falls in
    assert cp.plan == [[0, 2, 10], [3, 3, 5]] and cp.tables == TABLES
    assert state.remaining("D") == cp.plan
    state.batch_committed("D", cp.plan[0], rows=20, seconds=0.1)
    assert state.remaining("D") == [[3, 3, 5]] and cp.pairs_done("D") == 10
    stored = read_local(state_path(tmp_path, WAREHOUSE))
    assert stored is not None and stored.done == {"D": [[0, 2]]}
    assert stored.signatures == {"0": [2, 14, 1], "1": [3, 21, 1], "3": [1, 7, 1]}


def test_a_changed_run_plans_only_the_keys_whose_signature_differs(tmp_path: Path) -> None:
    baseline = checkpoint("complete", signatures={"0": [2, 14, 1], "1": [3, 21, 1], "3": [1, 7, 1]})
    state = new_state(tmp_path, Decision("new", "changed", "changed", "all", baseline))
    state.set_steps(STEPS)
    # key 1 changed, key 2 is new, key 3 lost every flow, key 0 is as it was
    state.reconcile({0: (2, 14, 1), 1: (3, 22, 1), 2: (1, 5, 1)}, [5, 5, 5, 0], 100)
    assert state.checkpoint.plan == [[1, 3, 10]]


def test_changed_without_a_complete_all_steps_baseline_rebuilds_everything(tmp_path: Path) -> None:
    only_d = checkpoint("complete", step_request="D")
    state = new_state(tmp_path, Decision("new", "changed", "changed", "all", only_d))
    assert state.checkpoint.mode == "run" and state.checkpoint.signatures == {}


def test_a_resume_rebuilds_the_committed_keys_whose_data_changed(tmp_path: Path) -> None:
    state = new_state(tmp_path, Decision("new", "a new run"))
    state.set_steps(STEPS)
    state.reconcile(signatures(k0=1, k1=1, k2=1, k3=1), [5, 5, 5, 5], 10)
    cp = state.checkpoint
    for batch in cp.plan:
        state.batch_committed("D", batch, 1, 0.1)
    state.step_complete("D")
    state.batch_committed("E", cp.plan[0], 1, 0.1)
    # a value correction on key 1 (same flow count) between a kill and the resume
    resumed = RunState.resume(read_local(state_path(tmp_path, WAREHOUSE)), state.writer, state.events)
    changed = signatures(k0=1, k1=1, k2=1, k3=1) | {1: (1, 999, 1)}
    result = resumed.reconcile(changed, [5, 5, 5, 5], 10)
    cp = resumed.checkpoint
    assert result.stale == (1,) and result.added == ()
    assert cp.done == {"D": [[2, 3]], "E": []} and cp.steps_done == []
    assert resumed.remaining("D") == [[0, 1, 10]] and resumed.remaining("E") == cp.plan
    assert cp.signatures["1"] == [1, 999, 1]


def test_a_missing_table_forgets_its_steps_batches(tmp_path: Path) -> None:
    state = new_state(tmp_path, Decision("new", "a new run"))
    state.set_steps(STEPS)
    state.reconcile(signatures(k0=1), [5, 0, 0, 0], 10)
    for step in ("D", "E"):
        state.batch_committed(step, state.checkpoint.plan[0], 1, 0.1)
        state.step_complete(step)
    assert state.tables_missing(STEPS, set(TABLES)) == []
    # pnl is gone: Step D is built again, Step E's tables (built from the same data) stand
    assert state.tables_missing(STEPS, set(TABLES) - {"pnl"}) == ["D"]
    assert state.checkpoint.done == {"D": [], "E": [[0, 3]]} and state.checkpoint.steps_done == ["E"]


def test_a_resumed_changed_run_adds_ranges_for_keys_that_changed_outside_its_plan(tmp_path: Path) -> None:
    baseline = checkpoint("complete", signatures={str(k): [1, 7, 1] for k in range(4)})
    state = new_state(tmp_path, Decision("new", "changed", "changed", "all", baseline))
    state.set_steps(STEPS)
    state.reconcile(signatures(k0=1, k1=1, k2=1, k3=1) | {1: (2, 8, 1)}, [5, 5, 5, 5], 10)
    assert state.checkpoint.plan == [[1, 1, 5]]
    state.batch_committed("D", [1, 1, 5], 1, 0.1)
    result = state.reconcile(
        signatures(k0=1, k1=1, k2=1, k3=1) | {1: (2, 8, 1), 3: (9, 9, 9)}, [5, 5, 5, 5], 10
    )
    assert result.stale == (3,) and result.added == ((3, 3),)
    assert state.checkpoint.plan == [[1, 1, 5], [3, 3, 5]] and state.checkpoint.done == {"D": [[1, 1]]}


def test_a_change_after_a_run_with_nothing_to_build_reopens_its_steps(tmp_path: Path) -> None:
    """Found by `make torture`: a --changed run with nothing to build marks every step complete;
    killed before its gates, then data corrected, its resume must build the new key in both
    steps, not skip steps still marked complete."""
    baseline = checkpoint("complete", signatures={"0": [1, 7, 1], "1": [1, 7, 1]})
    state = new_state(tmp_path, Decision("new", "changed", "changed", "all", baseline))
    state.set_steps(STEPS)
    state.reconcile({0: (1, 7, 1), 1: (1, 7, 1)}, [5, 5, 0, 0], 10)
    assert state.checkpoint.plan == [] and state.checkpoint.steps_done == ["D", "E"]
    state.reconcile({0: (1, 7, 1), 1: (1, 8, 1)}, [5, 5, 0, 0], 10)
    assert state.checkpoint.plan == [[1, 1, 5]] and state.checkpoint.steps_done == []
    assert state.remaining("D") == state.remaining("E") == [[1, 1, 5]]


def test_nothing_changed_completes_every_step_without_a_batch(tmp_path: Path) -> None:
    baseline = checkpoint("complete", signatures={"0": [1, 7, 1]})
    state = new_state(tmp_path, Decision("new", "changed", "changed", "all", baseline))
    state.set_steps(STEPS)
    state.reconcile({0: (1, 7, 1)}, [5, 0, 0, 0], 10)
    assert state.checkpoint.plan == [] and state.checkpoint.steps_done == ["D", "E"]


def test_stop_and_complete_are_recorded_with_events(tmp_path: Path) -> None:
    state = new_state(tmp_path, Decision("new", "a new run"))
    state.set_steps(STEPS)
    state.reconcile(signatures(k0=1), [5, 0, 0, 0], 10)
    state.stopped("SIGTERM")
    assert read_local(state_path(tmp_path, WAREHOUSE)).status == "stopped"
    state.step_complete("D")
    state.step_complete("E")
    state.gates_done(0)
    state.complete()
    stored = read_local(state_path(tmp_path, WAREHOUSE))
    assert stored is not None and stored.status == "complete" and stored.gates_done
    events = [e["event"] for e in read_events(tmp_path)]
    assert events == [
        "run_started",
        "planned",
        "run_stopped",
        "step_completed",
        "step_completed",
        "gates_done",
        "run_completed",
    ]


def test_ledger_rows_wait_in_the_file_when_postgres_is_configured_but_off(tmp_path: Path) -> None:
    queued = new_state(tmp_path, Decision("new", "a new run"), queue_ledger=True)
    queued.set_steps(STEPS)
    queued.reconcile(signatures(k0=1), [5, 0, 0, 0], 10)
    queued.batch_committed("D", queued.checkpoint.plan[0], 3, 0.1)
    assert [r["key_lo"] for r in read_local(state_path(tmp_path, WAREHOUSE)).pg_pending] == [0]
    # a later run carries the queue over, so Postgres receives the rows when it is back
    later = new_state(tmp_path, Decision("new", "again", "run", "all", queued.checkpoint), queue_ledger=True)
    assert len(later.checkpoint.pg_pending) == 1


# --- the local state file ---------------------------------------------------------------------------


def test_state_files_are_per_warehouse(tmp_path: Path) -> None:
    server, embedded = state_path(tmp_path, WAREHOUSE), state_path(tmp_path, "chdb:/srv/home/chdb/polymarket")
    assert server != embedded and server.parent == embedded.parent == tmp_path
    assert "ch-internal-8443-polymarket" in server.name


def test_state_file_round_trip_is_atomic(tmp_path: Path) -> None:
    path = state_path(tmp_path, WAREHOUSE)
    assert read_local(path) is None
    first = checkpoint(done={"D": [[0, 1]]})
    write_local(path, first)
    second = checkpoint(done={"D": [[0, 1], [2, 3]]}, status="stopped")
    write_local(path, second)
    assert read_local(path) == second
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"job": "full-enrichment", "step": "D", "batch_idx"', "invalid JSON at line 1"),
        ("", "invalid JSON at line 1, column 1"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_damaged_state_file_text(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(DamagedCheckpoint, match=reason) as info:
        read_local(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"job": "another-job"}, "belongs to job 'another-job'"),
        ({"done": {"D": [[0, 2]]}}, "not in the plan"),
        ({"done": {"X": [[0, 1]]}}, "planned step"),
        ({"status": "exploded"}, "unknown status"),
        ({"mode": "yolo"}, "unknown mode"),
        ({"batch_size": "ten"}, "batch_size"),
        ({"plan": [[0, 1]]}, "lo, hi, pairs"),
        ({"steps_done": ["Z"]}, "steps_done"),
        ({"signatures": {"k": [1, 2, 3]}}, "signatures"),
        ({"updated_at": "yesterday"}, "not a timestamp"),
        ({"extra": 1}, "unknown field"),
    ],
)
def test_damaged_state_file_content(tmp_path: Path, changes: dict, reason: str) -> None:
    path = tmp_path / "state.json"
    data = asdict(checkpoint())
    data.update(changes)
    path.write_text(json.dumps(data))
    with pytest.raises(DamagedCheckpoint, match=reason):
        read_local(path)


def test_newer_than_orders_by_time_then_progress() -> None:
    old = checkpoint(updated_at="2025-01-01T00:00:00+00:00", done={"D": [[0, 1], [2, 3]]})
    new = checkpoint(updated_at="2025-01-01T00:00:01+00:00")
    assert new.newer_than(old) and not old.newer_than(new)
    same_time_more_done = checkpoint(
        updated_at="2025-01-01T00:00:00+00:00", done={"D": [[0, 1], [2, 3]]}, steps_done=["D"]
    )
    assert same_time_more_done.newer_than(old)


# --- Postgres -------------------------------------------------------------------------------------


def test_redact_url_hides_the_password() -> None:
    url = "postgresql://ops:s3cret-pw@db.example:6543/enrich?sslmode=disable"
    assert redact_url(url) == "db.example:6543/enrich"
    assert "s3cret" not in redact_url("host=db port=5433 dbname=x password=s3cret")


def ledger(run_id: str, idx: int, lo: int, hi: int) -> LedgerRow:
    return LedgerRow(
        run_id=run_id,
        step="D",
        batch_idx=idx,
        key_lo=lo,
        key_hi=hi,
        pairs=10,
        rows_written=20 + idx,
        seconds=0.5,
        status="committed",
        finished_at="2025-01-01T00:00:00+00:00",
    )


def test_one_checkpoint_row_per_warehouse_and_an_idempotent_ledger(own_pg: str) -> None:
    store = PgStore(own_pg)
    try:
        assert store.migrate() == ["001_ops_checkpoints.sql", "002_run_checkpoints_per_warehouse.sql",
                                   "003_warehouse_lock_epoch.sql"]
        assert store.migrate() == []
        cp = checkpoint(run_id="upsert-run", done={"D": [[0, 1]]})
        store.save(cp, [ledger("upsert-run", 0, 0, 1)])
        cp.done["D"].append([2, 3])
        cp.steps_done, cp.status = ["D"], "complete"
        # the first row is sent again, as after an outage: it must not be duplicated
        store.save(cp, [ledger("upsert-run", 0, 0, 1), ledger("upsert-run", 1, 2, 3)])
        other = checkpoint(run_id="other-warehouse", warehouse="chdb:/elsewhere/chdb/polymarket")
        store.save(other, [])
        with psycopg.connect(own_pg) as conn:
            rows = conn.execute(
                "select warehouse, run_id, status, step, batches_done from ops_run_checkpoints"
                " where job = %s order by run_id",
                [JOB],
            ).fetchall()
            ledger_rows = conn.execute(
                "select batch_idx, key_lo, key_hi, rows_written, warehouse from ops_batch_ledger"
                " where run_id = %s order by batch_idx",
                ["upsert-run"],
            ).fetchall()
        # the row's status is the run's true status (no stale per-step row left 'running')
        assert rows == [
            ("chdb:/elsewhere/chdb/polymarket", "other-warehouse", "running", "D", 0),
            (WAREHOUSE, "upsert-run", "complete", "E", 0),
        ]
        assert ledger_rows == [(0, 0, 1, 20, WAREHOUSE), (1, 2, 3, 21, WAREHOUSE)]
        loaded = store.load(WAREHOUSE)
        assert loaded is not None and loaded.done == {"D": [[0, 1], [2, 3]]} and loaded.pg_pending == []
        assert store.load("clickhouse://nowhere:1/x") is None
        store.delete(WAREHOUSE)
        assert store.load(WAREHOUSE) is None and store.load(other.warehouse) is not None
    finally:
        store.close()


def test_writer_keeps_ledger_rows_while_postgres_is_away(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "state.json"
    down = PgStore("postgresql://ops:topsecret@127.0.0.1:1/nowhere")
    messages: list[str] = []
    writer = CheckpointWriter(path, down, messages.append, queue_ledger=True)
    cp = checkpoint(run_id="outage-run")
    for idx, (lo, hi) in enumerate([(0, 1), (2, 3)]):
        cp.done.setdefault("D", []).append([lo, hi])
        writer.commit(cp, ledger("outage-run", idx, lo, hi))
    on_disk = read_local(path)
    assert on_disk is not None and on_disk.done == {"D": [[0, 1], [2, 3]]}
    # both rows wait in the file (the second commit fell inside the backoff window)
    assert [r["batch_idx"] for r in on_disk.pg_pending] == [0, 1]
    assert messages and "127.0.0.1:1/nowhere" in messages[0]
    assert not any("topsecret" in m for m in messages)

    # Postgres is back (a later process reads the file and syncs): everything catches up
    up = PgStore(pg_url)
    up.migrate()
    try:
        resumed = CheckpointWriter(path, up, messages.append, queue_ledger=True)
        assert resumed.sync(on_disk, force=True)
        assert read_local(path).pg_pending == []
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(
                "select batch_idx, key_lo, key_hi from ops_batch_ledger where run_id = %s order by batch_idx",
                ["outage-run"],
            ).fetchall()
        assert rows == [(0, 0, 1), (1, 2, 3)]
    finally:
        up.close()


def test_a_fenced_checkpoint_is_saved_only_while_the_lock_holds_its_epoch(own_pg: str) -> None:
    """Issue 23: the Postgres checkpoint of a runner that lost the warehouse lock is refused inside
    its own transaction, and nothing of it is written."""
    from enrich.errors import LockLost
    from enrich.locks import PgLockBackend, WarehouseLock

    store = PgStore(own_pg)
    try:
        store.migrate()
        cp = checkpoint(run_id="fenced-run", done={"D": [[0, 1]]})
        lock = WarehouseLock(PgLockBackend(store, cp.warehouse), cp.warehouse)
        lock.acquire()
        lock._stop.set()  # no heartbeats: the test moves the lock by hand
        store.save(cp, [ledger("fenced-run", 0, 0, 1)], fence=lock.pg_fence)
        assert store.load(cp.warehouse).run_id == "fenced-run"
        # another runner takes the lock over: a new holder and the next epoch
        store.connection().execute(
            "update ops_warehouse_locks set holder = 'successor', pid = 4242,"
            " epoch = nextval('ops_warehouse_lock_epochs') where warehouse = %s", [cp.warehouse])
        later = checkpoint(run_id="fenced-run", done={"D": [[0, 1], [2, 3]]})
        with pytest.raises(LockLost, match=r"^the warehouse lock was taken over by pid 4242 on host .*"
                                           r"; this run stopped without writing$"):
            store.save(later, [ledger("fenced-run", 1, 2, 3)], fence=lock.pg_fence)
        with pytest.raises(LockLost):
            lock.check()
        assert store.load(cp.warehouse).done == {"D": [[0, 1]]}
        ledger_rows = store.connection().execute("select count(*) from ops_batch_ledger").fetchone()
        assert ledger_rows == (1,)
        assert lock.epoch >= 1
    finally:
        store.close()
