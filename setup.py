"""The build step pyproject.toml cannot declare: a wheel carries the dbt project.

The dbt project (dbt_project.yml, models/, macros/, tests/, profiles/) lives at the repository root,
where plain `dbt` runs it; the package `enrich` lives in hooks/. A wheel gets a copy of the project
as enrich/project/ (enrich.config finds it there). An editable install gets none: enrich.config then
uses the checkout itself, so an edited model takes effect without reinstalling.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# everything dbt reads from the project folder (dbt_project.yml's paths, the profile enrich renders)
PROJECT_FILES = ("dbt_project.yml", "models", "macros", "tests", "profiles")


class BuildPyWithProject(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "enrich" / "project"
        shutil.rmtree(target, ignore_errors=True)
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithProject})
