"""enrich.profile renders the profile as dbt does, without dbt; .env.local is read strictly."""

from __future__ import annotations

import os
from argparse import Namespace
from dataclasses import fields
from pathlib import Path

import pytest

from enrich.config import ConfigError, load_env_file
from enrich.ddl import on_cluster_for
from enrich.profile import Credentials, render_target

PROFILES_DIR = Path(__file__).resolve().parents[2] / "profiles"
ENVIRONMENTS = [
    {},
    {"ENRICH_HOME": "/data/home", "ENRICH_DATABASE": "pm"},
    {"CLICKHOUSE_HOST": "ch.example", "CLICKHOUSE_PORT": "8443", "CLICKHOUSE_USER": "ops",
     "CLICKHOUSE_PASSWORD": "12345", "CLICKHOUSE_SECURE": "TRUE", "CLICKHOUSE_COMPRESSION": "lz4",
     "CLICKHOUSE_DATABASE": "0123", "CLICKHOUSE_CLUSTER": "main"},
    {"CLICKHOUSE_SECURE": "no", "CLICKHOUSE_PORT": "9000"},
]


def dbt_credentials(target: str, env: dict[str, str]) -> tuple[str, object]:
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(), None)
    set_invocation_context(env)
    raw = read_profile(str(PROFILES_DIR))
    profile = Profile.from_raw_profiles(raw, "enrich", ProfileRenderer({}), target_override=target)
    return profile.target_name, profile.credentials


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=range(len(ENVIRONMENTS)))
@pytest.mark.parametrize("target", ["local", "server", "cluster"])
def test_every_target_renders_as_dbt_renders_it(target: str, env: dict[str, str]) -> None:
    name, ours = render_target(PROFILES_DIR, target, env)
    dbt_name, theirs = dbt_credentials(target, env)
    assert name == dbt_name == target
    for f in fields(Credentials):
        if f.name == "other" or (f.name == "path" and target != "local"):
            continue
        assert (f.name, getattr(ours, f.name)) == (f.name, getattr(theirs, f.name))
    # the default target comes from ENRICH_TARGET, as in dbt
    assert render_target(PROFILES_DIR, None, {**env, "ENRICH_TARGET": target})[0] == target


def test_on_cluster_rule_is_dbt_clickhouses() -> None:
    from dbt.adapters.clickhouse.relation import ClickHouseRelation

    for cluster in ("main", " ", ""):
        for engine in (None, "Atomic", "Replicated('/p', '{shard}', '{replica}')", "replicated"):
            assert on_cluster_for(cluster, engine) == ClickHouseRelation.get_on_cluster(cluster, engine)


@pytest.mark.parametrize(("line", "expected"), [
    ("CLICKHOUSE_PORT=8443  # TLS port", "8443"),
    ("CLICKHOUSE_PORT='8443' # TLS port", "8443"),
    ('CLICKHOUSE_PORT="84 43"', "84 43"),
    ("CLICKHOUSE_PORT=8443", "8443"),
    ("export CLICKHOUSE_PORT=8443\t# tab, then a comment", "8443"),
    ("CLICKHOUSE_PORT=84 43", "line 2: a value with spaces must be quoted"),
    ("CLICKHOUSE_PORT='8443' 1", "line 2: expected one quoted value, then at most a # comment"),
    ("CLICKHOUSE_PORT='8443", "line 2: expected one quoted value, then at most a # comment"),
])
def test_env_file_values_are_taken_as_dotenv_writes_them_or_refused_by_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, expected: str) -> None:
    monkeypatch.delenv("CLICKHOUSE_PORT", raising=False)
    path = tmp_path / ".env.local"
    path.write_text(f"# settings\n{line}\n")
    if expected.startswith("line "):
        with pytest.raises(ConfigError) as raised:
            load_env_file(path)
        assert str(raised.value) == f"{path}: {expected}"
        assert "CLICKHOUSE_PORT" not in os.environ
    else:
        load_env_file(path)
        assert os.environ["CLICKHOUSE_PORT"] == expected
