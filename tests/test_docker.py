"""The generated Dockerfile installs from the feed and leaks no credential.

Every combination is checked statically (hadolint, and the credentials of
every stage: tests/dockerfile.py). Two bakes are then built by a real Docker
engine with BuildKit (tests/engines.py), as docs/docker.md tells a user to,
against a password-protected index standing in for the feed: the image runs,
as an unprivileged user, with the version it was given, and the password is
in no layer, no history, no image configuration and no exported build cache.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.baking import (
    BakedProject,
    all_combinations,
    bake,
    combination_id,
    make_wheel,
)
from tests.dockerfile import (
    VENV,
    credential_settings,
    final_stage_copies_beyond_the_venv,
    parse,
    unsafe_runs,
)
from tests.engines import Docker, docker_engine
from tests.index_server import IndexServer, running_index_server

DOCKER_COMBINATIONS = [
    answers for answers in all_combinations() if answers["include_dockerfile"]
]
each_combination = pytest.mark.parametrize(
    "answers", DOCKER_COMBINATIONS, ids=map(combination_id, DOCKER_COMBINATIONS)
)


def hadolint_findings(dockerfile: Path, workdir: Path) -> list[dict[str, Any]]:
    """Every hadolint finding, info level included, ignoring any local config."""
    hadolint = shutil.which("hadolint", path=Path(sys.executable).parent)
    assert hadolint, "hadolint not found: pip install -r tests/requirements.txt"
    config = workdir / "hadolint.yaml"
    config.write_text("failure-threshold: info\nignored: []\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    result = subprocess.run(
        [hadolint, "--config", str(config), "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


@each_combination
def test_hadolint_finds_nothing(baked_combination, answers, tmp_path: Path):
    project = baked_combination(answers)

    assert hadolint_findings(project.path / "Dockerfile", tmp_path) == []


@each_combination
def test_no_arg_env_or_label_holds_a_credential(baked_combination, answers):
    dockerfile = parse(baked_combination(answers).read("Dockerfile"))

    assert credential_settings(dockerfile) == []


@each_combination
def test_every_run_that_reaches_the_feed_mounts_the_index_url_secret(
    baked_combination, answers
):
    dockerfile = parse(baked_combination(answers).read("Dockerfile"))
    installs = [
        run
        for run in dockerfile.stage("builder").all("RUN")
        if "install" in run.arguments
    ]

    assert installs, "the builder installs nothing"
    assert unsafe_runs(dockerfile) == []


@each_combination
def test_final_stage_copies_only_the_virtual_environment(baked_combination, answers):
    dockerfile = parse(baked_combination(answers).read("Dockerfile"))

    assert [stage.name for stage in dockerfile.stages] == ["builder", None]
    assert final_stage_copies_beyond_the_venv(dockerfile) == []


@each_combination
def test_final_image_runs_the_package_as_a_non_root_user(baked_combination, answers):
    project = baked_combination(answers)
    dockerfile = parse(project.read("Dockerfile"))
    (image,) = dockerfile.global_args
    final = dockerfile.final

    # Both stages on the same image: the venv's python links to the image's.
    assert {stage.base for stage in dockerfile.stages} == {"${PYTHON_IMAGE}"}
    minimum = re.escape(answers["minimum_python"])
    # A tag that follows the patch releases of the minimum Python.
    assert re.fullmatch(rf"PYTHON_IMAGE=python:{minimum}-slim-[a-z]+", image.arguments)
    assert final.all("USER")[-1].arguments.isdigit()
    assert final.all("USER")[-1].arguments != "0"
    assert json.loads(final.all("CMD")[-1].arguments) == [
        "python", "-m", project.package,
    ]  # fmt: skip
    assert f"PATH={VENV}/bin:$PATH" in [
        f"{name}={value}"
        for env in final.all("ENV")
        for name, value in env.key_values()
    ]


# The user's guide's Dockerfile: every check must object to it.
GUIDE_DOCKERFILE = """\
FROM python:3.12-slim AS builder
ARG AZURE_ARTIFACTS_PAT
ARG FEED_URL
RUN pip config set global.index-url "https://myorg:${AZURE_ARTIFACTS_PAT}@${FEED_URL}"
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
FROM python:3.12-slim
ENV PIP_INDEX_URL=https://build:abc@pkgs.dev.azure.com/org/_packaging/feed/pypi/simple/
COPY --from=builder /root/.config/pip /root/.config/pip
COPY --from=builder /usr/local/lib/python3.12 /usr/local/lib/python3.12
COPY . .
"""


def test_the_checks_reject_the_guides_build_arg_dockerfile():
    dockerfile = parse(GUIDE_DOCKERFILE)

    assert [problem.split(": ")[-1] for problem in credential_settings(dockerfile)] == [
        "AZURE_ARTIFACTS_PAT",
        "PIP_INDEX_URL",
    ]
    assert len(unsafe_runs(dockerfile)) == 2
    assert len(final_stage_copies_beyond_the_venv(dockerfile)) == 4


# --- real builds --------------------------------------------------------------

INTERNAL_DEPENDENCY = "acme-internal-core"
# The bakes a real engine builds: the defaults, and another minimum Python
# with extras and a static version (the base image's Python is the minimum).
BUILDS = {
    "defaults": ({}, "1.2.3"),
    "py3.13-extras-static": (
        {"minimum_python": "3.13", "extras": "redis,postgres", "versioning": "static",
         "version": "2.0.1", "license": "MIT"},
        "2.0.1",
    ),
}  # fmt: skip
# This machine reaches no registry: BuildKit would fetch the `# syntax` line's
# frontend image from Docker Hub, so the builds use a copy of the Dockerfile
# without that line (the engine's own frontend reads the rest as it is).
SYNTAX_LINE = "# syntax=docker/dockerfile:1\n"


@pytest.fixture(scope="session")
def docker() -> Iterator[Docker]:
    with docker_engine() as engine:
        yield engine


@dataclass
class Build:
    """A baked project, the index standing in for its feed, and its images."""

    docker: Docker
    project: BakedProject
    index: IndexServer
    version: str

    @property
    def image(self) -> str:
        return f"{self.project.distribution}:{self.version}"

    def build(self, *options: str, secret: bool = True, dockerfile: str | None = None):
        """docker build as docs/docker.md writes it, plus `--network host`: the
        index is on 127.0.0.1 where a user's build reaches pkgs.dev.azure.com."""
        local = self.project.path.parent / "Dockerfile.local"
        text = dockerfile or self.project.read("Dockerfile")
        assert text.startswith(SYNTAX_LINE)
        local.write_text(text.removeprefix(SYNTAX_LINE))
        arguments = ["build", "--network", "host", "--file", str(local), *options]
        if secret:
            arguments += ["--secret", "id=pip_index_url,env=PIP_INDEX_URL"]
        if self.project.answers.get("versioning", "git-tags") == "git-tags":
            arguments += ["--build-arg", f"VERSION={self.version}"]
        env = {**self.docker.env, "DOCKER_BUILDKIT": "1"}
        env["PIP_INDEX_URL"] = self.index.authenticated_simple_url
        return self.docker.run(
            *arguments, str(self.project.path), check=False, text=True, env=env
        )

    def traces_of_the_password(self, *images: str) -> list[str]:
        secret = self.index.password
        found = []
        for image in images:
            history = self.docker.run("history", "--no-trunc", image, text=True)
            config = self.docker.run("image", "inspect", image, text=True)
            layers = self.docker.run("save", image).stdout
            found += [
                f"{image}: {where}"
                for where, holds in [
                    ("history", secret in history.stdout),
                    ("configuration", secret in config.stdout),
                    ("layers", secret.encode() in layers),
                ]
                if holds
            ]
        return found


@pytest.fixture
def build(docker, tmp_path, request) -> Iterator[Build]:
    answers, version = BUILDS[request.param]
    project = bake(tmp_path / "bake", **answers)
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "dependencies = []", f'dependencies = ["{INTERNAL_DEPENDENCY}>=1.0"]'
        )
    )
    python = project.answers.get("minimum_python", "3.11")
    docker.base_image(python)
    with running_index_server(tmp_path / "index") as index:
        make_wheel(index.packages, INTERNAL_DEPENDENCY, "1.0.0")
        # The build backend, as the feed saves it from its PyPI upstream.
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
             "--python-version", python, "--dest", str(index.packages),
             *project.pyproject["build-system"]["requires"]],
            check=True,
        )  # fmt: skip
        yield Build(docker, project, index, version)


@pytest.mark.slow
@pytest.mark.parametrize("build", BUILDS, indirect=True)
def test_a_real_build_installs_from_the_feed_and_keeps_no_trace_of_the_password(
    build: Build,
):
    project = build.project
    # What a developer's folder holds besides the sources: none of it may be sent.
    (project.path / ".venv").mkdir()
    (project.path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (project.path / "pip.conf").write_text(
        f"[global]\nindex-url = {build.index.authenticated_simple_url}\n"
    )

    built = build.build("--cache-to", "type=inline", "--tag", build.image)
    assert built.returncode == 0, built.stderr
    builder = build.build("--target", "builder", "--tag", f"{build.image}-builder")
    assert builder.returncode == 0, builder.stderr

    def run(image: str, *command: str) -> str:
        ran = build.docker.run("run", "--rm", "--network", "none", image, *command)
        return ran.stdout.decode()

    assert run(build.image) == f"{project.distribution} {build.version}\n"
    imported = "import acme_internal_core as m; print(m.VERSION)"
    assert run(build.image, "python", "-c", imported) == "1.0.0\n"
    assert run(build.image, "id", "-u") == "10001\n"
    assert run(build.image, "ls", "/opt/venv/bin").split().count("pip") == 0
    context = set(run(f"{build.image}-builder", "ls", "-A", "/src").split())
    assert context <= {"README.md", "pyproject.toml", "LICENSE", "src"}, context
    assert build.traces_of_the_password(build.image, f"{build.image}-builder") == []
    assert build.index.password not in built.stdout + built.stderr


@pytest.mark.slow
@pytest.mark.parametrize("build", ["defaults"], indirect=True)
def test_a_real_build_without_the_secret_stops_with_the_dockerfiles_message(
    build: Build,
):
    built = build.build("--no-cache", secret=False)

    assert built.returncode != 0
    assert (
        "PIP_INDEX_URL: pass the feed with --secret id=pip_index_url,"
        "env=PIP_INDEX_URL, see docs/docker.md" in built.stderr
    )


@pytest.mark.slow
@pytest.mark.parametrize("build", ["defaults"], indirect=True)
def test_the_index_url_as_a_build_argument_is_found_in_the_image(build: Build):
    """The checks above find what the user's guide does: a build argument."""
    as_argument = build.project.read("Dockerfile").replace(
        "RUN --mount=type=secret,id=pip_index_url,env=PIP_INDEX_URL \\",
        "ARG PIP_INDEX_URL\nRUN \\",
    )
    assert "ARG PIP_INDEX_URL" in as_argument
    leaky = f"{build.image}-leaky"
    argument = f"PIP_INDEX_URL={build.index.authenticated_simple_url}"

    # The two images the test above checks: the image and its builder stage.
    for tag, target in ((leaky, []), (f"{leaky}-builder", ["--target", "builder"])):
        built = build.build(
            *target, "--build-arg", argument, "--tag", tag,
            secret=False, dockerfile=as_argument,
        )  # fmt: skip
        assert built.returncode == 0, built.stderr

    found = build.traces_of_the_password(leaky, f"{leaky}-builder")
    assert f"{leaky}-builder: history" in found, found


# --- the commands of docs/docker.md ---


def docker_doc_blocks(project: BakedProject, language: str) -> list[str]:
    page = project.read("docs/docker.md")
    return re.findall(rf"^```{language}\n(.*?)^```", page, re.MULTILINE | re.DOTALL)


def docker_build_options(script: str) -> tuple[list[str], list[str]]:
    """The --secret values and --build-arg names of the `docker build` in a script."""
    joined = script.replace("\\\n", " ")
    (command,) = [line for line in joined.splitlines() if "docker build" in line]
    words = shlex.split(command)
    secrets = [words[i + 1] for i, word in enumerate(words) if word == "--secret"]
    build_args = [
        words[i + 1].split("=", 1)[0]
        for i, word in enumerate(words)
        if word == "--build-arg"
    ]
    return secrets, build_args


def pipeline_docker_build(project: BakedProject) -> str:
    """The script of the step that runs `docker build` in azure-pipelines.yml."""
    pipeline = yaml.safe_load(project.read("azure-pipelines.yml"))
    (script,) = [
        step["script"]
        for stage in pipeline["stages"]
        for job in stage["jobs"]
        for step in job["steps"]
        if "docker build" in step.get("script", "")
    ]
    return script


@pytest.mark.parametrize("versioning", ["git-tags", "static"])
def test_documented_builds_pass_the_secret_and_arguments_the_dockerfile_reads(
    tmp_path: Path, versioning
):
    project = bake(tmp_path, versioning=versioning)
    builder = parse(project.read("Dockerfile")).stage("builder")
    (mount,) = [
        options
        for run in builder.all("RUN")
        for mount in run.flag_values("mount")
        for options in [dict(option.split("=") for option in mount.split(","))]
    ]
    arguments = [name for arg in builder.all("ARG") for name, _ in arg.key_values()]
    laptop = next(b for b in docker_doc_blocks(project, "bash") if "docker" in b)
    pipeline = pipeline_docker_build(project)

    for script in (laptop, pipeline):
        secrets, build_args = docker_build_options(script)
        assert secrets == [f"id={mount['id']},env={mount['env']}"]
        assert build_args == arguments
    assert arguments == (["VERSION"] if versioning == "git-tags" else [])
