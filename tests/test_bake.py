"""Structure of baked projects: every combination of options, no tools run inside."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.baking import all_combinations, bake, combination_id
from tests.static_checks import assert_static_checks_pass

COMBINATIONS = all_combinations()


@pytest.mark.parametrize("answers", COMBINATIONS, ids=map(combination_id, COMBINATIONS))
def test_every_combination_bakes_a_clean_project(
    tmp_path: Path, answers: dict[str, Any]
):
    project = bake(tmp_path, **answers)

    assert_static_checks_pass(project)
    assert project.exists("LICENSE") == (answers["license"] != "Proprietary")
    assert project.exists("Dockerfile") == answers["include_dockerfile"]
    assert project.exists("docs/docker.md") == answers["include_dockerfile"]
    assert ("setuptools_scm" in project.pyproject["tool"]) == (
        answers["versioning"] == "git-tags"
    )


@pytest.mark.parametrize("minimum", ["3.11", "3.13"])
def test_supported_pythons_run_from_the_minimum_up_to_3_14(tmp_path: Path, minimum):
    project = bake(tmp_path, minimum_python=minimum)

    classifiers = project.pyproject["project"]["classifiers"]
    versions = [
        c.rsplit(" ", 1)[1] for c in classifiers if c.count("::") == 2 and "3." in c
    ]
    first = int(minimum.split(".")[1])
    assert versions == [f"3.{minor}" for minor in range(first, 15)]
    assert project.pyproject["project"]["requires-python"] == f">={minimum}"


def test_defaults_bake_my_shared_utils_with_its_package(default_project):
    assert default_project.path.name == "my-shared-utils"
    assert default_project.distribution == "my-shared-utils"
    assert default_project.package == "my_shared_utils"
    assert default_project.exists("src/my_shared_utils/py.typed")


def test_build_backend_is_setuptools_build_meta(default_project):
    assert (
        default_project.pyproject["build-system"]["build-backend"]
        == "setuptools.build_meta"
    )


def test_proprietary_code_cannot_be_uploaded_to_public_pypi(default_project):
    pyproject = default_project.pyproject["project"]
    assert "Private :: Do Not Upload" in pyproject["classifiers"]
    assert pyproject["license"] == "LicenseRef-Proprietary"


def test_open_source_licences_ship_their_text(tmp_path: Path):
    mit = bake(tmp_path / "mit", license="MIT")
    apache = bake(tmp_path / "apache", license="Apache-2.0")

    assert mit.read("LICENSE").startswith("MIT License")
    assert "Apache License" in apache.read("LICENSE")
    assert "Private :: Do Not Upload" not in mit.pyproject["project"]["classifiers"]


def test_each_runtime_extra_becomes_an_optional_dependency(tmp_path: Path):
    project = bake(tmp_path, extras="redis, postgres")

    extras = project.pyproject["project"]["optional-dependencies"]
    assert set(extras) == {"test", "lint", "dev", "redis", "postgres"}


def test_the_baked_project_is_a_git_repository_with_one_clean_commit(default_project):
    log = default_project.run("git", "log", "--format=%s").stdout.splitlines()
    status = default_project.run("git", "status", "--porcelain").stdout

    assert log == ["Initial commit from cookiecutter-azure-pylib"]
    assert status == ""


@pytest.mark.parametrize(
    ("commits_after_tag", "expected"), [(0, "1.2.0"), (2, "1.2.1.dev2")]
)
def test_scm_version_is_the_tag_and_dev_versions_count_up_from_it(
    default_project, commits_after_tag, expected
):
    default_project.git("tag", "v1.2.0")
    for number in range(commits_after_tag):
        default_project.git("commit", "--allow-empty", "-m", f"change {number}")

    version = default_project.run(sys.executable, "-m", "setuptools_scm").stdout.strip()

    assert version == expected


def test_static_version_is_written_in_pyproject(tmp_path: Path):
    project = bake(tmp_path, versioning="static", version="2.3.4")

    assert project.pyproject["project"]["version"] == "2.3.4"
    assert "dynamic" not in project.pyproject["project"]
