"""Just enough of a Dockerfile parser to inspect stages and instructions."""

from __future__ import annotations

import re
import shlex
from itertools import takewhile
from dataclasses import dataclass, field


@dataclass
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    arguments: str

    @property
    def flags(self) -> list[str]:
        """Leading options, e.g. ['--mount=type=secret,id=pip_index_url']."""
        return list(
            takewhile(lambda word: word.startswith("--"), self.arguments.split())
        )

    @property
    def command(self) -> str:
        """The shell command of a RUN, after its options."""
        return re.sub(r"^(--\S+\s+)*", "", self.arguments).strip()

    def mounts(self) -> list[dict[str, str]]:
        return [
            dict(
                part.split("=", 1) for part in flag.removeprefix("--mount=").split(",")
            )
            for flag in self.flags
            if flag.startswith("--mount=")
        ]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(text: str) -> list[Stage]:
    """Stages of a Dockerfile, comments dropped and continuation lines joined."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue  # comments inside a continued instruction
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = shlex.split(arguments)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments.strip()))
    return stages
