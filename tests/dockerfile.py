"""Read generated Dockerfiles and .dockerignore files without a Docker engine.

A small parser (line continuations, comments, instructions and their flags),
Docker's .dockerignore matching, the credential checks the template's tests
apply to every stage, and a simulation of a build stage: its instructions run
on the local machine, container paths mapped to a scratch folder, secrets
given to RUN the way BuildKit gives them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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
SECRET_MOUNT = "type=secret,id=pip_index_url,env=PIP_INDEX_URL,required=true"


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


# --- .dockerignore ---


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching: Go's filepath.Match plus `**` for any number of folders."""
    regex, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
        elif pattern[index] == "*":
            regex, index = regex + "[^/]*", index + 1
        elif pattern[index] == "?":
            regex, index = regex + "[^/]", index + 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            regex += "[" + pattern[index + 1 : end].replace("!", "^", 1) + "]"
            index = end + 1
        else:
            regex, index = regex + re.escape(pattern[index]), index + 1
    return re.compile(regex)


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) in file order; the last rule that matches decides."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        cleaned = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((not include, pattern_regex(cleaned)))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """A file is out when the last rule matching it or one of its folders excludes."""
    path = PurePosixPath(relative)
    candidates = [str(path), *(str(p) for p in path.parents if str(p) != ".")]
    ignored = False
    for excludes, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            ignored = excludes
    return ignored


def build_context(project: Path) -> list[str]:
    """The files `docker build` sends from `project`, .dockerignore applied."""
    ignore = project / ".dockerignore"
    rules = dockerignore_rules(ignore.read_text(encoding="utf-8"))
    files = (path for path in project.rglob("*") if path.is_file())
    relative = (path.relative_to(project).as_posix() for path in files)
    return sorted(name for name in relative if not is_ignored(name, rules))


# --- simulating a build stage ---


@dataclass
class SimulatedBuild:
    """Runs a stage's instructions here, as BuildKit would run them in a container."""

    context: Path  # the project folder `docker build` is given
    root: Path  # stands in for the container's file system
    env: dict[str, str]  # the base image's environment
    build_args: Mapping[str, str]
    secrets: Mapping[str, str]  # secret id -> value
    outputs: list[str] = field(default_factory=list)

    def host_path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def map_paths(self, command: str) -> str:
        """Container paths in a command, as their stand-ins in `root`."""
        return re.sub(
            r"(?<![\w.])(/(?:opt|src|app|root|tmp)\b)",
            lambda match: str(self.host_path(match.group(1))),
            command,
        )

    def expand(self, value: str, env: Mapping[str, str]) -> str:
        return re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
            lambda match: env.get(match.group(1), ""),
            value,
        )

    def run_stage(self, stage: Stage) -> None:
        env, workdir = dict(self.env), self.host_path("/")
        for instruction in stage:
            if instruction.keyword == "ENV":
                for name, value in instruction.key_values():
                    env[name] = self.map_paths(self.expand(value, env))
            elif instruction.keyword == "ARG":
                for name, default in instruction.key_values():
                    value = self.build_args.get(name, default)
                    if value:
                        env[name] = value
            elif instruction.keyword == "WORKDIR":
                workdir = self.host_path(instruction.arguments)
                workdir.mkdir(parents=True, exist_ok=True)
            elif instruction.keyword == "COPY" and not instruction.flags:
                self.copy_context(instruction, workdir)
            elif instruction.keyword == "RUN":
                self.run(instruction, env, workdir)
            else:
                raise NotImplementedError(f"simulating {instruction}")

    def copy_context(self, copy: Instruction, workdir: Path) -> None:
        if shlex.split(copy.arguments) != [".", "."]:
            raise NotImplementedError(f"simulating {copy}")
        for relative in build_context(self.context):
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.context / relative, target)

    def run(self, run: Instruction, env: dict[str, str], workdir: Path) -> None:
        env = dict(env)
        for mount in run.flag_values("mount"):
            options = dict(option.split("=", 1) for option in mount.split(","))
            if options.get("type") != "secret" or "env" not in options:
                raise NotImplementedError(f"simulating --mount={mount}")
            env[options["env"]] = self.secrets[options["id"]]
        # Docker's default SHELL is ["/bin/sh", "-c"].
        result = subprocess.run(
            ["/bin/sh", "-c", self.map_paths(run.arguments)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        self.outputs.append(result.stdout + result.stderr)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, run.arguments, result.stdout, result.stderr
            )
