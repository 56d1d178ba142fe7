"""The template bakes however a user names it: paths, URLs, a zip, cruft.

Each route runs the real cookiecutter or cruft command line in a fresh clone
of a stand-in for the organisation's template repository, with a HOME of its
own, and must bake exactly the files the reference bake makes. The first `nox`
of a bake from `.` runs in test_documented_commands.py (the Quick start).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baking import bake, hosted_template, isolated_git_env

pytestmark = pytest.mark.slow

RELEASE = "v1.0.0"
PROJECT = "my-shared-utils"


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"{' '.join(command)} failed with exit code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
    return result.stdout + result.stderr


def tree(project: Path) -> dict[str, bytes]:
    """Every generated file and its content; git's and cruft's own files aside."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file()
        and ".git" not in path.relative_to(project).parts
        and path.name != ".cruft.json"
    }


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The hosted template (tagged), a fresh clone of it, a zip of the clone."""
    root = tmp_path_factory.mktemp("routes")
    env = isolated_git_env(root / "setup-home")
    hosted = hosted_template(root, env)
    subprocess.run(
        ["git", "-C", str(hosted), "tag", "--annotate", RELEASE, "-m", RELEASE],
        env=env,
        check=True,
    )
    clone = root / "azure-pylib-template"
    subprocess.run(["git", "clone", "--quiet", str(hosted), str(clone)], check=True)
    archive = root / "azure-pylib-template.zip"
    subprocess.run(
        ["git", "-C", str(clone), "archive", "--format=zip"]
        + ["--prefix=azure-pylib-template/", "-o", str(archive), "HEAD"],
        check=True,
    )
    beside = root / "beside"
    beside.mkdir()
    return {"hosted": hosted, "clone": clone, "zip": archive, "beside": beside}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return tree(bake(tmp_path_factory.mktemp("reference")).path)


COOKIECUTTER = [sys.executable, "-m", "cookiecutter", "--no-input"]
# route: (where the command runs, the command); {hosted}, {clone}, {zip} are paths.
ROUTES = {
    "dot-inside-the-clone": ("clone", [*COOKIECUTTER, "."]),
    "relative-path-beside-the-clone": (
        "beside",
        [*COOKIECUTTER, "../azure-pylib-template"],
    ),
    "absolute-path": ("beside", [*COOKIECUTTER, "{clone}"]),
    "file-url-of-the-repository": ("beside", [*COOKIECUTTER, "file://{hosted}"]),
    "git+file-url-of-the-clone": ("beside", [*COOKIECUTTER, "git+file://{clone}"]),
    "zip": ("beside", [*COOKIECUTTER, "../azure-pylib-template.zip"]),
    "git-url-at-a-release-tag": (
        "beside",
        [*COOKIECUTTER, "file://{hosted}", "--checkout", RELEASE],
    ),
    "cruft-create-relative-path": (
        "beside",
        [sys.executable, "-m", "cruft", "create", "--no-input"]
        + ["../azure-pylib-template"],
    ),
}


@pytest.mark.parametrize("route", ROUTES)
def test_template_bakes_the_same_project_from_every_route(
    route: str, sites: dict[str, Path], reference: dict[str, bytes], tmp_path: Path
):
    where, command = ROUTES[route]
    cwd = sites[where]
    env = isolated_git_env(tmp_path / "home")
    places = {name: path.as_posix() for name, path in sites.items()}
    command = [part.format(**places) for part in command]
    try:
        run(command, cwd, env)
        baked = tree(cwd / PROJECT)
        assert baked.keys() == reference.keys()
        assert [name for name in baked if baked[name] != reference[name]] == []
        if route.startswith("cruft"):
            assert (cwd / PROJECT / ".cruft.json").is_file()
        else:  # the post-generation hook made the first commit
            assert run(["git", "log", "--format=%s"], cwd / PROJECT, env).strip()
    finally:
        shutil.rmtree(cwd / PROJECT, ignore_errors=True)
