"""Measure how fast the template gets a user from nothing to green.

    python bench/bench.py [--runs N]

Reports medians of N runs of:
- bake:             `cookiecutter --no-input` of the template's defaults
- bake→green cold:  a fresh bake plus its first full `nox` (no virtualenvs
                    yet; download caches warm after one discarded warm-up run)
- bake→green warm:  `nox` again in the same project (virtualenvs reused)

Needs cookiecutter, nox and uv on the running Python (`pip install cookiecutter nox uv`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(*command: str | Path, cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def bake(into: Path) -> Path:
    run(sys.executable, "-m", "cookiecutter", "--no-input", TEMPLATE, "-o", into, cwd=into)
    return into / "my-shared-utils"


def first_nox(project: Path) -> None:
    run(sys.executable, "-m", "nox", "--force-python", PYTHON, cwd=project)


def measure(runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"bake": [], "bake→green cold": [], "bake→green warm": []}
    with tempfile.TemporaryDirectory() as scratch:
        first_nox(bake(Path(tempfile.mkdtemp(dir=scratch))))  # warm the download caches
        for _ in range(runs):
            figures["bake"].append(timed(lambda: bake(Path(tempfile.mkdtemp(dir=scratch)))))
        for _ in range(runs):
            where = Path(tempfile.mkdtemp(dir=scratch))
            project: list[Path] = []
            figures["bake→green cold"].append(
                timed(lambda: (project.append(bake(where)), first_nox(project[0])))
            )
            figures["bake→green warm"].append(timed(lambda: first_nox(project[0])))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    arguments = parser.parse_args()
    figures = measure(arguments.runs)
    print(f"Python {PYTHON}, {arguments.runs} runs, median (min–max) in seconds")
    for name, seconds in figures.items():
        print(
            f"{name:18} {statistics.median(seconds):6.2f}"
            f"  ({min(seconds):.2f}–{max(seconds):.2f})"
        )


if __name__ == "__main__":
    main()
