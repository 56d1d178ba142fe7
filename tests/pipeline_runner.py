"""Run a generated azure-pipelines.yml on this machine, as an Azure agent would.

Stages, jobs and steps run in order, each job in a fresh clone of the
repository at the simulated ref; `condition:` expressions are evaluated
(the subset the template uses); `$(...)` macros are expanded and
`##vso[task.setvariable]` lines printed by a step set variables for the steps
after it, as on a real agent. Scripts run with bash, with Azure's variables in
the environment (TF_BUILD, BUILD_SOURCEBRANCH, ...). Tasks are replaced by
their local equivalents, each checking the inputs it is given:

- checkout: a clone of the repository with the step's fetchDepth/fetchTags
  (Azure's defaults for new pipelines otherwise: depth 1, no tags);
- UsePythonVersion@0: the running interpreter, in a virtual environment that
  stands in for the agent's tool cache (another version is an error);
- PipAuthenticate@1 / TwineAuthenticate@1: PIP_INDEX_URL / a .pypirc at
  PYPIRC_PATH for a local password-protected index, after checking that the
  feed they are given is the one in pyproject.toml;
- Cache@2: the cached folder lives in Pipeline.Workspace, which outlives the
  job like a restored cache; its path must be the variable pip or uv reads;
- PublishTestResults@2 / PublishCodeCoverageResults@2: the files their inputs
  match must exist and be JUnit / Cobertura XML.

Matrix legs for other Pythons than the running one are listed as not run.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.index_server import IndexServer, isolated_environment

STEP_TIMEOUT = 600
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SET_VARIABLE = re.compile(r"^##vso\[task\.setvariable variable=([^;\]]+)[^\]]*\](.*)$")
MACRO = re.compile(r"\$\(([A-Za-z0-9_.]+)\)")
# Variables of pip and uv that a Cache@2 path may point to.
CACHE_VARIABLES = ("PIP_CACHE_DIR", "UV_CACHE_DIR")


class PipelineError(Exception):
    """The pipeline uses something this runner cannot run faithfully."""


class StepFailed(Exception):
    """A task's local equivalent found its inputs or outputs wrong."""


# --- Azure condition expressions -------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<name>[A-Za-z_.]+)|(?P<punct>[(),\[\]]))"
)


def evaluate(
    expression: str, variables: dict[str, str], status: dict[str, bool]
) -> bool:
    """Evaluate an Azure Pipelines condition.

    Supports and, or, not, eq, ne, startsWith (case-insensitive, like Azure),
    succeeded, succeededOrFailed, always, string literals and
    variables['Name']. `status["succeeded"]` is whether everything before
    succeeded. Anything else raises PipelineError.
    """
    tokens = tokenize(expression)
    position, value = parse(tokens, 0, variables, status)
    if position != len(tokens):
        raise PipelineError(f"Unexpected {tokens[position][1]!r} in {expression!r}")
    if not isinstance(value, bool):
        raise PipelineError(f"Condition {expression!r} is not a boolean")
    return value


def tokenize(expression: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if not match:
            raise PipelineError(f"Cannot parse {expression[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse(tokens, position, variables, status):
    kind, text = tokens[position]
    if kind == "string":
        return position + 1, text[1:-1].replace("''", "'")
    if kind != "name":
        raise PipelineError(f"Unexpected {text!r}")
    if text == "variables":
        if [t for _, t in tokens[position + 1 : position + 4 : 2]] != ["[", "]"]:
            raise PipelineError("Only variables['Name'] is supported")
        name = tokens[position + 2][1][1:-1]
        return position + 4, lookup(variables, name) or ""
    if tokens[position + 1 : position + 2] != [("punct", "(")]:
        raise PipelineError(f"Unsupported expression {text!r}")
    arguments, position = [], position + 2
    while tokens[position] != ("punct", ")"):
        position, value = parse(tokens, position, variables, status)
        arguments.append(value)
        if tokens[position] == ("punct", ","):
            position += 1
    return position + 1, call(text, arguments, status)


def call(function: str, arguments: list[Any], status: dict[str, bool]) -> Any:
    def text(value: Any) -> str:
        return str(value).casefold()

    if function == "succeeded" and not arguments:
        return status["succeeded"]
    if function in ("succeededOrFailed", "always") and not arguments:
        return True  # no run of this runner is ever cancelled
    if function == "and" and len(arguments) >= 2:
        return all(arguments)
    if function == "or" and len(arguments) >= 2:
        return any(arguments)
    if function == "not" and len(arguments) == 1:
        return not arguments[0]
    if function == "eq" and len(arguments) == 2:
        return text(arguments[0]) == text(arguments[1])
    if function == "ne" and len(arguments) == 2:
        return text(arguments[0]) != text(arguments[1])
    if function == "startsWith" and len(arguments) == 2:
        return text(arguments[0]).startswith(text(arguments[1]))
    raise PipelineError(
        f"Unsupported function {function}() with {len(arguments)} arguments"
    )


def lookup(variables: dict[str, str], name: str) -> str | None:
    """Variable names are case-insensitive on Azure."""
    for key, value in variables.items():
        if key.casefold() == name.casefold():
            return value
    return None


def expand(text: str, variables: dict[str, str]) -> str:
    """Expand $(Name) macros; unknown ones stay as they are, as on Azure."""

    def replace(match: re.Match[str]) -> str:
        value = lookup(variables, match.group(1))
        return match.group(0) if value is None else expand(value, variables)

    return MACRO.sub(replace, text)


def environment_name(variable: str) -> str:
    """How Azure exposes a variable to scripts: python.version -> PYTHON_VERSION."""
    return variable.upper().replace(".", "_")


# --- the run ----------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """What triggered the simulated run."""

    source_branch: str  # refs/heads/main, refs/tags/v1.2.0
    reason: str = "IndividualCI"
    build_id: int = 1

    @property
    def source_branch_name(self) -> str:
        return self.source_branch.rsplit("/", 1)[-1]


@dataclass
class StepRecord:
    job: str
    name: str
    outcome: str  # succeeded, failed, skipped
    output: str = ""


@dataclass
class RunResult:
    steps: list[StepRecord] = field(default_factory=list)
    jobs_not_run: list[str] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)  # name -> outcome

    @property
    def succeeded(self) -> bool:
        return all(outcome != "failed" for outcome in self.stages.values())

    @property
    def output(self) -> str:
        return "\n".join(
            f"=== {step.job} / {step.name}: {step.outcome}\n{step.output}"
            for step in self.steps
        )

    def ran(self, job: str, name: str) -> StepRecord:
        (step,) = [s for s in self.steps if s.job == job and s.name == name]
        return step


@dataclass
class LocalAgent:
    """One machine that runs pipelines of one repository, one job at a time.

    `workspace` is Pipeline.Workspace: like a self-hosted agent's work folder
    it outlives the job, so cached folders in it are "restored" next time.
    """

    repository: Path
    index: IndexServer
    workspace: Path
    # What TwineAuthenticate points twine at, when it is not `index`.
    upload_index: IndexServer | None = None

    def run(self, pipeline_file: Path, build: Build) -> RunResult:
        pipeline = yaml.safe_load(pipeline_file.read_text(encoding="utf-8"))
        unsupported = set(pipeline) - {"trigger", "pr", "variables", "pool", "stages"}
        if unsupported:
            raise PipelineError(f"Unsupported top-level keys: {sorted(unsupported)}")
        variables = dict(pipeline.get("variables") or {})
        if not all(isinstance(value, str) for value in variables.values()):
            raise PipelineError("Only string variables in mapping form are supported")
        result = RunResult()
        previous: str | None = None
        for stage in pipeline["stages"]:
            name = stage["stage"]
            depends_on = stage.get("dependsOn", [previous] if previous else [])
            depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
            succeeded = all(result.stages.get(d) == "succeeded" for d in depends_on)
            context = {**variables, **self.predefined(build)}
            condition = stage.get("condition", "succeeded()")
            if not evaluate(condition, context, {"succeeded": succeeded}):
                result.stages[name] = "skipped"
            else:
                outcomes = [
                    self.run_job(job_name, job, {**variables, **leg}, build, result)
                    for job_name, job, leg in self.jobs_of(stage, result)
                ]
                failed = "failed" in outcomes
                result.stages[name] = "failed" if failed else "succeeded"
            previous = name
        return result

    def jobs_of(self, stage: dict[str, Any], result: RunResult):
        """(name, job, matrix variables) for every job or matrix leg to run here."""
        for job in stage["jobs"]:
            matrix = (job.get("strategy") or {}).get("matrix")
            if not matrix:
                yield job["job"], job, {}
                continue
            legs = {
                name: {k: str(v) for k, v in leg.items()}
                for name, leg in matrix.items()
            }
            runnable = [
                n
                for n, leg in legs.items()
                if leg.get("python.version") == RUNNING_PYTHON
            ]
            if not runnable:
                raise PipelineError(
                    f"No leg of {job['job']} runs on Python {RUNNING_PYTHON}"
                )
            for name in legs:
                if name not in runnable:
                    result.jobs_not_run.append(
                        f"{job['job']} {name}: needs another Python"
                    )
            for name in runnable:
                yield f"{job['job']} {name}", job, legs[name]

    def predefined(self, build: Build) -> dict[str, str]:
        sources = self.workspace / "s"
        return {
            "Build.SourceBranch": build.source_branch,
            "Build.SourceBranchName": build.source_branch_name,
            "Build.Reason": build.reason,
            "Build.BuildId": str(build.build_id),
            "Build.SourcesDirectory": str(sources),
            "System.DefaultWorkingDirectory": str(sources),
            "Pipeline.Workspace": str(self.workspace),
            "Agent.TempDirectory": str(self.workspace / "_temp"),
            "Agent.OS": "Linux",
        }

    def run_job(self, name, job, variables, build, result) -> str:
        if "condition" in job or "dependsOn" in job or "template" in job:
            raise PipelineError(
                f"Job {name}: condition/dependsOn/template not supported"
            )
        job_run = JobRun(self, name, {**variables, **self.predefined(build)}, build)
        outcome = job_run.run(job["steps"])
        result.steps.extend(job_run.records)
        return outcome


class JobRun:
    def __init__(
        self, agent: LocalAgent, name: str, variables: dict[str, str], build: Build
    ):
        self.agent = agent
        self.name = name
        self.variables = variables
        self.build = build
        self.records: list[StepRecord] = []
        self.path = [
            p
            for p in os.environ["PATH"].split(os.pathsep)
            if Path(p) != Path(sys.executable).parent
        ]
        self.sources = Path(variables["Build.SourcesDirectory"])
        self.temp = Path(variables["Agent.TempDirectory"])
        for folder in (self.sources, self.temp):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

    def run(self, steps: list[dict[str, Any]]) -> str:
        succeeded = True
        try:
            for step in steps:
                label = step_label(step)
                condition = step.get("condition", "succeeded()")
                if not evaluate(condition, self.variables, {"succeeded": succeeded}):
                    self.records.append(StepRecord(self.name, label, "skipped"))
                    continue
                try:
                    output = self.run_step(step)
                except StepFailed as failure:
                    self.records.append(
                        StepRecord(self.name, label, "failed", str(failure))
                    )
                    succeeded = False
                else:
                    self.records.append(
                        StepRecord(self.name, label, "succeeded", output)
                    )
        finally:
            # Azure empties Agent.TempDirectory after every job: .pypirc goes with it.
            shutil.rmtree(self.temp, ignore_errors=True)
        return "succeeded" if succeeded else "failed"

    def run_step(self, step: dict[str, Any]) -> str:
        if "checkout" in step:
            return self.checkout(step)
        if "script" in step or "bash" in step:
            return self.script(
                step.get("script") or step["bash"], step.get("env") or {}
            )
        task = step.get("task")
        handler = {
            "UsePythonVersion@0": self.use_python_version,
            "Cache@2": self.cache,
            "PipAuthenticate@1": self.pip_authenticate,
            "TwineAuthenticate@1": self.twine_authenticate,
            "PublishTestResults@2": self.publish_test_results,
            "PublishCodeCoverageResults@2": self.publish_code_coverage_results,
        }.get(task)
        if handler is None:
            raise PipelineError(f"No local equivalent for step {step}")
        inputs = {
            key: expand(str(value), self.variables)
            for key, value in (step.get("inputs") or {}).items()
        }
        return handler(inputs)

    # -- steps --

    def checkout(self, step: dict[str, Any]) -> str:
        if step["checkout"] != "self":
            raise PipelineError("Only `checkout: self` is supported")
        depth = int(step.get("fetchDepth", "1"))  # Azure's default for new pipelines
        tags = str(step.get("fetchTags", "false")).lower() == "true"
        commit = git(
            self.agent.repository, "rev-parse", f"{self.build.source_branch}^{{commit}}"
        )
        git(self.sources, "init", "--quiet")
        git(
            self.sources,
            "remote",
            "add",
            "origin",
            self.agent.repository.resolve().as_uri(),
        )
        git(
            self.sources,
            "fetch",
            "--force",
            "--tags" if tags else "--no-tags",
            *([f"--depth={depth}"] if depth else []),
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
            f"+{self.build.source_branch}:refs/remotes/origin/build-source",
        )
        git(self.sources, "checkout", "--quiet", "--force", "--detach", commit)
        history = f"depth {depth}" if depth else "full history"
        tag_note = "with tags" if tags else "without tags"
        return (
            f"checked out {self.build.source_branch} at {commit}, {history}, {tag_note}"
        )

    def use_python_version(self, inputs: dict[str, str]) -> str:
        spec = inputs["versionSpec"]
        if spec not in (RUNNING_PYTHON, "3.x"):
            raise PipelineError(
                f"UsePythonVersion {spec!r}: only Python {RUNNING_PYTHON} runs here"
            )
        tool = self.agent.workspace.parent / "_tool" / f"Python{RUNNING_PYTHON}"
        if not (tool / "bin" / "python").exists():
            venv.create(tool, with_pip=True)
        self.path.insert(0, str(tool / "bin"))
        return f"Python {RUNNING_PYTHON} from {tool}"

    def cache(self, inputs: dict[str, str]) -> str:
        for required in ("key", "path"):
            if not inputs.get(required):
                raise StepFailed(f"Cache@2 needs `{required}`")
        cached = {
            expand(f"$({name})", self.variables): name for name in CACHE_VARIABLES
        }
        if inputs["path"] not in cached:
            raise StepFailed(
                f"Cache@2 path {inputs['path']} is not a folder pip or uv uses"
            )
        for segment in inputs["key"].split("|"):
            segment = segment.strip()
            # Azure hashes an unquoted segment that looks like a path (has a
            # `.` or `/`); the file must exist.
            looks_like_path = not segment.startswith('"') and re.search(
                r"[./*]", segment
            )
            if looks_like_path and not list(self.sources.glob(segment)):
                raise StepFailed(f"Cache@2 key file {segment} does not exist")
        Path(inputs["path"]).mkdir(parents=True, exist_ok=True)
        return f"{cached[inputs['path']]} = {inputs['path']} kept between jobs"

    def expected_artifact_feed(self) -> str:
        pyproject = tomllib.loads((self.sources / "pyproject.toml").read_text())
        feed = pyproject["tool"]["azure-artifacts"]
        return (
            f"{feed['project']}/{feed['feed']}" if "project" in feed else feed["feed"]
        )

    def pip_authenticate(self, inputs: dict[str, str]) -> str:
        if inputs.get("onlyAddExtraIndex", "false").lower() != "false":
            raise StepFailed("onlyAddExtraIndex makes PyPI the primary index")
        if inputs.get("artifactFeeds") != self.expected_artifact_feed():
            raise StepFailed(
                f"PipAuthenticate artifactFeeds {inputs.get('artifactFeeds')!r}, "
                f"pyproject.toml says {self.expected_artifact_feed()!r}"
            )
        self.variables["PIP_INDEX_URL"] = self.agent.index.authenticated_simple_url
        return f"PIP_INDEX_URL set for {inputs['artifactFeeds']}"

    def twine_authenticate(self, inputs: dict[str, str]) -> str:
        artifact_feed = inputs.get("artifactFeed")
        if artifact_feed != self.expected_artifact_feed():
            raise StepFailed(
                f"TwineAuthenticate artifactFeed {artifact_feed!r}, "
                f"pyproject.toml says {self.expected_artifact_feed()!r}"
            )
        # The task names the section after the feed alone, even for project/feed.
        section = artifact_feed.rsplit("/", 1)[-1]
        index = self.agent.upload_index or self.agent.index
        pypirc = self.temp / "twineAuthenticate" / ".pypirc"
        pypirc.parent.mkdir()
        pypirc.write_text(
            f"[distutils]\nindex-servers={section}\n\n[{section}]\n"
            f"repository={index.upload_url}\nusername={index.username}\n"
            f"password={index.password}\n"
        )
        self.variables["PYPIRC_PATH"] = str(pypirc)
        return f"PYPIRC_PATH with section [{section}]"

    def matching(self, pattern: str) -> list[Path]:
        root = self.sources
        return [Path(p) for p in glob.glob(str(root / pattern), recursive=True)]

    def publish_test_results(self, inputs: dict[str, str]) -> str:
        if inputs.get("testResultsFormat") != "JUnit":
            raise StepFailed("pytest writes JUnit XML")
        files = self.matching(inputs.get("testResultsFiles", "**/TEST-*.xml"))
        if not files:
            raise StepFailed(f"No test results match {inputs.get('testResultsFiles')}")
        for path in files:
            if ElementTree.parse(path).getroot().tag not in ("testsuites", "testsuite"):
                raise StepFailed(f"{path} is not JUnit XML")
        return "test results: " + ", ".join(p.name for p in files)

    def publish_code_coverage_results(self, inputs: dict[str, str]) -> str:
        files = self.matching(inputs["summaryFileLocation"])
        if not files:
            raise StepFailed(
                f"No coverage report matches {inputs['summaryFileLocation']}"
            )
        for path in files:
            if ElementTree.parse(path).getroot().tag != "coverage":
                raise StepFailed(f"{path} is not a Cobertura report")
        return "coverage: " + ", ".join(p.name for p in files)

    def script(self, script: str, step_env: dict[str, str]) -> str:
        script_file = self.temp / "script.sh"
        script_file.write_text(expand(script, self.variables))
        env = isolated_environment(
            TF_BUILD="True",
            PATH=os.pathsep.join(self.path),
            **{
                environment_name(k): expand(v, self.variables)
                for k, v in self.variables.items()
            },
            **{k: expand(str(v), self.variables) for k, v in step_env.items()},
        )
        env.pop("CI", None)  # Azure sets TF_BUILD, not CI
        # Azure runs inline scripts like this: no -e, the last command's status counts.
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", str(script_file)],
            cwd=self.sources,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        for line in completed.stdout.splitlines():
            if match := SET_VARIABLE.match(line.strip()):
                self.variables[match.group(1)] = match.group(2)
        if completed.returncode != 0:
            raise StepFailed(f"exit code {completed.returncode}\n{completed.stdout}")
        return completed.stdout


def step_label(step: dict[str, Any]) -> str:
    if "displayName" in step:
        return step["displayName"]
    if "checkout" in step:
        return "checkout"
    if "task" in step:
        return step["task"]
    return (step.get("script") or step.get("bash")).strip().splitlines()[0]


def git(cwd: Path, *arguments: str) -> str:
    completed = subprocess.run(
        ["git", *arguments], cwd=cwd, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise StepFailed(f"git {' '.join(arguments)}: {completed.stderr}")
    return completed.stdout.strip()
