"""A freshly baked project goes green on its first `nox`, and its wheel works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.baking import (
    CHOICES,
    DEFAULTS,
    EVERYTHING_ELSE,
    EVERYTHING_ON,
    BakedProject,
    bake,
)
from tests.engines import UNSTABLE_PYTHONS, run_in_unstable
from tests.newer_python import in_pyenv, on_path

pytestmark = pytest.mark.slow

# Punctuation that PEP 621 tools would quote into Author-email as a display name.
AUTHOR = "Data Tools (Core), Inc."


def installed_and_imported(project: BakedProject, tmp_path: Path) -> str:
    """Install the built wheel into a fresh venv; return what the package prints."""
    (wheel,) = (project.path / "dist").glob("*.whl")
    environment = tmp_path / "fresh-venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--quiet", wheel], check=True
    )
    return subprocess.run(
        [python, "-m", project.package], check=True, capture_output=True, text=True
    ).stdout


def wheel_metadata(project: BakedProject) -> dict[str, str]:
    (wheel,) = (project.path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return dict(Parser().parsestr(archive.read(name).decode()).items())


# The three first runs below meet every value of every choice but the minimum
# Pythons above the one running here, which the newer-Python first runs meet.
FIRST_RUNS = [{}, {**EVERYTHING_ON, "author_name": AUTHOR}, EVERYTHING_ELSE]
RUNNING = (sys.version_info.major, sys.version_info.minor)
NEWER_MINIMUMS = [
    python
    for python in CHOICES["minimum_python"]
    if tuple(map(int, python.split("."))) > RUNNING
]
# Minimums whose Python this machine has (on PATH or in pyenv); the others run
# on Debian unstable's CPython builds (tests/engines.py).
HOST_MINIMUMS = [python for python in NEWER_MINIMUMS if python not in UNSTABLE_PYTHONS]


def test_the_first_runs_meet_every_choice_value():
    defaults = {
        field: values[0] if isinstance(values, list) else values
        for field, values in CHOICES.items()
    }
    met = {
        (field, {**defaults, **answers}[field])
        for answers in FIRST_RUNS
        for field in CHOICES
    } | {("minimum_python", minimum) for minimum in NEWER_MINIMUMS}
    wanted = {
        (field, value)
        for field, values in CHOICES.items()
        for value in ([True, False] if isinstance(values, bool) else values)
    }
    assert wanted <= met


@pytest.mark.parametrize(
    "answers", FIRST_RUNS, ids=["defaults", "everything-on", "everything-else"]
)
def test_first_nox_run_passes_and_the_wheel_installs_and_imports(
    tmp_path: Path, answers
):
    project = bake(tmp_path / "bake", **answers)

    result = project.nox()
    named = project.nox("-s", "build")

    for session in ("tests", "typecheck", "lint"):
        assert re.search(rf"\* {session}(-[\d.]+)?: success", result.stderr), session
        # run side by side: nox prints each parallel session's log as one block
        assert re.search(rf"=+ ✓ {session}(-[\d.]+)?: success", result.stdout), session
    # a session you name runs in the terminal, as nox streams it
    assert "nox > Running session build" in named.stderr
    assert "parallel" not in named.stdout + named.stderr
    assert sorted(path.suffix for path in (project.path / "dist").iterdir()) == [
        ".gz",
        ".whl",
    ]
    reports = project.path / "reports"
    assert "batching.chunked" in (reports / "junit.xml").read_text()  # doctest ran
    assert (reports / "coverage.xml").exists() and (reports / ".coverage").exists()
    version = "0.1.dev1" if project.answers.get("versioning") != "static" else "2.0.0"
    assert installed_and_imported(project, tmp_path) == (
        f"{project.distribution} {version}\n"
    )
    metadata = wheel_metadata(project)
    assert metadata["Author"] == answers.get("author_name", "Platform Team")
    assert metadata["Author-email"] == "platform-team@example.com"


def python_version(interpreter: Path) -> tuple[int, int]:
    code = "import sys; print(*sys.version_info[:2])"
    output = subprocess.run([interpreter, "-c", code], capture_output=True, text=True)
    major, minor = output.stdout.split()
    return int(major), int(minor)


@pytest.mark.parametrize("minimum", HOST_MINIMUMS)
def test_a_project_for_a_newer_python_goes_green_on_its_first_nox_there(
    tmp_path: Path, minimum: str
):
    interpreter = on_path(minimum) or in_pyenv(minimum)
    if interpreter is None:
        pytest.skip(f"no Python {minimum} on PATH or in pyenv: tests/newer_python.py")
    newer = python_version(interpreter)
    project = bake(tmp_path / "bake", minimum_python=minimum)
    # As the project's README develops: a venv of that Python, nox in it.
    venv = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", "--without-pip", venv], check=True)
    install = ["uv", "pip", "install", "--quiet", "--python", venv / "bin" / "python"]
    subprocess.run([sys.executable, "-m", *install, "nox[uv]>=2026.8.17"], check=True)

    result = project.run(venv / "bin" / "python", "-m", "nox")

    for session in ("tests", "typecheck", "lint"):
        assert f"* {session}: success" in result.stderr, result.stderr
    assert python_version(project.path / ".nox" / "tests" / "bin" / "python") == newer


@pytest.mark.parametrize(
    ("answers", "python", "command"),
    [
        ({"minimum_python": "3.14"}, "3.14", ["nox"]),
        # The pipeline's 3.15 leg, as its test job runs it.
        ({}, "3.15", ["nox", "-s", "tests", "--force-python", "3.15"]),
    ],
    ids=["minimum-3.14", "the-3.15-leg"],
)
def test_on_a_real_cpython_of_debian_unstable_the_first_nox_is_green(
    tmp_path: Path, answers, python, command
):
    assert {python, *NEWER_MINIMUMS} - set(HOST_MINIMUMS) <= set(UNSTABLE_PYTHONS)
    project = bake(tmp_path / "bake", **answers)
    # nox and uv at the versions the pipeline installs (of the `ci` group).
    ci = project.pyproject["dependency-groups"]["ci"]
    tools = [pin for pin in ci if pin.startswith(("nox==", "uv=="))]

    result = run_in_unstable(project.path, python, tools, *command)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    sessions = ["tests", "typecheck", "lint"] if command == ["nox"] else []
    for session in sessions:
        assert f"* {session}: success" in result.stderr, output
    assert re.search(rf"platform linux -- Python {re.escape(python)}\.\d+", output)
    assert re.search(r"\b[1-9]\d* passed\b", output)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    return bake(tmp_path_factory.mktemp("bake"))


def missing_supported_python() -> str:
    """The newest supported Python this machine cannot run."""
    return next(
        python for python in reversed(DEFAULTS["_pythons"]) if on_path(python) is None
    )


def test_the_tests_run_on_the_python_that_runs_nox(project):
    listed = project.nox("-l").stdout
    project.nox("-s", "tests")

    assert re.search(r"^\* tests +-> ", listed, re.M), listed
    assert "tests-3." not in listed  # no per-Python sessions to search for
    python = project.path / ".nox" / "tests" / "bin" / "python"
    tested_on = project.run(python, "-c", "import sys; print(sys.version_info[:2])")
    assert tested_on.stdout.strip() == str(sys.version_info[:2])


def test_a_python_named_on_the_command_line_runs_the_tests_with_pytest_arguments(
    project,
):
    running = f"{sys.version_info.major}.{sys.version_info.minor}"

    result = project.nox("-s", "tests", "--force-python", running, "--", "-k", "chunk")

    assert f"Session tests-{running} was successful" in result.stderr
    assert re.search(r"\b[1-9]\d* passed, [1-9]\d* deselected\b", result.stdout)


def test_a_second_nox_installs_nothing_until_pyproject_toml_changes(tmp_path: Path):
    project = bake(tmp_path / "bake")
    project.nox("-s", "tests")

    again = project.nox("-s", "tests")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        re.sub(r'("pytest-cov==[\d.]+")\]', r'\1, "six"]', pyproject.read_text())
    )
    changed = project.nox("-s", "tests")
    fresh = project.nox("--reuse-venv=no", "-s", "lint")

    assert "pip install" not in again.stderr
    assert "pip install --group test -e ." in changed.stderr
    project.run(project.path / ".nox" / "tests" / "bin" / "python", "-c", "import six")
    assert "Creating virtual environment" in fresh.stderr


def test_asking_for_a_missing_python_fails_at_once(project):
    missing = missing_supported_python()

    forced = project.nox("-s", "tests", "--force-python", missing, check=False)
    named = project.nox("-s", f"tests-{missing}", check=False)

    assert forced.returncode != 0
    assert f"Python interpreter {missing} not found" in forced.stderr
    assert named.returncode != 0
    assert f"Sessions not found: tests-{missing}" in named.stderr


def test_the_noxfile_runs_as_a_script_with_uv(project):
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # uv
        "UV_DEFAULT_INDEX": "https://pypi.org/simple/",
        "UV_SYSTEM_CERTS": "1",
    }
    listed = project.run("./noxfile.py", "-l", env=env).stdout

    assert "- publish ->" in listed
