"""A freshly baked project goes green on its first `nox`, and its wheel works."""

from __future__ import annotations

import re
import subprocess
import venv
from pathlib import Path

import pytest

from tests.baking import EVERYTHING_ON, BakedProject, bake

pytestmark = pytest.mark.slow


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


@pytest.mark.parametrize(
    "answers", [{}, EVERYTHING_ON], ids=["defaults", "everything-on"]
)
def test_first_nox_run_passes_and_the_wheel_installs_and_imports(
    tmp_path: Path, answers
):
    project = bake(tmp_path / "bake", **answers)

    result = project.nox()

    for session in ("tests", "lint", "build"):
        assert re.search(rf"\* {session}-[\d.]+: success", result.stderr), session
    assert sorted(path.suffix for path in (project.path / "dist").iterdir()) == [
        ".gz",
        ".whl",
    ]
    assert list((project.path / "reports").glob("junit-py*.xml"))
    assert list((project.path / "reports").glob("coverage-py*.xml"))
    assert (
        installed_and_imported(project, tmp_path)
        == f"{project.distribution} 0.1.dev1\n"
    )
