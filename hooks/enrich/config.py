"""Where the project, its runtime files and its warehouse settings come from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from enrich.errors import EnrichError, UsageError

_PACKAGE = Path(__file__).resolve().parent
# In a checkout (and its editable install) the dbt project is the repository root, where plain `dbt`
# runs too; a wheel carries a copy of it inside the package (setup.py copies it in at build time),
# as site-packages has no repository root.
CHECKOUT_DIR = _PACKAGE.parents[1]
IN_CHECKOUT = _PACKAGE.parent.name == "hooks" and (CHECKOUT_DIR / "dbt_project.yml").is_file()
SHIPPED_PROJECT_DIR = _PACKAGE / "project"
PROJECT_DIR = CHECKOUT_DIR if IN_CHECKOUT else SHIPPED_PROJECT_DIR
# another copy of the project (an operator's edited models, say) instead of the one above
PROJECT_DIR_VARIABLE = "ENRICH_PROJECT_DIR"
ENV_FILE = ".env.local"
PROFILE = "enrich"


class ConfigError(UsageError):
    """The settings are unusable: a bad .env.local line, an unknown target."""


@dataclass(frozen=True)
class Config:
    """One invocation's settings; the environment is read once, when it is built."""

    home: Path
    target: str | None
    project_dir: Path = PROJECT_DIR

    @property
    def profiles_dir(self) -> Path:
        return self.project_dir / "profiles"

    @property
    def chdb_path(self) -> Path:
        return self.home / "chdb"

    @classmethod
    def from_env(cls, home: str | None = None, target: str | None = None) -> Config:
        """Settings from the command line, then the environment, then `.env.local`.

        The resolved home and target are written back to the environment because dbt's
        profile reads them from there (`env_var('ENRICH_HOME')`, `env_var('ENRICH_TARGET')`).
        """
        load_env_file(Path.cwd() / ENV_FILE)
        # the operators keep theirs in the checkout root; an installed package's folder is no
        # place for settings
        if IN_CHECKOUT and Path.cwd() != CHECKOUT_DIR:
            load_env_file(CHECKOUT_DIR / ENV_FILE)
        project_dir = resolve_project_dir()
        resolved_home = Path(home or os.environ.get("ENRICH_HOME") or default_home()).resolve()
        resolved_target = target or os.environ.get("ENRICH_TARGET") or None
        if resolved_target:
            check_target(project_dir / "profiles", resolved_target)
        os.environ["ENRICH_HOME"] = str(resolved_home)
        if resolved_target:
            os.environ["ENRICH_TARGET"] = resolved_target
        resolved_home.mkdir(parents=True, exist_ok=True)
        return cls(home=resolved_home, target=resolved_target, project_dir=project_dir)

    @property
    def is_shipped_project(self) -> bool:
        """The project is the installed package's copy, where nothing may be written."""
        return self.project_dir == SHIPPED_PROJECT_DIR


def default_home() -> Path:
    """The checkout's runtime/ (the Makefile, the tests and bench use it from any directory), else
    ./runtime: never a folder inside site-packages."""
    return CHECKOUT_DIR / "runtime" if IN_CHECKOUT else Path.cwd() / "runtime"


def resolve_project_dir() -> Path:
    """$ENRICH_PROJECT_DIR, else the checkout or the installed package's copy; one without
    dbt_project.yml is a configuration error naming where it was looked for."""
    override = os.environ.get(PROJECT_DIR_VARIABLE)
    project_dir = Path(override).expanduser().resolve() if override else PROJECT_DIR
    if not (project_dir / "dbt_project.yml").is_file():
        where = f"{PROJECT_DIR_VARIABLE}={override}" if override else "the installed package"
        raise EnrichError(f"no dbt project (dbt_project.yml) in {project_dir} ({where}); "
                          + (f"point {PROJECT_DIR_VARIABLE} at the project's folder" if override
                             else "reinstall polymarket-enrich from a wheel built by its setup.py"))
    return project_dir


def load_env_file(path: Path) -> None:
    """Read KEY=VALUE lines into the environment; variables already set win."""
    if not path.is_file():
        return
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"{path}: line {number}: expected KEY=VALUE")
        os.environ.setdefault(key.strip(), _env_value(path, number, value.strip()))


def _env_value(path: Path, number: int, text: str) -> str:
    """A value as dotenv files write it: quoted, or bare up to a ` #` comment; anything else is an
    error naming the line, never a value the profile would silently turn into a default."""
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        rest = text[end + 1:].strip() if end > 0 else "unterminated"
        if end < 0 or (rest and not rest.startswith("#")):
            raise ConfigError(f"{path}: line {number}: expected one quoted value, then at most a # comment")
        return text[1:end]
    value = text.split(" #", 1)[0].split("\t#", 1)[0].strip()
    if any(c.isspace() for c in value):
        raise ConfigError(f"{path}: line {number}: a value with spaces must be quoted")
    return value


def check_target(profiles_dir: Path, target: str) -> None:
    """An unknown target is a usage error naming the valid ones, before dbt renders anything."""
    path = profiles_dir / "profiles.yml"
    outputs = ((yaml.safe_load(path.read_text()) or {}).get(PROFILE) or {}).get("outputs") or {}
    if target not in outputs:
        raise ConfigError(f"unknown target {target!r}; the targets of {path} are {', '.join(outputs)}")
