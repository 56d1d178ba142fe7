"""The Pythons newer than the running one that this machine already has.

A project baked for Python 3.12+ only goes green on a Python that new. The
tests take one from PATH or from pyenv's versions folder (pyenv's shims answer
only for the versions pyenv is told to use, so those are not on PATH);
Python 3.14 and 3.15 come from Debian unstable instead (tests/engines.py).
Nothing is compiled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent


def wanted_pythons() -> list[str]:
    """The minimum_python choices above the running Python, highest first: the
    highest one found runs the bakes of every choice up to it."""
    choices = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    running = (sys.version_info.major, sys.version_info.minor)
    return [
        python
        for python in reversed(choices["minimum_python"])
        if tuple(map(int, python.split("."))) > running
    ]


def starts(interpreter: str | Path) -> bool:
    return (
        subprocess.run([interpreter, "-c", ""], stderr=subprocess.DEVNULL).returncode
        == 0
    )


def on_path(python: str) -> Path | None:
    """python3.X from PATH, if it starts (a pyenv shim may not)."""
    found = shutil.which(f"python{python}")
    return Path(found) if found and starts(found) else None


def in_pyenv(python: str) -> Path | None:
    """pyenv's newest python3.X, if pyenv holds one that starts."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = sorted(
        root.glob(f"versions/{python}.*/bin/python{python}"),
        key=lambda path: tuple(map(int, re.findall(r"\d+", path.parts[-3]))),
    )
    return next((c for c in reversed(candidates) if starts(c)), None)


def newer_python(below: str | None = None) -> Path | None:
    """The highest wanted Python (lower than `below`, if given) this machine has."""
    for python in wanted_pythons():
        if below and tuple(map(int, python.split("."))) >= tuple(
            map(int, below.split("."))
        ):
            continue
        if found := on_path(python) or in_pyenv(python):
            return found
    return None
