"""Bake the template with cookiecutter's API and inspect what it made."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())

# Answers with a fixed set of values: every combination of them is baked.
CHOICES = {
    key: value
    for key, value in DEFAULTS.items()
    if not key.startswith("_") and isinstance(value, (list, bool))
}

# Named combinations for the slow tests that run real tools.
EVERYTHING_ON = {
    "project_name": "Acme Data Tools",
    "azure_project": "Data Platform",
    "feed_scope": "organization",
    "license": "MIT",
    "extras": "redis,postgres",
    "include_dockerfile": True,
    "versioning": "git-tags",
}


def all_combinations() -> list[dict[str, Any]]:
    """Every combination of the choice answers (booleans count as a two-way choice)."""
    values = [
        [True, False] if isinstance(options, bool) else options
        for options in CHOICES.values()
    ]
    return [
        dict(zip(CHOICES, combination)) for combination in itertools.product(*values)
    ]


def combination_id(answers: dict[str, Any]) -> str:
    """A short test id, e.g. `project-3.11-MIT-include_dockerfile-git-tags`."""
    return "-".join(
        (key if value else f"no_{key}") if isinstance(value, bool) else str(value)
        for key, value in answers.items()
    )


@dataclass
class BakedProject:
    path: Path
    answers: dict[str, Any]

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def exists(self, relative: str) -> bool:
        return (self.path / relative).exists()

    @property
    def pyproject(self) -> dict[str, Any]:
        return tomllib.loads(self.read("pyproject.toml"))

    @property
    def distribution(self) -> str:
        return self.pyproject["project"]["name"]

    @property
    def package(self) -> str:
        """The import package: the one folder under src/."""
        (init,) = (self.path / "src").glob("*/__init__.py")
        return init.parent.name

    def files(self) -> list[Path]:
        """Every file the template generated (git's own files excluded)."""
        return sorted(
            path
            for path in self.path.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(self.path).parts
        )

    def run(
        self, *command: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            command,
            cwd=self.path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed with exit code {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def nox(
        self, *arguments: str, env: dict[str, str] | None = None, check: bool = True
    ):
        """Run nox in the project on the running interpreter only."""
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        return self.run(
            sys.executable,
            "-m",
            "nox",
            "--force-python",
            python,
            *arguments,
            env=env,
            check=check,
        )


def bake(output_dir: Path, **answers: Any) -> BakedProject:
    """Bake the template without prompting; `answers` override the defaults."""
    output_dir.mkdir(parents=True, exist_ok=True)
    config = output_dir / "cookiecutter-config.yaml"
    config.write_text(f"replay_dir: {json.dumps(str(output_dir / 'replay'))}\n")
    project = cookiecutter(
        str(TEMPLATE),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        config_file=str(config),
    )
    return BakedProject(Path(project), answers)
