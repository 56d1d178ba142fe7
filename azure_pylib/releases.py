"""The template's releases: a tag vX.Y.Z whose version is `_template_version`
in cookiecutter.json and the newest release in CHANGELOG.md.

    python3 -m azure_pylib release v1.2.0    # in a checkout of the tag

prints the release's changelog entry, or says what disagrees and exits 1. The
template's pipeline runs it for every v* tag, and template updates offer
libraries only tags that pass it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

TAG = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
# Keep a Changelog's release heading: ## [1.2.0] - 2026-12-02
HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})[ \t]*$", re.M)
NEXT_HEADING = re.compile(r"^## ", re.M)


def version_of(tag: str) -> tuple[int, int, int] | None:
    """(1, 2, 0) for v1.2.0; None for anything that is not a release tag."""
    found = TAG.fullmatch(tag)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def parsed(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class Entry:
    version: str
    date: str
    text: str  # the entry's sections, without its heading


def entries(changelog: str) -> list[Entry]:
    """The released entries of CHANGELOG.md, as they appear (newest first)."""
    found = []
    for heading in HEADING.finditer(changelog):
        rest = changelog[heading.end() :]
        end = NEXT_HEADING.search(rest)
        text = rest[: end.start() if end else len(rest)].strip()
        found.append(Entry(heading[1], heading[2], text))
    return found


def entries_between(changelog: str, after: str, up_to: str) -> list[Entry]:
    """The entries of the releases after `after`, up to and with `up_to`."""
    return [
        entry
        for entry in entries(changelog)
        if parsed(after) < parsed(entry.version) <= parsed(up_to)
    ]


def problems(tag: str, checkout: Path) -> list[str]:
    """What disagrees with `tag` in a checkout of the template at that tag."""
    if version_of(tag) is None:
        return [f"{tag} is not a release tag: release tags are vX.Y.Z, e.g. v1.2.0"]
    version = tag.removeprefix("v")
    found = []
    try:
        context = json.loads((checkout / "cookiecutter.json").read_text("utf-8"))
        template_version = context.get("_template_version")
    except (OSError, ValueError, AttributeError, RecursionError) as error:
        # a list has no .get; RecursionError: nested too deep
        template_version = f"unreadable ({type(error).__name__})"
    if template_version != version:
        found.append(
            f"cookiecutter.json has _template_version {template_version!r}, the tag"
            f" {tag} says {version!r}: set it to {version!r} and tag again"
        )
    try:
        released = entries((checkout / "CHANGELOG.md").read_text("utf-8"))
    except (OSError, ValueError):  # missing, or not UTF-8 text
        released = []
    newest = released[0].version if released else None
    if newest != version:
        found.append(
            f"The newest release in CHANGELOG.md is {newest or 'missing'}, the tag"
            f" {tag} says {version}: add '## [{version}] - YYYY-MM-DD' above the"
            " older releases and tag again"
        )
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 -m azure_pylib release vX.Y.Z", file=sys.stderr)
        return 2
    tag, checkout = argv[0], Path.cwd()
    refused = problems(tag, checkout)
    for problem in refused:
        print(f"azure_pylib release: {problem}", file=sys.stderr)
    if refused:
        return 1
    entry = entries((checkout / "CHANGELOG.md").read_text("utf-8"))[0]
    print(f"cookiecutter-azure-pylib {entry.version} ({entry.date})\n\n{entry.text}")
    return 0
