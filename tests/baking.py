"""Bake the template with cookiecutter's API and inspect what it made."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())

# Who commits and tags in tests, whatever git config the machine has.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Release Bot",
    "GIT_AUTHOR_EMAIL": "release@example.com",
    "GIT_COMMITTER_NAME": "Release Bot",
    "GIT_COMMITTER_EMAIL": "release@example.com",
}


def isolated_git_env(home: Path) -> dict[str, str]:
    """An environment where git and cookiecutter ignore the user's own settings."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "COOKIECUTTER_"))
    }
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.com",
    )
    return env


def hosted_template(folder: Path, env: dict[str, str]) -> Path:
    """A bare repository `cookiecutter-azure-pylib.git` holding the template as tested.

    It stands in for the organisation's template repository: one commit with
    every file git would track in the working tree (committed or not, deleted
    files left out), so the tests see the template as it is on disk.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    staging = folder / "staging"
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / name)
    hosted = folder / "cookiecutter-azure-pylib.git"
    for command in (
        ["git", "init", "--quiet", "--initial-branch=main", str(staging)],
        ["git", "-C", str(staging), "add", "--all"],
        ["git", "-C", str(staging), "commit", "--quiet", "-m", "Template as tested"],
        ["git", "clone", "--quiet", "--bare", str(staging), str(hosted)],
    ):
        subprocess.run(command, env=env, check=True, capture_output=True)
    shutil.rmtree(staging)
    return hosted


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

    def documentation(self) -> dict[str, str]:
        """README.md and docs/*.md, by relative path: what the project tells users."""
        pages = [self.path / "README.md", *sorted((self.path / "docs").glob("*.md"))]
        return {
            page.relative_to(self.path).as_posix(): page.read_text() for page in pages
        }

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

    def git(self, *arguments: str, env: dict[str, str] | None = None) -> str:
        """Run git in the project as the test identity; return its output."""
        return self.run("git", *arguments, env={**GIT_IDENTITY, **(env or {})}).stdout

    def commit(self, message: str) -> None:
        """Commit a change to CHANGELOG.md, as a developer's next commit."""
        changelog = self.path / "CHANGELOG.md"
        changelog.write_text(changelog.read_text() + f"\n- {message}\n")
        self.git("commit", "--quiet", "-am", message)

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


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file that is not on sys.path (a hook, bake.py, a baked noxfile)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, as an internal package on the feed would be.

    Its module `name` (underscored) has `VERSION` and `answer()` returning 42.
    """
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": (
            f'VERSION = "{version}"\n\n\ndef answer():\n    return 42\n'
        ),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel
