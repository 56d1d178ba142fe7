"""Write reserved_names.json: what the generated project's own environments install.

    nox -s reserved-names

Bakes the defaults, resolves everything the baked project's nox sessions
install (dependency groups, extras and the build system, all in its
pyproject.toml) with uv against PyPI for every platform, and lists the
distribution names and the top-level import names they bring. A project of
one of these names would conflict with its own test, lint or build
environment. answers.py reads the file with the standard library only.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from cookiecutter.main import cookiecutter
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HOOKS = Path(__file__).resolve().parent
TEMPLATE = HOOKS.parent
DATA_FILE = HOOKS / "reserved_names.json"
PLATFORMS = ["linux", "windows", "macos"]
# virtualenv seeds pip into every environment nox creates without uv.
SEEDED = ["pip"]
# Groups that only a pipeline installs, in an environment of their own.
OUTSIDE_NOX = {"template-update"}
# Only names a package of the project could have (answers.PACKAGE).
IMPORTABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def baked_defaults(folder: Path) -> Path:
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, output_dir=str(folder), default_config=True
        )
    )


def the_templates_tools() -> tuple[str, list[str]]:
    """The distribution of this template's tools and its import packages: they
    come from the organisation's feed, not PyPI, and depend on nothing."""
    pyproject = tomllib.loads((TEMPLATE / "pyproject.toml").read_text("utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return canonicalize_name(pyproject["project"]["name"]), packages


def requirements(project: Path) -> list[str]:
    """Every requirement the project's nox sessions install: all in pyproject.toml,
    but the template's tools."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))
    found = [*pyproject["build-system"]["requires"], *SEEDED]
    for name, group in pyproject.get("dependency-groups", {}).items():
        if name not in OUTSIDE_NOX:
            found += [item for item in group if isinstance(item, str)]
    for extra in pyproject["project"].get("optional-dependencies", {}).values():
        found += extra
    skipped = {
        canonicalize_name(pyproject["project"]["name"]),
        the_templates_tools()[0],
    }
    return sorted({item for item in found if Requirement(item).name not in skipped})


def uv(*arguments: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "uv", *arguments],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def reserved_names(requirements: list[str], python: str) -> dict[str, list[str]]:
    with tempfile.TemporaryDirectory() as scratch:
        wanted = Path(scratch, "requirements.in")
        wanted.write_text("\n".join(requirements) + "\n")
        pinned = Path(scratch, "requirements.txt")
        pinned.write_text(
            uv("pip", "compile", "--quiet", "--universal", "--no-header",
               "--no-annotate", "--python-version", python, str(wanted))
        )  # fmt: skip
        distributions = {
            canonicalize_name(Requirement(line.split(";")[0]).name)
            for line in pinned.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        # A distribution not installed for any platform imports as its name.
        packages = {name.replace("-", "_") for name in distributions}
        for platform in PLATFORMS:
            target = Path(scratch, platform)
            uv("pip", "install", "--quiet", "--no-deps", "--target", str(target),
               "--python-platform", platform, "--python-version", python,
               "-r", str(pinned))  # fmt: skip
            packages |= top_level_names(target)
    return {"distributions": sorted(distributions), "packages": sorted(packages)}


def top_level_names(target: Path) -> set[str]:
    """Lowercase names importable from an installation folder."""
    names = set()
    for path in target.iterdir():
        if path.suffix in {".dist-info", ".data", ".pth"} or path.name == "bin":
            continue
        name = path.name.split(".")[0]
        if IMPORTABLE.fullmatch(name):
            names.add(name.lower())
    return names


def current(python: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        project = baked_defaults(Path(folder))
        found = reserved_names(requirements(project), python)
    tools, packages = the_templates_tools()
    return {
        "generated_by": "nox -s reserved-names",
        "distributions": sorted({*found["distributions"], tools}),
        "packages": sorted({*found["packages"], *packages}),
    }


def minimum_python() -> str:
    context = json.loads((TEMPLATE / "cookiecutter.json").read_text("utf-8"))
    return context["_pythons"][0]


if __name__ == "__main__":
    DATA_FILE.write_text(json.dumps(current(minimum_python()), indent=1) + "\n")
    print(f"wrote {DATA_FILE}")
