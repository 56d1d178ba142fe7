"""What a bake writes, worked out from the template's own file names.

The hooks use it twice: before any file is written (pre_gen_project.py), to
refuse an existing folder the bake would write through or over (a symbolic
link, a file where the template has a folder, a folder where it has a file),
and after (post_gen_project.py), to put only the generated files into the
first commit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import Environment

SOURCE = "{{cookiecutter.project_slug}}"


def generated_files(template: Path, answers: dict[str, Any]) -> list[str]:
    """The files the bake writes, relative to the project, as cookiecutter names
    them: a part that renders empty leaves the file out."""
    root = template / SOURCE
    names = Environment()
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        parts = [
            (
                names.from_string(part).render(cookiecutter=answers)
                if "{" in part
                else part
            )
            for part in path.relative_to(root).parts
        ]
        if all(parts):
            found.append("/".join(parts))
    return found


def clashes(project: Path, files: list[str]) -> list[str]:
    """Why writing `files` into `project` would write outside it or lose what
    is there: one sentence per path."""
    problems = []
    if project.parent.is_dir():
        problems += [
            f"{sibling.name} differs from {project.name} only in case: on Windows"
            " and macOS they are one folder"
            for sibling in sorted(project.parent.iterdir())
            if sibling.name != project.name
            and sibling.name.casefold() == project.name.casefold()
        ]
    if project.is_symlink():
        return problems + [
            f"{project} is a symbolic link to {os.readlink(project)}: the files"
            " would be written there"
        ]
    checked: set[str] = set()
    refused: set[str] = set()  # nothing below them is looked at
    for name in files:
        parts = name.split("/")
        for depth in range(1, len(parts) + 1):
            relative = "/".join(parts[:depth])
            if relative in refused:
                break
            if relative in checked:
                continue
            checked.add(relative)
            path = project / relative
            last = depth == len(parts)
            problem = None
            if path.is_symlink():
                problem = (
                    f"{relative} is a symbolic link to {os.readlink(path)}: the"
                    " template's file would be written there"
                )
            elif last and path.is_dir():
                problem = f"{relative} is a folder where the template writes a file"
            elif not last and path.exists() and not path.is_dir():
                problem = f"{relative} is a file where the template has a folder"
            if problem:
                problems.append(problem)
                refused.add(relative)
                break
            if not path.exists():
                break
    return problems
