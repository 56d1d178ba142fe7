"""Measure how fast the template gets a user from nothing to green, and back.

    python bench/bench.py [--runs N]

Reports the median (and range) of N runs, on the running Python, of:

- bake: ``cookiecutter --no-input`` of the template's defaults
- bake→green cold: a fresh bake plus its first ``nox`` (no virtual
  environments yet; download caches warmed by one discarded run first)
- second nox: ``nox`` again, nothing changed
- same checks directly: the commands of nox's default sessions, run with the
  tools of its virtual environments but without nox (the floor for the above)
- missing Pythons: what the supported Pythons this machine lacks cost a ``nox``
  run (the noxfile's check for each), and whether asking for one fails

Needs cookiecutter, nox and uv installed for the running Python.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


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
    tests = next(venvs.glob("tests-*")) / "bin"
    commands = [
        [tests / "pytest", "--cov", "--cov-report=xml:reports/coverage.xml"],
        [venvs / "typecheck" / "bin" / "mypy"],
        [venvs / "lint" / "bin" / "black", "--check", "--diff", "."],
        [venvs / "lint" / "bin" / "flake8"],
    ]
    return sum(run(*command, cwd=project) for command in commands)


# Run in the project folder: times the noxfile's search for the supported Pythons.
MISSING_COST = """
import time, noxfile
start = time.perf_counter()
found = noxfile.available(noxfile.SUPPORTED)
seconds = time.perf_counter() - start
print(seconds, *(python for python in noxfile.SUPPORTED if python not in found))
"""


def missing_pythons_cost(project: Path) -> tuple[float, list[str]]:
    """Time the noxfile spends finding the supported Pythons; the missing ones."""
    command = [sys.executable, "-c", MISSING_COST]
    output = subprocess.run(command, cwd=project, capture_output=True, text=True)
    seconds, *missing = output.stdout.split()
    return float(seconds), missing


def asking_for_a_missing_python(project: Path, python: str) -> str:
    start = time.perf_counter()
    command = [sys.executable, "-m", "nox", "-s", f"tests-{python}"]
    status = subprocess.run(command, cwd=project, capture_output=True).returncode
    seconds = time.perf_counter() - start
    return f"nox -s tests-{python}: exit status {status} after {seconds:.2f} s"


def measure(runs: int, scratch: Path) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "bake": [],
        "bake→green cold": [],
        "second nox": [],
        "same checks directly": [],
    }
    warm_up = Path(tempfile.mkdtemp(dir=scratch))
    bake(warm_up)
    nox(warm_up / "my-shared-utils")
    for _ in range(runs):
        where = Path(tempfile.mkdtemp(dir=scratch))
        figures["bake"].append(bake(where))
        project = where / "my-shared-utils"
        figures["bake→green cold"].append(figures["bake"][-1] + nox(project))
        figures["second nox"].append(nox(project))
        figures["same checks directly"].append(checks_directly(project))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Time bake, bake→green and nox.")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        figures = measure(runs, Path(scratch))
        project = next(Path(scratch).glob("*/my-shared-utils"))
        cost, missing = missing_pythons_cost(project)
        asking = [asking_for_a_missing_python(project, python) for python in missing]
    print(f"Python {PYTHON}, {runs} runs: median (min–max), seconds")
    for name, seconds in figures.items():
        low, high = min(seconds), max(seconds)
        print(f"{name:21} {statistics.median(seconds):6.2f}  ({low:.2f}–{high:.2f})")
    ratio = statistics.median(figures["second nox"]) / statistics.median(
        figures["same checks directly"]
    )
    print(f"second nox / same checks directly: {ratio:.2f}×")
    print(f"missing Pythons {' '.join(missing) or '(none)'}: {cost:.2f} s a run")
    print(*asking[:1], sep="\n")


if __name__ == "__main__":
    main()
