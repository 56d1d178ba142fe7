"""Structure of baked projects: every combination of options, no tools run inside."""

from __future__ import annotations

import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from packaging.requirements import Requirement

from tests.baking import (
    DEFAULTS,
    EVERYTHING_ON,
    all_combinations,
    bake,
    combination_id,
    python_classifiers,
)
from tests.static_checks import assert_static_checks_pass, check_flake8

COMBINATIONS = all_combinations()


@pytest.mark.parametrize("answers", COMBINATIONS, ids=map(combination_id, COMBINATIONS))
def test_every_combination_bakes_a_clean_project(
    baked_combination, answers: dict[str, Any]
):
    project = baked_combination(answers)

    assert_static_checks_pass(project)
    assert project.exists("LICENSE")
    assert project.exists("Dockerfile") == answers["include_dockerfile"]
    assert project.exists("docs/docker.md") == answers["include_dockerfile"]
    assert ("version" in project.pyproject["tool"]["hatch"]) == (
        answers["versioning"] == "git-tags"
    )


def test_the_static_checks_catch_what_flake8_finds(default_project):
    """Guards the check above: flake8 runs with the project's own settings."""
    module = default_project.path / "src" / default_project.package / "extra.py"
    module.write_text("import os\n")

    with pytest.raises(AssertionError, match="F401 'os' imported but unused"):
        check_flake8(default_project)


@pytest.mark.parametrize("minimum", DEFAULTS["minimum_python"])
def test_supported_pythons_run_from_the_minimum_to_the_newest_the_template_knows(
    tmp_path: Path, minimum
):
    project = bake(tmp_path, minimum_python=minimum)

    pythons = DEFAULTS["_pythons"]
    assert python_classifiers(project) == pythons[pythons.index(minimum) :]
    assert project.pyproject["project"]["requires-python"] == f">={minimum}"


def test_every_minimum_python_choice_is_a_supported_python():
    pythons = DEFAULTS["_pythons"]
    assert set(DEFAULTS["minimum_python"]) <= set(pythons)
    assert DEFAULTS["minimum_python"][0] == pythons[0]
    assert pythons == sorted(pythons, key=lambda v: tuple(map(int, v.split("."))))


def test_every_project_says_how_mature_it_is(default_project):
    classifiers = default_project.pyproject["project"]["classifiers"]
    assert [c for c in classifiers if c.startswith("Development Status ::")]


def test_defaults_bake_my_shared_utils_with_its_package(default_project):
    assert default_project.path.name == "my-shared-utils"
    assert default_project.distribution == "my-shared-utils"
    assert default_project.package == "my_shared_utils"
    assert default_project.exists("src/my_shared_utils/py.typed")


def test_build_backend_is_hatchling_with_versions_from_git_without_local_part(
    default_project,
):
    pyproject = default_project.pyproject
    assert pyproject["build-system"]["build-backend"] == "hatchling.build"
    assert any(
        r.startswith("hatch-vcs==") for r in pyproject["build-system"]["requires"]
    )
    version = pyproject["tool"]["hatch"]["version"]
    assert version["raw-options"]["local_scheme"] == "no-local-version"


def test_proprietary_code_cannot_be_uploaded_to_public_pypi(default_project):
    pyproject = default_project.pyproject["project"]
    assert "Private :: Do Not Upload" in pyproject["classifiers"]
    assert pyproject["license"] == "LicenseRef-Proprietary"
    licence = default_project.read("LICENSE")
    assert "All rights reserved" in licence
    assert "internal use within myorg" in " ".join(licence.split())


def test_open_source_licences_ship_their_text(tmp_path: Path):
    mit = bake(tmp_path / "mit", license="MIT")
    apache = bake(tmp_path / "apache", license="Apache-2.0")

    assert mit.read("LICENSE").startswith("MIT License")
    assert "Apache License" in apache.read("LICENSE")
    assert "Private :: Do Not Upload" not in mit.pyproject["project"]["classifiers"]


def test_every_licence_names_this_year_and_the_author(tmp_path: Path):
    year = str(datetime.datetime.now(datetime.timezone.utc).year)
    for licence in ("MIT", "Apache-2.0", "Proprietary"):
        text = bake(tmp_path / licence, license=licence, author_name="Data Team")
        (copyright_line,) = [
            line
            for line in text.read("LICENSE").splitlines()
            if line.strip().startswith("Copyright")
        ]
        assert f"{year} Data Team" in copyright_line, (licence, copyright_line)


def test_every_page_the_generated_files_point_to_exists(tmp_path: Path):
    project = bake(tmp_path, **EVERYTHING_ON)
    for path in project.files():
        text = path.read_text(errors="replace")
        for page in re.findall(r"\b((?:docs/)?[\w-]+\.md)\b", text):
            relative = path.parent.relative_to(project.path) / page
            assert project.exists(page) or project.exists(str(relative)), (path, page)
    # The Dockerfile's help is in docs/docker.md, no longer in the README.
    assert "README" not in project.read("Dockerfile")


def test_no_question_or_comment_names_a_tool_the_project_does_not_use(
    default_project,
):
    questions = json.dumps(DEFAULTS["__prompts__"])
    assert "setuptools-scm" not in questions
    # `uv sync` writes an untracked uv.lock, which `nox -s publish` refuses.
    assert "uv sync" not in default_project.read("pyproject.toml")


def test_the_readme_names_the_extras_and_each_empty_extra_says_what_goes_in(
    tmp_path: Path,
):
    project = bake(tmp_path, extras="redis,postgres")

    readme = " ".join(project.read("README.md").split())
    assert 'pip install "my-shared-utils[redis,postgres]"' in readme
    assert "`redis`, `postgres`" in readme
    pyproject = project.read("pyproject.toml")
    assert 'list what it adds, e.g. ["redis>=1.0"]\nredis = []' in pyproject


def test_the_dev_group_has_what_the_docs_run(tmp_path: Path):
    for versioning in ("git-tags", "static"):
        project = bake(tmp_path / versioning, versioning=versioning)
        dev = [
            r
            for r in project.pyproject["dependency-groups"]["dev"]
            if isinstance(r, str)
        ]
        names = {Requirement(r).name for r in dev}
        assert "pre-commit" in names  # .pre-commit-config.yaml
        assert "pre-commit install" in project.read("README.md")
        # docs/docker.md computes the version with `python -m hatchling version`
        assert ({"hatchling", "hatch-vcs"} <= names) == (versioning == "git-tags")


def test_questions_that_some_answers_make_moot_say_so():
    prompts = DEFAULTS["__prompts__"]
    assert "used only when the version is static" in prompts["version"]


def test_each_runtime_extra_becomes_an_optional_dependency(tmp_path: Path):
    project = bake(tmp_path, extras="redis, postgres")

    extras = project.pyproject["project"]["optional-dependencies"]
    assert set(extras) == {"redis", "postgres"}


def test_development_tools_are_dependency_groups_not_extras(default_project):
    pyproject = default_project.pyproject

    assert "optional-dependencies" not in pyproject["project"]
    groups = pyproject["dependency-groups"]
    # and the pipeline's ci
    assert {"test", "lint", "typecheck", "build", "publish", "dev"} <= set(groups)
    included = [
        item["include-group"] for item in groups["dev"] if "include-group" in item
    ]
    assert included == ["test", "lint", "typecheck", "publish"]
    assert {"include-group": "ci"} in groups["publish"]
    assert any(spec.startswith("nox==") for spec in groups["ci"])


def test_keyring_is_skipped_where_artifacts_keyring_has_no_wheel(default_project):
    (keyring,) = [
        Requirement(spec)
        for spec in default_project.pyproject["dependency-groups"]["publish"]
        if isinstance(spec, str) and spec.startswith("artifacts-keyring")
    ]

    # artifacts-keyring 1.0.0: cp314 wheels for macOS and Windows only, no cp315.
    def wanted(python: str, platform: str) -> bool:
        return keyring.marker.evaluate(
            {"python_version": python, "sys_platform": platform}
        )

    assert wanted("3.13", "linux") and wanted("3.11", "win32")
    assert wanted("3.14", "darwin") and wanted("3.14", "win32")
    assert not wanted("3.14", "linux")
    assert not any(
        wanted("3.15", platform) for platform in ("linux", "darwin", "win32")
    )


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

    version = default_project.run(sys.executable, "-m", "hatchling", "version").stdout
    version = version.strip()

    assert version == expected


def test_static_version_is_written_in_pyproject(tmp_path: Path):
    project = bake(tmp_path, versioning="static", version="2.3.4")

    assert project.pyproject["project"]["version"] == "2.3.4"
    assert "dynamic" not in project.pyproject["project"]
