"""Checks of the template itself: ``nox`` runs the whole test suite."""

from __future__ import annotations

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

TEST_REQUIREMENTS = "tests/requirements.txt"


@nox.session
def tests(session: nox.Session) -> None:
    """Bake the template in every combination and run the baked projects' checks."""
    session.install("-r", TEST_REQUIREMENTS)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check the template's own code with black and flake8."""
    session.install("black>=25.1", "flake8>=7.1")
    session.run("black", "--check", "--diff", ".")
    session.run("flake8")


@nox.session(name="reserved-names", default=False)
def reserved_names(session: nox.Session) -> None:
    """Refresh hooks/reserved_names.json from the generated project's tools."""
    session.install("cookiecutter>=2.6", "packaging>=24", "uv>=0.6")
    session.run("python", "hooks/reserved_names.py")
