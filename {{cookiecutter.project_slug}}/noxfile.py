"""Development tasks.

``nox`` runs the tests on every supported Python, the linters and the build.
``nox -s format`` reformats the code with black. ``nox -l`` lists all sessions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON_VERSIONS = nox.project.python_versions(PYPROJECT)
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
BUILD_TOOLS = ["build>=1.2", "twine>=6.1"]

# Test, coverage and JUnit reports land here; the pipeline publishes them.
REPORTS = Path("reports")
DIST = Path("dist")


@nox.session(python=PYTHON_VERSIONS)
def tests(session: nox.Session) -> None:
    """Run the test suite with coverage."""
    session.install("-e", ".[test]")
    name = f"py{session.python}"
    session.run(
        "pytest",
        "--cov",
        "--cov-report=term",
        f"--cov-report=xml:{REPORTS / f'coverage-{name}.xml'}",
        f"--junitxml={REPORTS / f'junit-{name}.xml'}",
        *session.posargs,
        env={"COVERAGE_FILE": str(REPORTS / f".coverage.{name}")},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting with black and style with flake8."""
    session.install(*EXTRAS["lint"])
    session.run("black", "--check", "--diff", ".")
    session.run("flake8")


@nox.session(default=False)
def format(session: nox.Session) -> None:
    """Reformat the code with black."""
    session.install(*EXTRAS["lint"])
    session.run("black", ".")


@nox.session
def build(session: nox.Session) -> None:
    """Build the wheel and sdist into dist/ and check their metadata."""
    # uv builds the isolated build environment in a fraction of pip's time.
    installer = "uv" if session.venv_backend == "uv" else "pip"
    session.install(*BUILD_TOOLS, *(["uv"] if installer == "uv" else []))
    shutil.rmtree(DIST, ignore_errors=True)
    session.run("python", "-m", "build", f"--installer={installer}")
    session.run("twine", "check", "--strict", *map(str, DIST.glob("*")))
