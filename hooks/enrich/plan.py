"""The batch plan: contiguous batch-key ranges of about `batch_size` pairs, derived from the data.

The plan is a deterministic function of the per-key pair counts, so a restarted runner computes
the same ranges and can tell from the fingerprint whether the data changed underneath a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from clickhouse_connect.driver.client import Client

from enrich.errors import EnrichError
from enrich.warehouse import table

# The default aims at DEFAULT_BATCHES batches, never smaller than MIN_DEFAULT_BATCH_SIZE pairs.
# There are no mutations to pace, and every batch pays a fixed cost (a dbt invocation and a
# partition replace per model: about 0.4 s per step at the reference scale, measured by
# `make bench`), so fewer, larger batches are faster: 4 keep the batched run within 1.5 times a
# single-shot build while a crash costs at most a quarter of a step. (A fixed 18,000 pairs meant
# 87 batches per step at 10x.)
DEFAULT_BATCHES = 4
MIN_DEFAULT_BATCH_SIZE = 18_000
FLOWS_MODEL = "int_flows_unioned"


@dataclass(frozen=True)
class Batch:
    idx: int
    lo: int
    hi: int
    pairs: int

    @property
    def keys(self) -> str:
        return f"{self.lo}-{self.hi}"


@dataclass(frozen=True)
class Plan:
    batch_partitions: int
    key_pairs: tuple[int, ...]
    batches: tuple[Batch, ...]
    batch_size: int
    # Cheap summary of the input (flow count, latest flow time) so a resume notices changed data
    # even when the pair counts per key happen to stay the same.
    data_fingerprint: str

    @property
    def total_pairs(self) -> int:
        return sum(self.key_pairs)

    @cached_property
    def fingerprint(self) -> str:
        """The plan itself: a checkpoint's batches mean something only under the same fingerprint."""
        return _sha256({"input": self.input_fingerprint, "ranges": [[b.lo, b.hi] for b in self.batches]})

    @cached_property
    def input_fingerprint(self) -> str:
        """The data the plan was packed from, whatever the batch size: what a finished step was built on."""
        return _sha256({"batch_partitions": self.batch_partitions, "key_pairs": list(self.key_pairs),
                        "data": self.data_fingerprint})


def _sha256(value: object) -> str:
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()


def pack_ranges(key_pairs: Sequence[int], batch_size: int) -> list[tuple[int, int]]:
    """Cover keys 0..len-1 with contiguous ranges of about `batch_size` pairs.

    Greedy: a range closes before the key that would push it over `batch_size`, unless it holds
    no pairs yet (so a key larger than `batch_size` gets a range of its own). Keys with no pairs
    never open a range: they join the one they fall in, so every key belongs to exactly one range
    and vacated partitions are still rebuilt (emptied).
    """
    if batch_size < 1:
        raise EnrichError(f"batch size must be at least 1 pair, got {batch_size}")
    if not key_pairs:
        raise EnrichError("the plan needs at least one batch key")
    ranges: list[tuple[int, int]] = []
    lo, filled = 0, 0
    for key, pairs in enumerate(key_pairs):
        if pairs > 0 and filled > 0 and filled + pairs > batch_size:
            ranges.append((lo, key - 1))
            lo, filled = key, 0
        filled += pairs
    ranges.append((lo, len(key_pairs) - 1))
    return ranges


def build_plan(key_pairs: Sequence[int], batch_size: int, data_fingerprint: str = "") -> Plan:
    ranges = pack_ranges(key_pairs, batch_size)
    batches = tuple(
        Batch(idx, lo, hi, sum(key_pairs[lo : hi + 1])) for idx, (lo, hi) in enumerate(ranges)
    )
    return Plan(len(key_pairs), tuple(key_pairs), batches, batch_size, data_fingerprint)


def default_batch_size(total_pairs: int) -> int:
    return max(MIN_DEFAULT_BATCH_SIZE, -(-total_pairs // DEFAULT_BATCHES))


def resolve_batch_size(flag: int | None, default: int | None = None) -> int | None:
    """`--batch-size`, else $BATCH_SIZE, else `default` (a resumed run's own batch size); None
    leaves the choice to the plan, which sizes batches from the data."""
    if flag is not None:
        value, origin = flag, "--batch-size"
    elif os.environ.get("BATCH_SIZE"):
        raw = os.environ["BATCH_SIZE"]
        try:
            value = int(raw)
        except ValueError:
            raise EnrichError(f"BATCH_SIZE must be a whole number of pairs, got {raw!r}") from None
        origin = "BATCH_SIZE"
    else:
        return default
    if value < 1:
        raise EnrichError(f"{origin} must be at least 1 pair, got {value}")
    return value


def load_plan(client: Client, database: str, batch_partitions: int, batch_size: int | None) -> Plan:
    """Count the pairs of every batch key in the flows view and pack them into batches."""
    rows = client.query(
        "select batch_key, uniqExact(wallet_address, condition_id), count(), toString(max(block_time))"
        f" from {table(database, FLOWS_MODEL)} group by batch_key order by batch_key"
    ).result_rows
    key_pairs = [0] * batch_partitions
    flows, latest = 0, ""
    for key, pairs, count, max_time in rows:
        if not 0 <= key < batch_partitions:
            raise EnrichError(
                f"{FLOWS_MODEL} has batch key {key}, outside 0..{batch_partitions - 1}: the views were "
                "built with another batch_partitions; rerun with --fresh"
            )
        key_pairs[key] = pairs
        flows += count
        latest = max(latest, max_time)
    size = batch_size if batch_size is not None else default_batch_size(sum(key_pairs))
    return build_plan(key_pairs, size, f"flows={flows};latest={latest}")
