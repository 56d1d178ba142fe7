"""Measure how fast the template gets a user from nothing to green.

    python bench/bench.py [--runs N]

Reports the median (and range) of N runs of:

- bake: ``cookiecutter --no-input`` of the template's defaults
- bake→green cold: a fresh bake plus its first full ``nox`` (no virtual
  environments yet; download caches warmed by one discarded run first)
- bake→green warm: ``nox`` again in that project (virtual environments reused)
- warm, no installs: ``nox -R`` (reuse and skip the install steps)

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


def run(*command: str | Path, cwd: Path) -> float:
    """Run a command to success; return how long it took in seconds."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def bake(into: Path) -> float:
    return run(sys.executable, "-m", "cookiecutter", "--no-input", TEMPLATE, cwd=into)


def nox(project: Path, *options: str) -> float:
    return run(
        sys.executable, "-m", "nox", "--force-python", PYTHON, *options, cwd=project
    )


def measure(runs: int, scratch: Path) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "bake": [],
        "bake→green cold": [],
        "bake→green warm": [],
        "warm, no installs": [],
    }
    warm_up = Path(tempfile.mkdtemp(dir=scratch))
    bake(warm_up)
    nox(warm_up / "my-shared-utils")
    for _ in range(runs):
        where = Path(tempfile.mkdtemp(dir=scratch))
        figures["bake"].append(bake(where))
        project = where / "my-shared-utils"
        figures["bake→green cold"].append(figures["bake"][-1] + nox(project))
        figures["bake→green warm"].append(nox(project))
        figures["warm, no installs"].append(nox(project, "-R"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="Time bake and bake→green.")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        figures = measure(runs, Path(scratch))
    print(f"Python {PYTHON}, {runs} runs: median (min–max), seconds")
    for name, seconds in figures.items():
        low, high = min(seconds), max(seconds)
        print(f"{name:18} {statistics.median(seconds):6.2f}  ({low:.2f}–{high:.2f})")


if __name__ == "__main__":
    main()
