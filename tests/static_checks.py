"""The core static checks of a baked project, fast enough to run on every bake.

- no template syntax left in any file name or content,
- pyproject.toml against the packaging schemas (validate-pyproject),
- every Python file formatted as black would (the project's own black config),
- flake8 clean with the project's own .flake8,
- the package imports and ``python -m <package>`` runs,
- a README of at most 80 lines whose links, like those of docs/, lead somewhere;

and, for any pipeline file, its errors against the Azure Pipelines schema.

The import check runs on the sources in ``src/`` rather than an installed
wheel (an install per bake is too slow for property tests). The package looks
its version up in the installed distribution's metadata, so a minimal
``.dist-info`` with the name and version from pyproject.toml stands in for
what pip would write; the slow tests install real wheels.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import black
from flake8.main.application import Application as Flake8
from validate_pyproject import api as validate_pyproject_api

from tests.baking import BakedProject

# Jinja delimiters or a cookiecutter variable left in a generated file; Azure
# Pipelines' own template expressions, ${{ ... }}, belong in pipeline files.
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|\{#|cookiecutter\.")


def check_fully_rendered(project: BakedProject) -> None:
    """No file name or content still holds template syntax."""
    leftovers = [
        str(path.relative_to(project.path))
        for path in project.files()
        if UNRENDERED.search(str(path.relative_to(project.path)))
        or UNRENDERED.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert leftovers == [], f"template syntax left in {leftovers}"


@functools.cache
def pyproject_validator() -> validate_pyproject_api.Validator:
    return validate_pyproject_api.Validator()


def check_pyproject(project: BakedProject) -> None:
    pyproject_validator()(project.pyproject)


def unformatted_python_files(project: BakedProject) -> dict[str, str]:
    """Each file black would change, with the code black would write instead."""
    config = black.parse_pyproject_toml(str(project.path / "pyproject.toml"))
    mode = black.Mode(
        target_versions={
            black.TargetVersion[version.upper()]
            for version in config.get("target_version", [])
        },
        line_length=config.get("line_length", black.DEFAULT_LINE_LENGTH),
    )
    unformatted = {}
    for path in project.files():
        if path.suffix != ".py":
            continue
        source = path.read_text(encoding="utf-8")
        try:
            formatted = black.format_file_contents(source, fast=False, mode=mode)
        except black.NothingChanged:
            continue
        unformatted[str(path.relative_to(project.path))] = formatted
    return unformatted


def check_black(project: BakedProject) -> None:
    unformatted = unformatted_python_files(project)
    assert not unformatted, "black would reformat:\n" + "\n".join(
        f"--- {name} ---\n{code}" for name, code in unformatted.items()
    )


def check_flake8(project: BakedProject) -> None:
    # In the project folder, so flake8 finds .flake8 as `nox -s lint` does; in
    # this process, one job, as a subprocess per bake costs more than the check.
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(project.path):
        report = Path(folder, "flake8.txt")
        flake8 = Flake8()
        flake8.run(["--jobs=1", f"--output-file={report}"])
        findings = report.read_text(encoding="utf-8")
    assert flake8.result_count == 0, f"flake8 finds:\n{findings}"


def distribution_version(project: BakedProject) -> str:
    """The static version, or a stand-in when git tags decide it at build time."""
    return project.pyproject["project"].get("version", "0.0.0")


def check_imports(project: BakedProject) -> None:
    dist, version = project.distribution, distribution_version(project)
    with tempfile.TemporaryDirectory() as site:
        metadata = Path(site, f"{dist.replace('-', '_')}-{version}.dist-info")
        metadata.mkdir()
        (metadata / "METADATA").write_text(
            f"Metadata-Version: 2.4\nName: {dist}\nVersion: {version}\n",
            encoding="utf-8",
        )
        result = project.run(
            sys.executable, "-W", "error", "-m", project.package,
            env={
                "PYTHONPATH": os.pathsep.join([str(project.path / "src"), site]),
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )  # fmt: skip
    assert result.stdout == f"{dist} {version}\n", result.stdout


README_MAX_LINES = 80
# A Markdown link to a page of the project: [text](target.md#anchor), not a URL.
RELATIVE_LINK = re.compile(r"\]\((?![a-z]+:)([^)#\s]*)(?:#([^)\s]*))?\)")


def heading_anchors(markdown: str) -> set[str]:
    """The anchors Azure DevOps and GitHub give headings: lowercase, spaces as `-`."""
    return {
        re.sub(r"[^\w -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def check_documentation(project: BakedProject) -> None:
    """A short README; every relative link in the docs leads to a page and heading."""
    readme_lines = project.read("README.md").count("\n")
    assert readme_lines <= README_MAX_LINES, f"README.md has {readme_lines} lines"
    broken = []
    for page, text in project.documentation().items():
        for target, anchor in RELATIVE_LINK.findall(text):
            linked = (project.path / page).parent / target if target else None
            linked = linked or project.path / page
            if not linked.is_file():
                broken.append(f"{page}: {target}")
            elif anchor and anchor not in heading_anchors(linked.read_text()):
                broken.append(f"{page}: {target}#{anchor}")
    assert broken == [], f"links that lead nowhere: {broken}"


def assert_static_checks_pass(project: BakedProject) -> None:
    """Rendered, valid pyproject, black- and flake8-clean, importable, documented."""
    check_fully_rendered(project)
    check_documentation(project)
    check_pyproject(project)
    check_black(project)
    check_flake8(project)
    check_imports(project)


# The Azure Pipelines schema that check-jsonschema vendors
# (microsoft/azure-pipelines-vscode's service-schema.json).
CHECK_JSONSCHEMA = [
    sys.executable,
    "-m",
    "check_jsonschema",
    "--builtin-schema",
    "vendor.azure-pipelines",
    "--regex-variant",
    "nonunicode",
    "--data-transform",
    "azure-pipelines",
    "--output-format",
    "json",
]


def azure_pipelines_schema_errors(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """check-jsonschema's errors for each file (one run for all of them)."""
    completed = subprocess.run(
        [*CHECK_JSONSCHEMA, *map(str, files)], capture_output=True, text=True
    )
    report = json.loads(completed.stdout)
    assert not report.get("parse_errors"), report["parse_errors"]
    errors: dict[str, list[dict[str, Any]]] = {str(f): [] for f in files}
    for error in report.get("errors", []):
        errors[error["filename"]].append(error)
    return errors
