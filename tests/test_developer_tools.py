"""The project's developer tools: pre-commit through the index, and what
sp-repo-review and pyroma make of a baked project."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.baking import EVERYTHING_ON, BakedProject, bake
from tests.index_server import isolated_environment

# Checks a baked project fails by design, with their reasons.
ACCEPTED_REPO_REVIEW_FAILURES = {
    # Ruff: black and flake8 are the chosen tools.
    "RF001",
    # GitHub Actions: the project lives on Azure DevOps (azure-pipelines.yml).
    "GH100",
    # Hooks cloned from repositories on github.com (pre-commit-hooks, black,
    # mypy, codespell, pygrep-hooks, prettier, ruff) and the GitHub-only
    # pre-commit.ci: the hooks are local, installed through the feed, as GitHub
    # is often unreachable from Azure DevOps shops.
    "PC100", "PC110", "PC140", "PC160", "PC170", "PC180", "PC190",
    "PC901", "PC902", "PC903",
}  # fmt: skip


def test_pre_commit_runs_the_nox_sessions_with_the_pinned_nox(default_project):
    """The same tools at the same versions as `nox` and the pipeline, mypy with
    the project's dependencies: the hooks are the nox sessions."""
    config = yaml.safe_load(default_project.read(".pre-commit-config.yaml"))
    ci = default_project.pyproject["dependency-groups"]["ci"]
    pins = [pin for pin in ci if pin.startswith(("nox==", "uv=="))]

    (local,) = config["repos"]
    assert local["repo"] == "local"
    assert [hook["entry"] for hook in local["hooks"]] == [
        "nox -s lint",
        "nox -s typecheck",
    ]
    for hook in local["hooks"]:
        assert hook["language"] == "python"
        assert hook["additional_dependencies"] == pins, hook["id"]
        assert hook["pass_filenames"] is False


def test_every_tool_of_the_dependency_groups_is_pinned_exactly(default_project):
    groups = default_project.pyproject["dependency-groups"]
    pins = [
        pin.split(";")[0]
        for group in groups.values()
        for pin in group
        if isinstance(pin, str)
    ]
    assert pins and all(re.fullmatch(r"[a-z0-9-]+(\[\w+\])?==[\d.]+", p) for p in pins)


@pytest.fixture(scope="module", params=[{}, EVERYTHING_ON], ids=["defaults", "all"])
def baked(request, tmp_path_factory) -> BakedProject:
    return bake(tmp_path_factory.mktemp("bake"), **request.param)


@pytest.mark.slow
def test_repo_review_fails_only_ruff_and_github_only_checks(baked):
    result = baked.run(
        sys.executable, "-m", "repo_review", ".", "--format", "json", check=False
    )
    checks = json.loads(result.stdout)["checks"]

    failed = {name for name, check in checks.items() if check["result"] is False}
    assert failed <= ACCEPTED_REPO_REVIEW_FAILURES
    assert sum(check["result"] is True for check in checks.values()) >= 30


@pytest.mark.slow
def test_pyroma_finds_nothing_but_the_licence_classifier_pep_639_rules_out(baked):
    """With Metadata-Version 2.1 (docs/azure-behaviours.md) pyroma reads the
    licence from `License:` and asks for a licence classifier, which PEP 639
    forbids beside an SPDX expression (repo-review's PP005)."""
    result = baked.run(sys.executable, "-m", "pyroma", ".", check=False)

    lines = [line for line in result.stdout.splitlines() if line[:3] != "---"]
    found = next(i for i, line in enumerate(lines) if line.startswith("Found "))
    rating = next(i for i, line in enumerate(lines) if line.startswith("Final rating"))
    licence = baked.pyproject["project"]["license"]
    classifier = f"The license '{licence}' specified is not listed in your classifiers."
    assert set(lines[found + 1 : rating]) <= {classifier}, result.stdout
    assert re.match(r"Final rating: (10|9)/10", lines[rating]), result.stdout


@pytest.mark.slow
def test_pre_commit_runs_every_hook_with_tools_from_the_index_only(tmp_path: Path):
    """With a dependency of the library's own, as soon as it has one, the hooks
    pass exactly where `nox` does."""
    project = bake(tmp_path / "bake")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "dependencies = []", 'dependencies = ["packaging>=24"]'
        )
    )
    module = project.path / "src" / project.package / "versions.py"
    module.write_text(
        '"""Versions."""\n\nfrom packaging.version import Version\n\n\n'
        "def newest(*versions: str) -> str:\n"
        '    """The newest of `versions`."""\n'
        "    return str(max(map(Version, versions)))\n"
    )
    project.git("add", "--all")
    project.git("commit", "--quiet", "-m", "A dependency")
    env = isolated_environment(
        PIP_INDEX_URL="https://pypi.org/simple/",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
    )

    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for hook in (r"nox -s lint \(black, flake8\)", r"nox -s typecheck \(mypy\)"):
        assert re.search(rf"^{hook}\.+Passed$", result.stdout, re.MULTILINE), hook
