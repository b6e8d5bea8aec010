"""One scratch runtime home per scale: `enrich` and `bench.worker` commands run against it."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import proc
from enrich.config import PROJECT_DIR
from enrich.seed import SCALES


class BenchError(Exception):
    """A command the benchmark depends on failed; the message names it and its stderr."""


@dataclass(frozen=True)
class Home:
    path: Path
    scale: str
    log: Path

    @property
    def console_log(self) -> Path:
        return self.path / "full-enrichment.console.log"

    @property
    def events(self) -> Path:
        return self.path / "full-enrichment.events.jsonl"

    def env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("POSTGRES_URL", "BATCH_SIZE")}
        env["ENRICH_HOME"] = str(self.path)
        env.update(extra or {})
        return env

    def enrich(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> proc.Measured:
        measured = proc.run([sys.executable, "-m", "enrich", "--home", str(self.path), *args],
                            env=self.env(env), cwd=PROJECT_DIR, log=self.log)
        if check and measured.returncode != 0:
            raise BenchError(f"enrich {' '.join(args)} exited {measured.returncode}: "
                             f"{measured.stderr.strip()[-2000:]}")
        return measured

    def dbt(self, *args: str, check: bool = True) -> proc.Measured:
        """`enrich dbt ...` with this home's own target and log folders."""
        return self.enrich("dbt", *args, "--target-path", str(self.path / "dbt" / "bench-target"),
                           "--log-path", str(self.path / "dbt" / "logs"), check=check)

    def worker(self, task: str, *args: str) -> dict[str, Any]:
        measured = proc.run([sys.executable, "-m", "bench.worker", task, "--home", str(self.path), *args],
                            env=self.env(None), cwd=PROJECT_DIR, log=self.log)
        if measured.returncode != 0:
            raise BenchError(f"bench.worker {task} exited {measured.returncode}: "
                             f"{measured.stderr.strip()[-2000:]}")
        return json.loads(measured.stdout.strip().splitlines()[-1])

    @property
    def seed_marker(self) -> Path:
        return self.path / "bench-seeded.json"

    def unmark_seeded(self) -> dict[str, Any] | None:
        """Forget that the home holds the seeded data (before changing it); the record, to put back."""
        if not self.seed_marker.is_file():
            return None
        recorded: dict[str, Any] = json.loads(self.seed_marker.read_text())
        self.seed_marker.unlink()
        return recorded

    def mark_seeded(self, recorded: dict[str, Any]) -> None:
        self.seed_marker.write_text(json.dumps(recorded))

    def seed(self, reseed: bool) -> dict[str, Any]:
        """Seed the scale once; later runs reuse the data unless `reseed`. A home seeded by hand
        (`enrich seed`, no marker) is reused when its sources hold the scale's exact pair count."""
        if self.seed_marker.is_file() and not reseed:
            recorded = json.loads(self.seed_marker.read_text())
            if recorded.get("scale") == self.scale:
                return {**recorded, "reused": True}
        self.seed_marker.unlink(missing_ok=True)
        expected = SCALES[self.scale].pairs
        if not reseed and self.worker("source_pairs")["pairs"] == expected:
            recorded = {"scale": self.scale, "seconds": None,
                        "summary": f"seeded before the bench: {expected:,} pairs in the sources"}
            self.mark_seeded(recorded)
            return {**recorded, "reused": True}
        measured = self.enrich("seed", "--scale", self.scale)
        recorded = {"scale": self.scale, "seconds": round(measured.seconds, 1),
                    "summary": measured.stdout.strip()}
        self.mark_seeded(recorded)
        return {**recorded, "reused": False}
