"""Read generated Dockerfiles: static checks of every answer combination.

A small parser (line continuations, comments, instructions and their flags)
and the credential checks the template's tests apply to every stage of every
combination, in milliseconds. What a build does (the secret, the build
context, the layers, the user) is shown by a real engine in tests/test_docker.py.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

# The virtual environment the builder fills and the final stage copies.
VENV = "/opt/venv"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: RUN, COPY, ...
    flags: tuple[str, ...]  # leading --name=value options, as written
    arguments: str  # everything after the flags
    line: int

    def flag_values(self, name: str) -> list[str]:
        prefix = f"--{name}="
        return [
            flag.removeprefix(prefix) for flag in self.flags if flag.startswith(prefix)
        ]

    def key_values(self) -> list[tuple[str, str]]:
        """ARG, ENV and LABEL pairs (`ENV name value` legacy form included)."""
        words = shlex.split(self.arguments)
        if self.keyword == "ENV" and words and "=" not in words[0]:
            return [(words[0], " ".join(words[1:]))]
        return [
            tuple(word.split("=", 1)) if "=" in word else (word, "") for word in words
        ]

    def __str__(self) -> str:
        return (
            f"line {self.line}: {self.keyword} {' '.join(self.flags)} {self.arguments}"
        )


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def __iter__(self):
        return iter(self.instructions)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: list[Instruction]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        (stage,) = (stage for stage in self.stages if stage.name == name)
        return stage

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def instructions(self) -> Iterable[Instruction]:
        yield from self.global_args
        for stage in self.stages:
            yield from stage


def logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """Instructions with their continuation lines joined; comments dropped."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        yield start, " ".join(part for part in pending if part)
        pending = []
    if pending:
        yield start, " ".join(pending)


def parse(text: str) -> Dockerfile:
    dockerfile = Dockerfile(global_args=[], stages=[])
    for line, content in logical_lines(text):
        keyword, _, rest = content.partition(" ")
        flags = []
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            flags.append(flag)
            rest = rest.strip()
        instruction = Instruction(keyword.upper(), tuple(flags), rest, line)
        if instruction.keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            dockerfile.stages.append(Stage(words[0], name))
        elif dockerfile.stages:
            dockerfile.stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            dockerfile.global_args.append(instruction)
        else:
            raise ValueError(f"{instruction} comes before the first FROM")
    return dockerfile


# --- checks: each returns the problems it found, empty when all is well ---

# Words in a variable or label name that say it carries a credential.
CREDENTIAL_WORDS = {
    "PAT", "TOKEN", "ACCESSTOKEN", "PASSWORD", "PASSWD", "PWD", "SECRET", "AUTH",
    "KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS",
}  # fmt: skip
# Settings whose values are index URLs, which carry the token on Azure.
INDEX_SETTINGS = {
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL",
    "UV_DEFAULT_INDEX", "UV_INDEX", "VSS_NUGET_EXTERNAL_FEED_ENDPOINTS",
}  # fmt: skip
USERINFO_WITH_PASSWORD = re.compile(r"://[^/\s@:]+:[^/\s@]*@")
REFERENCED_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def looks_like_credential_name(name: str) -> bool:
    words = set(re.split(r"[^A-Z0-9]+", name.upper()))
    return name.upper() in INDEX_SETTINGS or bool(words & CREDENTIAL_WORDS)


def credential_settings(dockerfile: Dockerfile) -> list[str]:
    """ARG, ENV and LABEL entries whose name or value looks like a credential."""
    problems = []
    for instruction in dockerfile.instructions():
        if instruction.keyword not in {"ARG", "ENV", "LABEL"}:
            continue
        for name, value in instruction.key_values():
            names = [name, *REFERENCED_VARIABLE.findall(value)]
            if (
                any(looks_like_credential_name(n) for n in names)
                or USERINFO_WITH_PASSWORD.search(value)
                or "pkgs.dev.azure.com" in value
            ):
                problems.append(f"{instruction}: {name}")
    return problems


PACKAGE_INSTALL = re.compile(r"\b(pip3?|uv)\b.*\b(install|download|wheel|sync|lock)\b")
# pip config, or a file that would hold the index URL, written into a layer.
WRITES_CREDENTIALS = re.compile(
    r"\bpip3?\b.*\bconfig\b|pip\.conf|pip\.ini|\.pypirc|/run/secrets"
)
SECRET_MOUNT = "type=secret,id=pip_index_url,env=PIP_INDEX_URL"


def unsafe_runs(dockerfile: Dockerfile) -> list[str]:
    """RUN instructions that reach the index without the index URL secret,
    or that could write the index URL into a layer."""
    problems = []
    for stage in dockerfile.stages:
        for run in stage.all("RUN"):
            if WRITES_CREDENTIALS.search(run.arguments):
                problems.append(f"{run}: may write credentials to a file")
            if PACKAGE_INSTALL.search(
                run.arguments
            ) and SECRET_MOUNT not in run.flag_values("mount"):
                problems.append(f"{run}: reaches the index without the secret")
    return problems


def final_stage_copies_beyond_the_venv(dockerfile: Dockerfile) -> list[str]:
    """What the final stage takes from elsewhere, other than the finished venv.

    Only the venv: never the build context, /root, /etc/pip.conf,
    /run/secrets or any other place a credential could have been.
    """
    final = dockerfile.final
    earlier = {stage.name for stage in dockerfile.stages[:-1]}
    problems = []
    if final.base in earlier:
        problems.append(f"the final stage builds on stage {final.base}")
    for copy in final.all("COPY") + final.all("ADD"):
        *sources, _ = shlex.split(copy.arguments)
        if not copy.flag_values("from"):
            problems.append(f"{copy}: copies from the build context")
        problems.extend(f"{copy}: copies {s}" for s in sources if s != VENV)
    return problems
