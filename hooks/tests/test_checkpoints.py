"""The runner's machinery without a warehouse: plan packing, the state file, Postgres checkpoints."""

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
    write_local,
)
from enrich.errors import EnrichError
from enrich.plan import (
    DEFAULT_BATCHES,
    MIN_DEFAULT_BATCH_SIZE,
    build_plan,
    default_batch_size,
    pack_ranges,
    resolve_batch_size,
)

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


def test_pack_ranges_rejects_nonsense() -> None:
    with pytest.raises(EnrichError):
        pack_ranges([1, 2], 0)
    with pytest.raises(EnrichError):
        pack_ranges([], 10)


def test_plan_batches_and_fingerprint() -> None:
    plan = build_plan([5, 5, 5, 5], 10, "flows=20")
    assert [(b.idx, b.lo, b.hi, b.pairs) for b in plan.batches] == [(0, 0, 1, 10), (1, 2, 3, 10)]
    assert plan.total_pairs == 20 and plan.batch_partitions == 4
    assert plan.fingerprint == build_plan([5, 5, 5, 5], 10, "flows=20").fingerprint
    others = [
        build_plan([5, 5, 5, 5], 5, "flows=20"),       # other ranges
        build_plan([5, 5, 6, 4], 10, "flows=20"),      # same ranges and total, other counts
        build_plan([5, 5, 5, 5], 10, "flows=21"),      # changed data
        build_plan([5, 5, 5, 5, 0], 10, "flows=20"),   # other P
    ]
    assert len({plan.fingerprint, *(o.fingerprint for o in others)}) == 5


def test_default_batch_size_aims_at_a_fixed_number_of_batches_with_a_floor() -> None:
    assert default_batch_size(1) == MIN_DEFAULT_BATCH_SIZE
    assert default_batch_size(DEFAULT_BATCHES * MIN_DEFAULT_BATCH_SIZE) == MIN_DEFAULT_BATCH_SIZE
    pairs_10x = 1_369_310
    assert default_batch_size(pairs_10x) == -(-pairs_10x // DEFAULT_BATCHES)
    # whole keys per range: greedy packing may need one range more than the target
    batches = len(pack_ranges([1_000] * 1_369, default_batch_size(1_369_000)))
    assert batches in (DEFAULT_BATCHES, DEFAULT_BATCHES + 1)


def test_batch_size_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCH_SIZE", raising=False)
    assert resolve_batch_size(None) is None
    assert resolve_batch_size(None, 77) == 77
    monkeypatch.setenv("BATCH_SIZE", "300")
    assert resolve_batch_size(None, 77) == 300
    assert resolve_batch_size(50) == 50
    monkeypatch.setenv("BATCH_SIZE", "lots")
    with pytest.raises(EnrichError, match="BATCH_SIZE"):
        resolve_batch_size(None)
    with pytest.raises(EnrichError, match="--batch-size"):
        resolve_batch_size(0)


# --- the local state file -------------------------------------------------------------------------


def make_checkpoint(**changes: object) -> Checkpoint:
    checkpoint = Checkpoint(run_id="r1", step="D", batch_partitions=4, plan_fingerprint="f" * 64,
                            total_batches=3, total_pairs=30, batch_size=10)
    for key, value in changes.items():
        setattr(checkpoint, key, value)
    return checkpoint


def test_state_file_round_trip_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / f"{JOB}.state.json"
    assert read_local(path) is None
    first = make_checkpoint(batch_idx=0, ranges_done=[[0, 1]], pairs_done=10)
    write_local(path, first)
    second = make_checkpoint(batch_idx=1, ranges_done=[[0, 1], [2, 2]], pairs_done=20, status="stopped")
    write_local(path, second)
    assert read_local(path) == second
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    data = json.loads(path.read_text())
    for key in ("job", "step", "batch_idx", "pairs_done", "last_mutations", "updated_at", "run_id",
                "batch_partitions", "plan_fingerprint", "ranges_done", "total_batches", "total_pairs",
                "status"):
        assert key in data


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
        ({"batch_idx": 5, "ranges_done": [[0, 0]] * 6}, "beyond the plan"),
        ({"batch_idx": 2, "ranges_done": [[0, 1]]}, "does not match 1 ranges"),
        ({"status": "exploded"}, "unknown status"),
        ({"pairs_done": "ten"}, "pairs_done"),
        ({"ranges_done": [[0, 1, 2]], "batch_idx": 0}, "lo, hi"),
        ({"updated_at": "yesterday"}, "not a timestamp"),
    ],
)
def test_damaged_state_file_content(tmp_path: Path, changes: dict, reason: str) -> None:
    path = tmp_path / "state.json"
    data = asdict(make_checkpoint())
    data.update(changes)
    path.write_text(json.dumps(data))
    with pytest.raises(DamagedCheckpoint, match=reason):
        read_local(path)


def test_newer_than_orders_by_time_then_batch() -> None:
    old = make_checkpoint(updated_at="2025-01-01T00:00:00+00:00", batch_idx=2, ranges_done=[[0, 0]] * 3)
    new = make_checkpoint(updated_at="2025-01-01T00:00:01+00:00", batch_idx=0, ranges_done=[[0, 0]])
    assert new.newer_than(old) and not old.newer_than(new)


# --- Postgres -------------------------------------------------------------------------------------


def test_redact_url_hides_the_password() -> None:
    url = "postgresql://ops:s3cret-pw@db.example:6543/enrich?sslmode=disable"
    assert redact_url(url) == "db.example:6543/enrich"
    assert "s3cret" not in redact_url("host=db port=5433 dbname=x password=s3cret")


def ledger(run_id: str, idx: int, lo: int, hi: int) -> LedgerRow:
    return LedgerRow(run_id=run_id, step="D", batch_idx=idx, key_lo=lo, key_hi=hi, pairs=10,
                     rows_written=20 + idx, seconds=0.5, status="committed",
                     finished_at="2025-01-01T00:00:00+00:00")


def test_migrations_upsert_and_ledger(pg_url: str) -> None:
    store = PgStore(pg_url)
    try:
        first = store.migrate()
        assert first == ["001_ops_checkpoints.sql"] or first == []  # [] when another test migrated first
        assert store.migrate() == []
        with psycopg.connect(pg_url) as conn:
            versions = [r[0] for r in conn.execute("select version from schema_migrations")]
        assert versions.count("001_ops_checkpoints.sql") == 1

        checkpoint = make_checkpoint(run_id="upsert-run", batch_idx=0, ranges_done=[[0, 1]], pairs_done=10)
        store.save(checkpoint, [ledger("upsert-run", 0, 0, 1)])
        checkpoint.batch_idx, checkpoint.ranges_done, checkpoint.pairs_done = 1, [[0, 1], [2, 2]], 20
        # the first row is sent again, as after an outage: it must not be duplicated
        store.save(checkpoint, [ledger("upsert-run", 0, 0, 1), ledger("upsert-run", 1, 2, 2)])
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute(
                "select run_id, batch_idx, pairs_done, state->>'run_id' from ops_job_checkpoints"
                " where job = %s and step = %s", [JOB, "D"]).fetchall()
            assert rows == [("upsert-run", 1, 20, "upsert-run")]
            ledger_rows = conn.execute(
                "select batch_idx, key_lo, key_hi, rows_written from ops_batch_ledger where run_id = %s"
                " order by batch_idx", ["upsert-run"]).fetchall()
        assert ledger_rows == [(0, 0, 1, 20), (1, 2, 2, 21)]
        loaded = store.load()
        assert loaded is not None and loaded.ranges_done == [[0, 1], [2, 2]] and loaded.pg_pending == []
    finally:
        store.close()


def test_writer_keeps_ledger_rows_while_postgres_is_away(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "state.json"
    down = PgStore("postgresql://ops:topsecret@127.0.0.1:1/nowhere")
    messages: list[str] = []
    writer = CheckpointWriter(path, down, messages.append)
    checkpoint = make_checkpoint(run_id="outage-run")
    for idx, (lo, hi) in enumerate([(0, 1), (2, 2)]):
        checkpoint.batch_idx = idx
        checkpoint.ranges_done.append([lo, hi])
        writer.commit(checkpoint, ledger("outage-run", idx, lo, hi))
    on_disk = read_local(path)
    assert on_disk is not None and on_disk.ranges_done == [[0, 1], [2, 2]]
    # both rows wait in the file (the second commit fell inside the backoff window)
    assert [r["batch_idx"] for r in on_disk.pg_pending] == [0, 1]
    assert messages and "127.0.0.1:1/nowhere" in messages[0]
    assert not any("topsecret" in m for m in messages)

    # Postgres is back (a later process reads the file and syncs): everything catches up
    up = PgStore(pg_url)
    up.migrate()
    try:
        resumed = CheckpointWriter(path, up, messages.append)
        assert resumed.sync(on_disk, force=True)
        assert read_local(path).pg_pending == []
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("select batch_idx, key_lo, key_hi from ops_batch_ledger where run_id = %s"
                                " order by batch_idx", ["outage-run"]).fetchall()
        assert rows == [(0, 0, 1), (1, 2, 2)]
    finally:
        up.close()
