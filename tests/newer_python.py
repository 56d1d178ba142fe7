"""Find an interpreter of a given Python version that this machine already has.

A project baked for Python 3.12+ only goes green on a Python that new. The
tests take one from PATH or from pyenv's versions folder (pyenv's shims answer
only for the versions pyenv is told to use, so those are not on PATH);
Python 3.14 and 3.15 come from Debian unstable instead (tests/engines.py).
Nothing is compiled.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


def starts(interpreter: str | Path) -> bool:
    ran = subprocess.run([interpreter, "-c", ""], stderr=subprocess.DEVNULL)
    return ran.returncode == 0


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
