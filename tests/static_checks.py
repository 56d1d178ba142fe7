"""Checks every baked project must pass without installing anything."""

from __future__ import annotations

import re
import subprocess
import sys

from validate_pyproject import api as validate_pyproject

from tests.baking import BakedProject

# Jinja delimiters or a cookiecutter variable left in a generated file.
UNRENDERED = re.compile(r"\{\{|\{%|\{#|cookiecutter\.")

_validate = validate_pyproject.Validator()


def unrendered_jinja(project: BakedProject) -> list[str]:
    """Files (and file names) that still contain template syntax."""
    leftovers = []
    for path in project.files():
        relative = path.relative_to(project.path)
        if UNRENDERED.search(str(relative)) or UNRENDERED.search(
            path.read_text(encoding="utf-8", errors="replace")
        ):
            leftovers.append(str(relative))
    return leftovers


def assert_static_checks_pass(project: BakedProject) -> None:
    """No template syntax left, valid pyproject.toml, black- and flake8-clean."""
    assert unrendered_jinja(project) == []
    _validate(project.pyproject)
    for command in (["black", "--check", "--quiet", "."], ["flake8"]):
        result = subprocess.run(
            [sys.executable, "-m", *command],
            cwd=project.path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{command[0]}:\n{result.stdout}{result.stderr}"
