"""`profiles/profiles.yml` rendered as dbt renders it, without importing dbt.

Importing dbt's profile machinery costs seconds; `enrich status`, `export`, `load`'s checks and a
refresh with nothing to do need only the target's connection settings. dbt renders every string
of the profile as a Jinja template with `env_var()`, natively: a template that is one expression
keeps that expression's type (`| int` gives an int, `in (...)` a bool), a plain string stays a
string, anything concatenated is a string. hooks/tests/test_profile.py holds this rendering and
the credential defaults to dbt's own for every target.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from itertools import chain, islice
from pathlib import Path
from typing import Any

import yaml
from jinja2.nativetypes import NativeEnvironment, NativeTemplate
from jinja2.sandbox import SandboxedEnvironment

from enrich.errors import EnrichError

PROFILE = "enrich"


@dataclass(frozen=True)
class Credentials:
    """The connection settings `enrich` reads, with dbt-clickhouse's defaults (ClickHouseCredentials)."""

    type: str
    schema: str = "default"
    path: str = "runtime/chdb"  # chdb only
    host: str = "localhost"
    port: int | None = None
    user: str | None = "default"
    password: str = ""
    cluster: str | None = None
    database_engine: str | None = None
    cluster_mode: bool = False
    secure: bool = False
    verify: bool = True
    client_cert: str | None = None
    client_cert_key: str | None = None
    server_host_name: str | None = None
    connect_timeout: int = 10
    send_receive_timeout: int = 300
    compression: str = ""
    custom_settings: dict[str, Any] | None = None
    # the profile's other keys (threads, check_exchange, ...), for dbt alone
    other: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _concat(nodes: Iterator[Any]) -> Any:
    """dbt's native concatenation: one node keeps its type, several become a string."""
    head = list(islice(nodes, 2))
    if not head:
        return ""
    if len(head) == 1:
        return head[0]
    return "".join(str(v) for v in chain(head, nodes))


class _Environment(NativeEnvironment, SandboxedEnvironment):
    concat = staticmethod(_concat)  # type: ignore[assignment]


class _Template(NativeTemplate):
    environment_class = _Environment


_Environment.template_class = _Template


def render_target(profiles_dir: Path, target: str | None = None,
                  env: dict[str, str] | None = None) -> tuple[str, Credentials]:
    """The target's name and credentials: TARGET, else the profile's own `target:`."""
    path = profiles_dir / "profiles.yml"
    environ = os.environ if env is None else env

    def env_var(name: str, default: str | None = None) -> str:
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise EnrichError(f"{path}: the environment variable {name} is required and not set")

    jinja = _Environment()
    jinja.globals["env_var"] = env_var

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return jinja.from_string(value).render()
        if isinstance(value, dict):
            return {k: render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v) for v in value]
        return value

    try:
        profile = (yaml.safe_load(path.read_text()) or {}).get(PROFILE)
    except (OSError, yaml.YAMLError) as ex:
        raise EnrichError(f"{path}: {' '.join(str(ex).split())}") from None
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        raise EnrichError(f"{path}: no profile `{PROFILE}` with outputs")
    name = target or render(profile.get("target", "default"))
    output = profile["outputs"].get(name)
    if not isinstance(output, dict):
        raise EnrichError(f"{path}: profile `{PROFILE}` has no target `{name}` "
                          f"(targets: {', '.join(profile['outputs'])})")
    rendered = render(output)
    known = {f.name for f in fields(Credentials)} - {"other"}
    settings = {k: v for k, v in rendered.items() if k in known}
    return str(name), Credentials(**settings, other={k: v for k, v in rendered.items() if k not in known})
