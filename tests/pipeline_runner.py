"""Run a generated azure-pipelines.yml on this machine, as an Azure agent would.

Stages, jobs and steps run in order, each job in a fresh clone of the
repository at the simulated ref; `condition:` expressions are evaluated
(the subset the template uses); step templates of the repository itself
(`- template: pipelines/prepare.yml`) and of `extends` are expanded; `$(...)`
macros are expanded and `##vso[task.setvariable]` lines printed by a step set
variables for the steps after it (an empty value empties the variable,
microsoft/azure-pipelines-tasks#10095), and `##vso[task.prependpath]` puts a
folder first on their PATH, as on a real agent.

Scripts run as the agent runs them: the CmdLine task is a Node process whose
environment holds Azure's variables (TF_BUILD, BUILD_SOURCEBRANCH, ...) and
the system connection with the job token, which the agent adds to every task
(microsoft/azure-pipelines-agent: TaskRunner.cs "Add the system endpoint",
Handlers/Handler.cs AddEndpointsToEnvironment: ENDPOINT_AUTH_SYSTEMVSSCONNECTION
and ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN). The task removes
ENDPOINT_AUTH_* and SECRET_* from process.env (microsoft/azure-pipelines-task-lib:
node/internal.ts _loadData), not from the process's initial environment: bash
and whatever it starts do not inherit them, but /proc/<pid>/environ of the task
process still shows them to any process of the same user. Here a small Python
process stands for the Node one and does the same. The agent's user has
passwordless sudo, as on Microsoft-hosted images: `sudo` here is runuser's.
Machines reach Azure's names through the test's network (tests/azure_network.py).

Tasks are replaced by their local equivalents, each checking the inputs it is given:

- checkout: a clone of the repository with the step's fetchDepth/fetchTags
  (Azure's defaults for new pipelines otherwise: depth 1, no tags), in
  Pipeline.Workspace/`path` when the step names one (a job with several
  checkouts must name it for each); its remote is the repository itself, so
  a push from the job lands there (persistCredentials: nothing to sign in to);
- UsePythonVersion@0: the running interpreter, in a virtual environment that
  stands in for the agent's tool cache, laid out as the task lays it out
  (Agent.ToolsDirectory/Python/X.Y.Z/x64); another version is an error;
- PipAuthenticate@1: PIP_INDEX_URL with the job token for the feed it names,
  at https://pkgs.dev.azure.com, after checking that it is the feed of
  pyproject.toml;
- the job token, $(System.AccessToken): a token the feed stand-in takes, a
  secret, so scripts get it only through a step's `env:`;
- Cache@2: the cached folder lives in Pipeline.Workspace, which outlives the
  job like a restored cache; its path must be the variable pip or uv reads.
  The task creates no folder: after a job that succeeded, its post-job save
  fails on a path that does not exist, as `tar` does on Azure
  ("could not chdir", microsoft/azure-pipelines-tasks#12268);
- PublishTestResults@2 / PublishCodeCoverageResults@2: the files their inputs
  match must exist and be JUnit / Cobertura XML; a report with relative paths
  needs `pathToSources`, under which its files are.

Matrix legs for other Pythons than the running one are listed as not run.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import venv
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.azure_network import Network
from tests.feed_stand_in import Feed
from tests.index_server import isolated_environment

STEP_TIMEOUT = 600
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SET_VARIABLE = re.compile(
    r"^##vso\[task\.setvariable variable=([^;\]]+)"
    r"(?P<output>;isOutput=true)?[^\]]*\](.*)$"
)
# A job variable from an earlier job of the stage: $[ dependencies.J.outputs['s.v'] ]
JOB_OUTPUT = re.compile(r"^\$\[\s*dependencies\.(\w+)\.outputs\['([\w.]+)'\]\s*\]$")
PREPEND_PATH = re.compile(r"^##vso\[task\.prependpath\](.+)$")
MACRO = re.compile(r"\$\(([A-Za-z0-9_.]+)\)")
# Azure gives secret variables to a script only through its step's `env:`.
SECRET_VARIABLES = {"System.AccessToken"}
# Variables of pip and uv that a Cache@2 path may point to.
CACHE_VARIABLES = ("PIP_CACHE_DIR", "UV_CACHE_DIR")
# The CmdLine task's Node process, as task-lib starts it: the secrets leave
# process.env, which bash inherits, and stay in the initial environment.
TASK_PROCESS = """\
import os, subprocess, sys
for name in [n for n in os.environ if n.startswith(("ENDPOINT_AUTH_", "SECRET_"))]:
    del os.environ[name]
sys.exit(subprocess.run(sys.argv[1:]).returncode)
"""
# sudo as the agent's user has it on Microsoft-hosted images: no password.
SUDO = """\
#!/bin/bash
user=
while [ $# -gt 0 ]; do
  case "$1" in
    -u) user=$2; shift 2 ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ -n "$user" ]; then exec runuser -u "$user" -- "$@"; else exec "$@"; fi
"""


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
    jobs_skipped: list[str] = field(default_factory=list)
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


def link_folders(path: Path) -> list[Path]:
    """Every folder a process passes through to reach `path`, link after link
    (a virtual environment's python may link into a private temporary folder)."""
    folders: list[Path] = []
    for _ in range(40):  # as the kernel, give up on a loop of links
        folders += path.absolute().parents
        if not path.is_symlink():
            break
        path = path.parent / os.readlink(path)
    return folders


@dataclass
class LocalAgent:
    """One machine that runs pipelines of one repository, one job at a time.

    `workspace` is Pipeline.Workspace: like a self-hosted agent's work folder
    it outlives the job, so cached folders in it are "restored" next time.
    """

    repository: Path
    feed: Feed | None  # what PipAuthenticate names, and the job token is for
    workspace: Path
    # Repositories that `resources.repositories` may name, for templates.
    templates: TemplateSource | None = None
    team_project: str = "myproject"  # System.TeamProject
    organization: str = "myorg"  # in System.CollectionUri
    repository_name: str = "my-shared-utils"  # Build.Repository.Name
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def run(self, pipeline_file: Path, build: Build) -> RunResult:
        pipeline = self.load(pipeline_file)
        variables = dict(pipeline.get("variables") or {})
        if not all(isinstance(value, str) for value in variables.values()):
            raise PipelineError("Only string variables in mapping form are supported")
        shutil.rmtree(self.artifacts, ignore_errors=True)  # artifacts are per run
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
                outcomes = self.run_stage(stage, variables, build, result)
                failed = "failed" in outcomes.values()
                result.stages[name] = "failed" if failed else "succeeded"
            previous = name
        return result

    def load(self, pipeline_file: Path) -> dict[str, Any]:
        pipeline = yaml.safe_load(pipeline_file.read_text(encoding="utf-8"))
        repositories = (pipeline.get("resources") or {}).get("repositories", [])
        self.resources = {r["repository"]: r for r in repositories}
        if "extends" in pipeline:
            pipeline = expand_pipeline(pipeline, self.templates or TemplateSource({}))
        else:  # templates of the pipeline's own repository, beside it
            own = FileTemplates(pipeline_file.parent)
            pipeline = expand_references(pipeline, own, ("self", ""), "x.yml")
        pipeline.pop("resources", None)
        if "steps" in pipeline:  # one job, in one stage, as Azure names them
            job = {"job": "Job", "steps": pipeline.pop("steps")}
            pipeline["stages"] = [{"stage": "__default", "jobs": [job]}]
        known = {"trigger", "pr", "schedules", "variables", "pool", "stages"}
        unsupported = set(pipeline) - known
        if unsupported:
            raise PipelineError(f"Unsupported top-level keys: {sorted(unsupported)}")
        return pipeline

    def plan(self, pipeline_file: Path, build: Build) -> list[tuple[str, ...]]:
        """What a run would do if every step succeeded, without running it.

        One row per stage, job and step: its place, whether it runs, and the
        step as the agent receives it (task inputs, script, env, condition).
        """
        pipeline = self.load(pipeline_file)
        variables = {**pipeline.get("variables", {}), **self.predefined(build)}
        rows = []
        for stage in pipeline["stages"]:
            condition = stage.get("condition", "succeeded()")
            runs = evaluate(condition, variables, {"succeeded": True})
            rows.append(("stage", stage["stage"], str(runs)))
            for job in stage["jobs"]:
                job_fields = {k: v for k, v in job.items() if k != "steps"}
                rows.append(("job", job["job"], str(runs), repr(job_fields)))
                for step in job["steps"]:
                    condition = step.get("condition", "succeeded()")
                    leg = {"testsRan": "true", "python.version": RUNNING_PYTHON}
                    step_runs = runs and evaluate(
                        condition, {**variables, **leg}, {"succeeded": True}
                    )
                    rows.append(("step", job["job"], str(step_runs), repr(step)))
        return rows

    @property
    def network(self) -> Network | None:
        return self.feed.network if self.feed else None

    @property
    def token(self) -> str:
        """The job token, $(System.AccessToken)."""
        return self.feed.token if self.feed else "no-job-token-in-this-run"

    @property
    def artifacts(self) -> Path:
        """Where the pipeline artifacts of the current run are kept."""
        return self.workspace.parent / "_artifacts"

    def run_stage(self, stage, variables, build, result) -> dict[str, str]:
        """Run the jobs in order; a job runs after the jobs it depends on."""
        outcomes: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}  # job -> step.variable -> value
        for job in stage["jobs"]:
            depends_on = job.get("dependsOn", [])
            depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
            if unknown := [d for d in depends_on if d not in outcomes]:
                raise PipelineError(f"Job {job['job']} depends on later jobs {unknown}")
            succeeded = all(outcomes[d] == "succeeded" for d in depends_on)
            context = {**variables, **self.predefined(build)}
            condition = job.get("condition", "succeeded()")
            if not evaluate(condition, context, {"succeeded": succeeded}):
                outcomes[job["job"]] = "skipped"
                result.jobs_skipped.append(job["job"])
                continue
            own = job_variables(job, outputs)
            legs = [
                self.run_job(name, job, {**variables, **own, **leg}, build, result,
                             outputs.setdefault(job["job"], {}))
                for name, job, leg in self.jobs_of(job, result)
            ]  # fmt: skip
            outcomes[job["job"]] = "failed" if "failed" in legs else "succeeded"
        return outcomes

    def jobs_of(self, job: dict[str, Any], result: RunResult):
        """(name, job, matrix variables) for the job or each matrix leg to run here."""
        matrix = (job.get("strategy") or {}).get("matrix")
        if not matrix:
            yield job["job"], job, {}
            return
        legs = {
            name: {k: str(v) for k, v in leg.items()} for name, leg in matrix.items()
        }
        runnable = [
            n for n, leg in legs.items() if leg.get("python.version") == RUNNING_PYTHON
        ]
        if not runnable:
            raise PipelineError(
                f"No leg of {job['job']} runs on Python {RUNNING_PYTHON}"
            )
        for name in legs:
            if name not in runnable:
                result.jobs_not_run.append(f"{job['job']} {name}: needs another Python")
        for name in runnable:
            yield f"{job['job']} {name}", job, legs[name]

    def hosted_tools(self) -> Path:
        """What a Microsoft-hosted image has on PATH that this machine may lack:
        sudo. The workspace is open to the image's other users, as /home/vsts is."""
        folder = self.workspace.parent / "_hosted"
        if not (folder / "sudo").exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "sudo").write_text(SUDO)
            (folder / "sudo").chmod(0o755)
        # pytest makes its folders private, and the interpreter that stands for
        # the tool cache's may live in root's home or link through a private
        # folder: open them to be passed through, as the image's
        # /opt/hostedtoolcache is.
        for path in [*folder.parents, *link_folders(Path(sys.executable))]:
            mode = path.stat()
            if mode.st_uid == os.geteuid() and not mode.st_mode & stat.S_IXOTH:
                path.chmod(mode.st_mode | stat.S_IXOTH)
        return folder

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
            "Agent.ToolsDirectory": str(self.workspace.parent / "_tool"),
            "Agent.OS": "Linux",
            "System.TeamProject": self.team_project,
            "System.CollectionUri": f"https://dev.azure.com/{self.organization}/",
            "Build.Repository.Name": self.repository_name,
        }

    def run_job(self, name, job, variables, build, result, outputs) -> str:
        if "template" in job:
            raise PipelineError(f"Job {name}: unexpanded template")
        job_run = JobRun(self, name, {**variables, **self.predefined(build)}, build)
        job_run.outputs = outputs
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
        self.outputs: dict[str, str] = {}  # step.variable -> value, for later jobs
        self.cached: dict[str, str] = {}  # path -> the Cache@2 step's name
        self.path = [
            p
            for p in os.environ["PATH"].split(os.pathsep)
            if Path(p) != Path(sys.executable).parent
        ]
        self.sources = Path(variables["Build.SourcesDirectory"])
        self.library = self.sources  # where `checkout: self` put the repository
        self.temp = Path(variables["Agent.TempDirectory"])
        for folder in (self.sources, self.temp):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

    def run(self, steps: list[dict[str, Any]]) -> str:
        checkouts = [step for step in steps if "checkout" in step]
        if len(checkouts) > 1 and not all("path" in step for step in checkouts):
            raise PipelineError(f"Job {self.name}: several checkouts need a path each")
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
            if succeeded:
                succeeded = self.save_caches()
        finally:
            # Azure empties Agent.TempDirectory after every job.
            shutil.rmtree(self.temp, ignore_errors=True)
        return "succeeded" if succeeded else "failed"

    def save_caches(self) -> bool:
        """Cache@2's post-job step: tar each cached folder, which must exist."""
        saved = True
        for path, label in self.cached.items():
            name = f"Post-job: {label}"
            if Path(path).is_dir():
                self.records.append(StepRecord(self.name, name, "succeeded"))
            else:
                failure = f"tar: could not chdir to '{path}'"
                self.records.append(StepRecord(self.name, name, "failed", failure))
                saved = False
        return saved

    def run_step(self, step: dict[str, Any]) -> str:
        if "checkout" in step:
            return self.checkout(step)
        if "script" in step or "bash" in step:
            return self.script(
                step.get("script") or step["bash"],
                step.get("env") or {},
                step.get("name"),
                step.get("workingDirectory"),
            )
        task = step.get("task")
        if task == "Cache@2" and (path := (step.get("inputs") or {}).get("path")):
            self.cached[expand(path, self.variables)] = step_label(step)
        handler = {
            "UsePythonVersion@0": self.use_python_version,
            "Cache@2": self.cache,
            "PipAuthenticate@1": self.pip_authenticate,
            "PublishTestResults@2": self.publish_test_results,
            "PublishCodeCoverageResults@2": self.publish_code_coverage_results,
            "PublishPipelineArtifact@1": self.publish_pipeline_artifact,
            "DownloadPipelineArtifact@2": self.download_pipeline_artifact,
        }.get(task)
        if handler is None:
            raise PipelineError(f"No local equivalent for step {step}")
        inputs = {
            key: expand(str(value), self.variables)
            for key, value in (step.get("inputs") or {}).items()
        }
        return handler(inputs)

    # -- steps --

    def destination(self, step: dict[str, Any]) -> Path:
        """Build.SourcesDirectory, or Pipeline.Workspace/path when it is given."""
        if "path" not in step:
            return self.sources
        folder = self.agent.workspace / step["path"]
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def checkout(self, step: dict[str, Any]) -> str:
        if step["checkout"] != "self":
            return self.checkout_resource(step)
        self.library = target = self.destination(step)
        depth = int(step.get("fetchDepth", "1"))  # Azure's default for new pipelines
        tags = str(step.get("fetchTags", "false")).lower() == "true"
        commit = git(
            self.agent.repository, "rev-parse", f"{self.build.source_branch}^{{commit}}"
        )
        git(target, "init", "--quiet")
        git(
            target,
            "remote",
            "add",
            "origin",
            self.agent.repository.resolve().as_uri(),
        )
        git(
            target,
            "fetch",
            "--force",
            "--tags" if tags else "--no-tags",
            *([f"--depth={depth}"] if depth else []),
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
            f"+{self.build.source_branch}:refs/remotes/origin/build-source",
        )
        git(target, "checkout", "--quiet", "--force", "--detach", commit)
        history = f"depth {depth}" if depth else "full history"
        tag_note = "with tags" if tags else "without tags"
        return (
            f"checked out {self.build.source_branch} at {commit}, {history}, {tag_note}"
        )

    def checkout_resource(self, step: dict[str, Any]) -> str:
        """A repository resource at its ref."""
        resource = self.agent.resources.get(step["checkout"])
        if resource is None or resource.get("type") != "git":
            raise PipelineError(f"No git repository resource {step['checkout']!r}")
        repositories = (self.agent.templates or TemplateSource({})).repositories
        if resource["name"] not in repositories:
            raise StepFailed(f"Repository {resource['name']!r} not found")
        ref = resource.get("ref", "refs/heads/main")
        target = self.destination(step)
        commit = git(repositories[resource["name"]], "rev-parse", f"{ref}^{{commit}}")
        git(target, "init", "--quiet")
        git(target, "fetch", "--quiet", "--no-tags", "--depth=1",
            repositories[resource["name"]].resolve().as_uri(), commit)  # fmt: skip
        git(target, "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD")
        return f"checked out {resource['name']} {ref} at {commit}"

    def use_python_version(self, inputs: dict[str, str]) -> str:
        spec = inputs["versionSpec"]
        if spec not in (RUNNING_PYTHON, "3.x"):
            raise PipelineError(
                f"UsePythonVersion {spec!r}: only Python {RUNNING_PYTHON} runs here"
            )
        tools = Path(self.variables["Agent.ToolsDirectory"])
        tool = tools / "Python" / platform.python_version() / "x64"
        if not (tool / "bin" / "python").exists():
            venv.create(tool, with_pip=True)
            (tool.parent / "x64.complete").touch()
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
        return f"{cached[inputs['path']]} = {inputs['path']} kept between jobs"

    def expected_artifact_feed(self) -> str:
        """The feed of the library's pyproject.toml, or for the template's own
        repository the one its cookiecutter.json's defaults name."""
        pyproject = tomllib.loads((self.library / "pyproject.toml").read_text())
        feed = pyproject.get("tool", {}).get("azure-artifacts")
        if feed is None:
            defaults = json.loads((self.library / "cookiecutter.json").read_text())
            scoped = defaults["feed_scope"][0] == "project"
            feed = {"feed": defaults["feed_name"]}
            feed |= {"project": defaults["azure_project"]} if scoped else {}
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
        if self.agent.feed is None:
            raise PipelineError("PipAuthenticate@1 needs a feed stand-in")
        # The feed the task names, as PipAuthenticate resolves it: a feed that
        # is not there answers 404.
        named = inputs["artifactFeeds"].rpartition("/")[2]
        url = self.agent.feed.url("simple", "build", self.agent.token)
        url = re.sub(r"/_packaging/[^/]+/pypi/", f"/_packaging/{named}/pypi/", url)
        self.variables["PIP_INDEX_URL"] = url
        return f"PIP_INDEX_URL set for {inputs['artifactFeeds']}"

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
        summaries = []
        for path in files:
            root = ElementTree.parse(path).getroot()
            if root.tag != "coverage":
                raise StepFailed(f"{path} is not a Cobertura report")
            self.check_sources(root, inputs.get("pathToSources"))
            lines = f"{root.get('lines-covered')} of {root.get('lines-valid')} lines"
            summaries.append(f"{path.name} ({lines})")
        return "coverage: " + ", ".join(summaries)

    @staticmethod
    def check_sources(report: ElementTree.Element, path_to_sources: str | None):
        """Relative paths in a report need pathToSources, where the files are
        (PublishCodeCoverageResults@2's docs: "required if ... relative paths")."""
        sources = [source.text or "" for source in report.iter("source")]
        if all(Path(source).is_absolute() for source in sources):
            return
        if not path_to_sources:
            raise StepFailed("The report's paths are relative: set pathToSources")
        files = {c.get("filename") for c in report.iter("class")}
        if missing := [f for f in files if not (Path(path_to_sources) / f).is_file()]:
            raise StepFailed(f"Not under pathToSources {path_to_sources}: {missing}")

    def publish_pipeline_artifact(self, inputs: dict[str, str]) -> str:
        source = self.sources / inputs.get("targetPath", inputs.get("path", ""))
        name = inputs.get("artifact") or inputs.get("artifactName")
        if not name:
            raise StepFailed("PublishPipelineArtifact@1 needs `artifact`")
        if not source.exists():
            raise StepFailed(f"Path to publish not found: {source}")
        target = self.agent.artifacts / name
        if target.exists():
            raise StepFailed(f"Artifact {name} already exists in this run")
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir(parents=True)
            shutil.copy2(source, target)
        return f"artifact {name}: {sorted(p.name for p in target.rglob('*'))}"

    def download_pipeline_artifact(self, inputs: dict[str, str]) -> str:
        """The current run's artifacts; with several, each in a folder of its name."""
        if inputs.get("buildType", "current") != "current":
            raise PipelineError("Only artifacts of the current run are supported")
        target = Path(inputs.get("path") or inputs.get("targetPath") or "")
        if not target.is_absolute():
            target = self.sources / target
        names = [inputs["artifact"]] if inputs.get("artifact") else None
        pattern = minimatch(inputs.get("patterns") or inputs.get("itemPattern") or "**")
        downloaded = []
        for artifact in sorted(self.agent.artifacts.glob("*")):
            if names is not None and artifact.name not in names:
                continue
            for path in sorted(artifact.rglob("*")):
                relative = path.relative_to(artifact).as_posix()
                if names is None:
                    relative = f"{artifact.name}/{relative}"
                if path.is_file() and pattern.fullmatch(relative):
                    destination = target / relative
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, destination)
                    downloaded.append(relative)
        if not downloaded:
            raise StepFailed(f"No artifact file matches {pattern.pattern}")
        return "downloaded " + ", ".join(downloaded)

    def script(
        self,
        script: str,
        step_env: dict[str, str],
        step_name: str | None = None,
        working_directory: str | None = None,
    ) -> str:
        script_file = self.temp / "script.sh"
        token = self.agent.token
        variables = {**self.variables, "System.AccessToken": token}
        script_file.write_text(expand(script, variables))
        connection = {"parameters": {"AccessToken": token}, "scheme": "OAuth"}
        env = isolated_environment(
            TF_BUILD="True",
            PATH=os.pathsep.join([str(self.agent.hosted_tools()), *self.path]),
            ENDPOINT_URL_SYSTEMVSSCONNECTION=self.variables["System.CollectionUri"],
            ENDPOINT_AUTH_SYSTEMVSSCONNECTION=json.dumps(connection),
            ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION="OAuth",
            ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN=token,
            **(self.agent.network.env() if self.agent.network else {}),
            **{
                environment_name(k): expand(v, variables)
                for k, v in variables.items()
                if k not in SECRET_VARIABLES
            },
            **{k: expand(str(v), variables) for k, v in step_env.items()},
        )
        env.pop("CI", None)  # Azure sets TF_BUILD, not CI
        # Azure runs inline scripts like this: no -e, the last command's status counts.
        task = [sys.executable, "-c", TASK_PROCESS]
        completed = subprocess.run(
            [*task, "bash", "--noprofile", "--norc", str(script_file)],
            cwd=(
                expand(working_directory, variables)
                if working_directory
                else self.sources
            ),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT,
        )
        for line in completed.stdout.splitlines():
            if match := SET_VARIABLE.match(line.strip()):
                name, value = match.group(1), match.group(3)
                if not match.group("output"):
                    self.variables[name] = value
                elif step_name:  # output variables are the step's, by its name
                    self.outputs[f"{step_name}.{name}"] = value
            elif match := PREPEND_PATH.match(line.strip()):
                self.path.insert(0, match.group(1))
        if completed.returncode != 0:
            raise StepFailed(f"exit code {completed.returncode}\n{completed.stdout}")
        return completed.stdout


# A test for the library under test: it fails if it finds the secret (which it
# holds reversed, in hexadecimal, so no file of the repository shows it) in its
# environment, in that of any process that started it (`unset` in a script
# leaves the script's own /proc/PID/environ as it was), or in any file it can
# read below the agent's work folder or its HOME.
SECRET_PROBE = """\
import os
from collections.abc import Iterator
from pathlib import Path

SECRET = bytes.fromhex(
    "{hidden}"
)[::-1]


def environments() -> Iterator[tuple[str, bytes]]:
    own = [f"{{k}}={{v}}".encode() for k, v in os.environ.items()]
    yield "this process", b"\\0".join(own)
    pid = os.getppid()
    for _ in range(64):
        try:
            yield f"process {{pid}}", Path(f"/proc/{{pid}}/environ").read_bytes()
            stat = Path(f"/proc/{{pid}}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's pid
        except (OSError, ValueError, IndexError):
            return


def files() -> Iterator[tuple[str, bytes]]:
    work = Path.cwd().parent.parent  # the agent's work folder: _work/1/s
    for root in {{work, Path.home()}}:
        for path in root.rglob("*"):
            try:
                if path.is_file() and path.stat().st_size < 1_000_000:
                    yield str(path), path.read_bytes()
            except OSError:
                continue


def test_the_feed_token_is_out_of_reach() -> None:
    assert [name for name, data in environments() if SECRET in data] == []
    assert [name for name, data in files() if SECRET in data] == []
"""


def secret_probe(secret: str) -> str:
    """SECRET_PROBE for `secret`, which it holds reversed, in hexadecimal."""
    return SECRET_PROBE.format(hidden=secret.encode()[::-1].hex())


def job_variables(
    job: dict[str, Any], outputs: dict[str, dict[str, str]]
) -> dict[str, str]:
    """A job's own variables; `$[ dependencies.J.outputs['s.v'] ]` from jobs before."""
    own = {}
    for name, value in (job.get("variables") or {}).items():
        match = JOB_OUTPUT.match(str(value))
        if match:
            value = outputs.get(match.group(1), {}).get(match.group(2), "")
        elif "$[" in str(value):
            raise PipelineError(f"Unsupported runtime expression {value!r}")
        own[name] = str(value)
    return own


def minimatch(pattern: str) -> re.Pattern[str]:
    """The artifact tasks' patterns: ** spans folders, * and ? stay in one."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    translated = {"**": ".*", "**/": "(?:.*/)?", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(p, re.escape(p)) for p in parts))


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


# --- templates: extends, template references, repository resources ---------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class FileTemplates:
    """Template files of the pipeline's own repository, beside the pipeline file."""

    root: Path

    def read(self, name: str, ref: str, path: str) -> Any:
        return yaml.safe_load((self.root / path).read_text(encoding="utf-8"))


@dataclass
class TemplateSource:
    """Reads template files from git repositories at a ref, as Azure does."""

    repositories: dict[str, Path]  # resource `name` (project/repo) -> local clone

    def read(self, name: str, ref: str, path: str) -> Any:
        if name not in self.repositories:
            raise PipelineError(f"No repository {name!r} for a template")
        text = git(self.repositories[name], "show", f"{ref}:{path}")
        return yaml.safe_load(text)


def expand_pipeline(pipeline: dict[str, Any], source: TemplateSource) -> dict:
    """The pipeline with `extends` and every `template:` reference expanded."""
    if "extends" not in pipeline:
        return pipeline
    resources = {r["repository"]: r for r in pipeline["resources"]["repositories"]}
    path, _, alias = pipeline["extends"]["template"].partition("@")
    resource = resources[alias]
    if resource.get("type") != "git":
        raise PipelineError("Only Azure Repos (type: git) resources are supported")
    location = (resource["name"], resource.get("ref", "refs/heads/main"))
    body = instantiate(
        source.read(*location, path), pipeline["extends"].get("parameters", {})
    )
    body = expand_references(body, source, location, path)
    rest = {k: v for k, v in pipeline.items() if k not in ("extends", "resources")}
    return {**rest, **body}


def instantiate(template: dict[str, Any], given: dict[str, Any]) -> dict:
    """The template's body with its parameters' values (defaults filled in)."""
    declared = {p["name"]: p for p in template.get("parameters", [])}
    if unknown := set(given) - set(declared):
        raise PipelineError(f"Unknown template parameters {sorted(unknown)}")
    values = {}
    for name, declaration in declared.items():
        if name not in given and "default" not in declaration:
            raise PipelineError(f"Template parameter {name} is required")
        values[name] = given.get(name, declaration.get("default"))
    body = {k: v for k, v in template.items() if k != "parameters"}
    return render(body, {"parameters": values})


def expand_references(node, source, location, path):
    """Splice `- template: file` items (relative to the including file)."""
    if isinstance(node, dict):
        return {
            k: expand_references(v, source, location, path) for k, v in node.items()
        }
    if not isinstance(node, list):
        return node
    items = []
    for item in node:
        if isinstance(item, dict) and "template" in item and len(item) <= 2:
            relative = str(Path(path).parent / item["template"])
            included = instantiate(
                source.read(location[0], location[1], relative),
                item.get("parameters", {}),
            )
            (key,) = set(included) & {"steps", "jobs", "stages"}
            items.extend(expand_references(included[key], source, location, relative))
        else:
            items.append(expand_references(item, source, location, path))
    return items


DIRECTIVE = re.compile(r"^\$\{\{\s*(if|elseif|else|each)\b\s*(.*?)\s*\}\}$")


def render(node: Any, scope: dict[str, Any]) -> Any:
    """Template expressions: ${{ }} values, if/elseif/else and each insertions."""
    if isinstance(node, str):
        whole = EXPRESSION.fullmatch(node.strip())
        if whole:
            return value_of(whole.group(1), scope)
        return EXPRESSION.sub(lambda m: text_of(value_of(m.group(1), scope)), node)
    if isinstance(node, list):
        items: list[Any] = []
        chain = {"taken": True}
        for item in node:
            if isinstance(item, dict) and len(item) == 1:
                ((key, value),) = item.items()
                if isinstance(key, str) and DIRECTIVE.match(key):
                    for part, inner in inserted(key, value, scope, chain):
                        items.extend(render(part, inner))
                    continue
            items.append(render(item, scope))
        return items
    if isinstance(node, dict):
        result: dict[Any, Any] = {}
        chain = {"taken": True}
        for key, value in node.items():
            if isinstance(key, str) and DIRECTIVE.match(key):
                for part, inner in inserted(key, value, scope, chain):
                    result.update(render(part, inner))
            else:
                result[render(key, scope)] = render(value, scope)
        return result
    return node


def inserted(key: str, value: Any, scope: dict[str, Any], chain: dict[str, bool]):
    """(value, scope) pairs a directive key inserts; `chain` links if/else."""
    kind, expression = DIRECTIVE.match(key).groups()
    if kind == "each":
        name, _, collection = expression.partition(" in ")
        return [
            (value, {**scope, name.strip(): e}) for e in value_of(collection, scope)
        ]
    if kind == "if":
        chain["taken"] = False
    if chain["taken"]:
        return []
    if kind == "else" or truthy(value_of(expression, scope)):
        chain["taken"] = True
        return [(value, scope)]
    return []


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.casefold() not in ("", "false", "0")
    return bool(value)


def text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # how Azure prints a boolean
    return str(value)


FUNCTION_CALL = re.compile(r"^(\w+)\((.*)\)$", re.S)


def value_of(expression: str, scope: dict[str, Any]) -> Any:
    """A compile-time expression: literals, names, .property, [index], calls."""
    expression = expression.strip()
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1].replace("''", "'")
    if expression in ("true", "false"):
        return expression == "true"
    if call := FUNCTION_CALL.match(expression):
        function, arguments = call.group(1), split_arguments(call.group(2))
        values = [value_of(argument, scope) for argument in arguments]
        functions = {
            "replace": lambda s, old, new: text_of(s).replace(old, new),
            "eq": lambda a, b: text_of(a).casefold() == text_of(b).casefold(),
            "ne": lambda a, b: text_of(a).casefold() != text_of(b).casefold(),
            "not": lambda a: not truthy(a),
        }
        if function not in functions:
            raise PipelineError(f"Unsupported template function {function}()")
        return functions[function](*values)
    match = re.fullmatch(r"([A-Za-z_]\w*)((?:\.\w+|\[\d+\])*)", expression)
    if not match or match.group(1) not in scope:
        raise PipelineError(f"Unsupported template expression {expression!r}")
    value = scope[match.group(1)]
    for part in re.findall(r"\.\w+|\[\d+\]", match.group(2)):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part[1:]]
    return value


def split_arguments(text: str) -> list[str]:
    """Top-level comma-separated arguments (commas in quotes or calls kept)."""
    arguments, depth, quoted, current = [], 0, False, ""
    for character in text:
        if character == "'":
            quoted = not quoted
        elif not quoted and character == "(":
            depth += 1
        elif not quoted and character == ")":
            depth -= 1
        elif not quoted and depth == 0 and character == ",":
            arguments.append(current)
            current = ""
            continue
        current += character
    return [*arguments, current] if current.strip() else arguments
