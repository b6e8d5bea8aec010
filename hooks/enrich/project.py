"""What the Python side knows of the dbt project: the one declared list of node names and tags,
and the steps, resolved from the parsed manifest.

Everything else (which models a step rebuilds per batch, which it rebuilds whole afterwards) is
read from the manifest: a step is the set of models carrying its tag; those materialized
incrementally and partitioned by `batch_key` are rebuilt one key range at a time, the others once
after the step's last batch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enrich.errors import EnrichError

# The source tables of the data contract (docs/domain.md, section 2).
SOURCE_TABLES = ("trades_raw", "ctf_events", "markets_dim", "resolutions")
# The table of valid flows every batch reads.
FLOWS_MODEL = "int_flows_unioned"
# Per batch key: the pairs the batch plan packs and the signature that tells which keys changed.
KEY_FIGURES_MODEL = "int_batch_keys_summarized"
# Every rejected source row with its reason.
QUARANTINE_MODEL = "quarantine"
# The partition key column of every batched model.
BATCH_KEY = "batch_key"
# The steps in the order they run: (name, tag). Step E reads Step D's pairs.
STEP_TAGS = (("D", "step_d"), ("E", "step_e"))
GATE_TAG = "gate"
# Gate 1, whose stored failures `enrich dims --missing` lists.
MISSING_MARKETS_GATE = "gate_markets_missing_dim"


@dataclass(frozen=True)
class Step:
    name: str
    tag: str
    # Rebuilt one key range at a time; each is partitioned by batch_key.
    batched: tuple[str, ...]
    # Rebuilt whole once the last batch of the step has committed.
    finalize: tuple[str, ...]

    @property
    def models(self) -> tuple[str, ...]:
        return (*self.batched, *self.finalize)


def _is_batched(node: Any) -> bool:
    config = node.config
    return config.materialized == "incremental" and config.get("partition_by") == BATCH_KEY


def steps_from_manifest(manifest: Any) -> tuple[Step, ...]:
    """Every step with its models, as the manifest tags them; raises when a step has no batched model."""
    models = sorted((n for n in manifest.nodes.values() if n.resource_type == "model"), key=lambda n: n.name)
    steps = []
    for name, tag in STEP_TAGS:
        tagged = [n for n in models if tag in n.tags]
        batched = tuple(n.name for n in tagged if _is_batched(n))
        if not batched:
            raise EnrichError(f"the dbt project has no incremental model partitioned by {BATCH_KEY} tagged "
                              f"{tag!r}: step {name} has nothing to build")
        steps.append(Step(name, tag, batched, tuple(n.name for n in tagged if not _is_batched(n))))
    return tuple(steps)


def result_tables(steps: tuple[Step, ...]) -> tuple[str, ...]:
    return tuple(m for s in steps for m in s.models)


def select_steps(steps: tuple[Step, ...], name: str) -> tuple[Step, ...]:
    if name == "all":
        return steps
    chosen = tuple(s for s in steps if s.name == name)
    if not chosen:
        raise EnrichError(f"no step {name} (steps: {', '.join(s.name for s in steps)})")
    return chosen


def project_digest(project_dir: Path) -> str:
    """A hash of every file dbt parses: the project file, models, macros, tests."""
    digest = hashlib.sha256()
    parsed = sorted(p for folder in ("models", "macros", "tests") for p in (project_dir / folder).rglob("*")
                    if p.is_file())
    files = [project_dir / "dbt_project.yml", *parsed]
    for path in files:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
