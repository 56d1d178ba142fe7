"""The Dockerfile installs from the feed with a BuildKit secret and leaks nothing.

No Docker engine runs here: the Dockerfile is checked by hadolint and by reading
its stages, and the builder stage's commands run locally against a real index.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.baking import BakedProject, all_combinations, bake, combination_id
from tests.dockerfile import Stage, parse
from tests.index_server import isolated_environment

WITH_DOCKERFILE = [a for a in all_combinations() if a["include_dockerfile"]]
HADOLINT = Path(sys.executable).with_name("hadolint")
CREDENTIAL = re.compile(
    r"PAT\b|TOKEN|PASSWORD|PASSWD|SECRET|AUTH|KEY|CREDENTIAL|INDEX_URL|://[^/\s]*@",
    re.IGNORECASE,
)
VENV = "/opt/venv"


def stages_of(project: BakedProject) -> list[Stage]:
    return parse(project.read("Dockerfile"))


@pytest.fixture(params=WITH_DOCKERFILE, ids=map(combination_id, WITH_DOCKERFILE))
def project(request, tmp_path) -> BakedProject:
    return bake(tmp_path, **request.param)


def test_hadolint_finds_nothing_at_all(project):
    result = subprocess.run(
        [HADOLINT, "--failure-threshold", "style", "Dockerfile"],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout) == (0, "")


def test_no_argument_environment_or_label_looks_like_a_credential(project):
    for stage in stages_of(project):
        for instruction in stage.instructions:
            if instruction.keyword in {"ARG", "ENV", "LABEL"}:
                assert not CREDENTIAL.search(instruction.arguments), instruction


def test_every_install_reaches_the_feed_through_the_secret_mount_only(project):
    installs = [
        run
        for stage in stages_of(project)
        for run in stage.all("RUN")
        if re.search(r"\bpip install\b|\buv (pip|sync)\b", run.command)
    ]
    assert installs
    for run in installs:
        assert run.mounts() == [
            {
                "type": "secret",
                "id": "pip_index_url",
                "env": "PIP_INDEX_URL",
                "required": "true",
            }
        ]


def test_final_stage_holds_only_the_virtual_environment_and_runs_unprivileged(
    project,
):
    *_, final = stages_of(project)

    copies = final.all("COPY")
    assert [(c.flags, c.command) for c in copies] == [
        (["--from=builder"], f"{VENV} {VENV}")
    ]
    assert not final.all("RUN") and not final.all("ARG")
    assert final.instructions[-2].keyword == "USER"
    assert final.instructions[-2].arguments.split(":")[0] not in {"0", "root"}
    assert final.instructions[-1].arguments == (
        f'["python", "-m", "{project.package}"]'
    )
    minimum = project.pyproject["project"]["requires-python"].removeprefix(">=")
    assert final.base == f"python:{minimum}-slim-trixie"


def test_build_context_leaves_out_history_environments_and_credentials(
    default_project,
):
    ignored = default_project.read(".dockerignore").split()
    for entry in [".git", ".nox", ".venv", "dist", "build", ".pypirc", "pip.conf"]:
        assert entry in ignored


def test_no_dockerfile_without_asking_for_one(tmp_path):
    project = bake(tmp_path, include_dockerfile=False)
    assert not project.exists("Dockerfile") and not project.exists(".dockerignore")


# --- The builder stage, run locally --------------------------------------------


def build_context(project: BakedProject, into: Path) -> Path:
    """A copy of the project as `docker build .` sends it (.dockerignore applied)."""
    ignored = [
        line for line in project.read(".dockerignore").splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip
    shutil.copytree(
        project.path, into, ignore=shutil.ignore_patterns(*ignored, "__pycache__")
    )
    return into


def run_builder_stage(
    project: BakedProject, root: Path, secret: str | None, build_args: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run the builder's instructions with `root` standing for the image's /.

    The secret reaches only the RUN that mounts it, as the environment variable
    its `env=` option names, exactly as BuildKit does.
    """
    builder, *_ = stages_of(project)
    workdir = root
    env = isolated_environment(**build_args)
    result = None
    for instruction in builder.instructions:
        if instruction.keyword == "ENV":
            for name, value in re.findall(r"(\w+)=(\S+)", instruction.arguments):
                env[name] = value
        elif instruction.keyword == "WORKDIR":
            workdir = root / instruction.arguments.lstrip("/")
        elif instruction.keyword == "COPY":
            assert instruction.command == ". .", instruction
            build_context(project, workdir)
        elif instruction.keyword == "RUN":
            run_env = dict(env)
            for mount in instruction.mounts():
                if secret is not None:
                    run_env[mount["env"]] = secret
            command = instruction.command.replace(VENV, str(root / VENV.lstrip("/")))
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=workdir if workdir.exists() else root,
                env=run_env,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                return result
    assert result is not None
    return result


@pytest.mark.slow
def test_builder_installs_the_project_from_the_index_and_keeps_no_secret(
    tmp_path, index_server
):
    project = bake(tmp_path / "bake")
    root = tmp_path / "image"
    root.mkdir()

    built = run_builder_stage(
        project, root, index_server.authenticated_simple_url, {"VERSION": "1.2.0"}
    )

    assert built.returncode == 0, built.stderr
    venv_python = root / "opt" / "venv" / "bin" / "python"
    shown = subprocess.run(
        [venv_python, "-m", project.package], capture_output=True, text=True
    )
    assert shown.stdout == "my-shared-utils 1.2.0\n"
    assert index_server.files_holding_the_password(root / "opt") == []
    assert index_server.password not in built.stdout + built.stderr


def test_builder_without_the_version_stops_with_a_clear_message(tmp_path):
    project = bake(tmp_path / "bake")
    root = tmp_path / "image"
    root.mkdir()

    built = run_builder_stage(project, root, secret=None, build_args={})

    assert built.returncode == 1
    assert "Pass --build-arg VERSION=<the version to build>" in built.stderr
    assert not list((root / "opt" / "venv").glob("lib/python*/site-packages/my_*"))
