"""Measure how fast the template gets a user from nothing to green, and back.

    python bench/bench.py [--runs N]

Reports the median (and range) of N runs, on the running Python, of:

- bake: ``cookiecutter --no-input`` of the template's defaults
- bake→green cold: a fresh bake plus its first ``nox`` (no virtual
  environments yet; download caches warmed by one discarded run first)
- second nox: ``nox`` again, nothing changed
- same checks directly: the commands of nox's default sessions, run with the
  tools of its virtual environments but without nox (the floor for the above)
- a missing Python: ``nox -s tests --force-python X`` for a supported Python
  this machine lacks must fail, at once (a plain ``nox`` never looks for it)
- with ``--versus PATH`` (a checkout of scientific-python/cookie): its bake
  from the defaults plus the first ``nox -s pylint tests``, cold, each run
  right after one of ours, and the ratio of the medians

Needs cookiecutter, nox and uv installed for the running Python.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# The cache `nox -s typecheck` shares between libraries (see the noxfile).
CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
MYPY_CACHE = os.environ.get("MYPY_CACHE_DIR") or str(Path(CACHE_HOME, "mypy"))


def run(*command: str | Path, cwd: Path, check: bool = True) -> float:
    """Run a command (to success, if `check`); return how long it took in seconds."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=check, capture_output=True)
    return time.perf_counter() - start


def bake(into: Path) -> float:
    return run(sys.executable, "-m", "cookiecutter", "--no-input", TEMPLATE, cwd=into)


def nox(project: Path, *arguments: str, check: bool = True) -> float:
    return run(sys.executable, "-m", "nox", *arguments, cwd=project, check=check)


def checks_directly(project: Path) -> float:
    """What nox's default sessions run, with their tools, without nox."""
    venvs = project / ".nox"
    tests = venvs / "tests" / "bin"
    commands = [
        [tests / "pytest", "--cov", "--cov-report=xml:reports/coverage.xml"],
        [venvs / "typecheck" / "bin" / "mypy", "--cache-dir", MYPY_CACHE],
        [venvs / "lint" / "bin" / "black", "--check", "--diff", "."],
        [venvs / "lint" / "bin" / "flake8"],
    ]
    return sum(run(*command, cwd=project) for command in commands)


def missing_python() -> str | None:
    """The newest supported Python this machine cannot start, if any."""
    pythons = json.loads((TEMPLATE / "cookiecutter.json").read_text())["_pythons"]
    for python in reversed(pythons):
        if subprocess.run(
            ["sh", "-c", f"python{python} -c ''"], stderr=subprocess.DEVNULL
        ).returncode:
            return python
    return None


def asking_for_a_missing_python(project: Path, python: str) -> str:
    start = time.perf_counter()
    command = [sys.executable, "-m", "nox", "-s", "tests", "--force-python", python]
    status = subprocess.run(command, cwd=project, capture_output=True).returncode
    seconds = time.perf_counter() - start
    return f"{' '.join(command[2:])}: exit status {status} after {seconds:.2f} s"


def their_bake_to_green(cookie: Path, into: Path) -> float:
    """scientific-python/cookie's defaults baked, committed (its version comes
    from git) and its `nox -s pylint tests`, cold."""
    seconds = run(sys.executable, "-m", "cookiecutter", "--no-input", cookie, cwd=into)
    project = into / "package"
    start = time.perf_counter()
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit",
                     "-qm", "Initial commit"]):  # fmt: skip
        subprocess.run(command, cwd=project, check=True, capture_output=True)
    seconds += time.perf_counter() - start
    return seconds + nox(project, "-s", "pylint", "tests")


def measure(
    runs: int, scratch: Path, cookie: Path | None = None
) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "bake": [],
        "bake→green cold": [],
        "second nox": [],
        "same checks directly": [],
    }
    warm_up = Path(tempfile.mkdtemp(dir=scratch))
    bake(warm_up)
    nox(warm_up / "my-shared-utils")
    if cookie:
        figures["cookie bake→green cold"] = []
        their_bake_to_green(cookie, Path(tempfile.mkdtemp(dir=scratch)))
    for _ in range(runs):
        where = Path(tempfile.mkdtemp(dir=scratch))
        figures["bake"].append(bake(where))
        project = where / "my-shared-utils"
        figures["bake→green cold"].append(figures["bake"][-1] + nox(project))
        if cookie:
            theirs = their_bake_to_green(cookie, Path(tempfile.mkdtemp(dir=scratch)))
            figures["cookie bake→green cold"].append(theirs)
        figures["second nox"].append(nox(project))
        figures["same checks directly"].append(checks_directly(project))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Time bake, bake→green and nox.")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure")
    parser.add_argument(
        "--versus", type=Path, help="a checkout of scientific-python/cookie"
    )
    arguments = parser.parse_args()
    runs = arguments.runs
    with tempfile.TemporaryDirectory() as scratch:
        figures = measure(runs, Path(scratch), arguments.versus)
        project = next(Path(scratch).glob("*/my-shared-utils"))
        missing = missing_python()
        asking = missing and asking_for_a_missing_python(project, missing)
    print(f"Python {PYTHON}, {runs} runs: median (min–max), seconds")
    for name, seconds in figures.items():
        low, high = min(seconds), max(seconds)
        print(f"{name:21} {statistics.median(seconds):6.2f}  ({low:.2f}–{high:.2f})")
    ratio = statistics.median(figures["second nox"]) / statistics.median(
        figures["same checks directly"]
    )
    print(f"second nox / same checks directly: {ratio:.2f}×")
    if arguments.versus:
        versus = statistics.median(figures["bake→green cold"]) / statistics.median(
            figures["cookie bake→green cold"]
        )
        print(f"bake→green cold / scientific-python/cookie's: {versus:.2f}×")
    print(asking or "every supported Python is here: none to ask for")


if __name__ == "__main__":
    main()
