"""Baking over a folder that is there (-f) writes only inside it, only regular
files, and commits only what the template generated; no source of answers
switches the checks off; a bake leaves no copy of the answers behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks import answers as rules
from hooks.generated import generated_files
from tests.baking import (
    REPORT_HEADER,
    TEMPLATE,
    cookiecutter_config,
    default_answers,
    isolated_git_env,
    run_cookiecutter,
)

SLUG = "my-shared-utils"
FILES = generated_files(TEMPLATE, default_answers())
FOLDERS = sorted({"/".join(f.split("/")[:d]) for f in FILES
                  for d in range(1, f.count("/") + 1)})  # fmt: skip
FOLDER_REFUSAL = "cookiecutter-azure-pylib cannot generate into "


def state(*folders: Path) -> dict[str, object]:
    """Every path under the folders, as lstat sees it: links with their target,
    files with their bytes."""
    seen: dict[str, object] = {}
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            if path.is_symlink():
                seen[str(path)] = ("link", os.readlink(path))
            elif path.is_file():
                seen[str(path)] = ("file", path.read_bytes())
            else:
                seen[str(path)] = ("folder",)
    return seen


def bake_over(output_dir: Path, **answers) -> str:
    """`cookiecutter -f` into output_dir; the refusal's message."""
    with pytest.raises(rules.RefusedAnswers) as refused:
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers,
            output_dir=str(output_dir), overwrite_if_exists=True,
            config_file=str(cookiecutter_config(output_dir.parent)),
        )  # fmt: skip
    return str(refused.value)


# What a test plants where the template writes: (path, kind).
PLANTS = st.one_of(
    st.tuples(st.sampled_from(FILES + FOLDERS), st.just("link")),
    st.tuples(st.sampled_from(FOLDERS), st.just("file")),
    st.tuples(st.sampled_from(FILES), st.just("folder")),
)


def independent(plants: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Plants none of which lies inside another."""
    kept: list[tuple[str, str]] = []
    for path, kind in sorted(set(plants)):
        if not any(path == k or path.startswith(k + "/") for k, _ in kept):
            kept.append((path, kind))
    return kept


@pytest.mark.slow  # 40 bakes; the structure tests keep the single cases below
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(plants=st.lists(PLANTS, min_size=1, max_size=5).map(independent))
def test_f_refuses_links_and_type_clashes_before_writing_anything(plants):
    with tempfile.TemporaryDirectory() as scratch:
        output_dir, outside = Path(scratch) / "out", Path(scratch) / "outside"
        project = output_dir / SLUG
        project.mkdir(parents=True)
        outside.mkdir()
        (outside / "kept.txt").write_text("the user's own file elsewhere\n")
        (project / "notes.txt").write_text("the user's own file\n")
        for path, kind in plants:
            planted = project / path
            planted.parent.mkdir(parents=True, exist_ok=True)
            if kind == "link":
                planted.symlink_to(outside, target_is_directory=True)
            elif kind == "file":
                planted.write_text("a file where the template has a folder\n")
            else:
                planted.mkdir()
        before = state(output_dir, outside)

        message = bake_over(output_dir)

        assert message.startswith(f"{FOLDER_REFUSAL}{project}:")
        for path, kind in plants:
            assert f"\n  - {path} is a " in message, (path, kind, message)
        assert state(output_dir, outside) == before


def test_f_into_a_folder_that_is_a_link_to_another_repository_is_refused(tmp_path):
    elsewhere = tmp_path / "other-repository"
    elsewhere.mkdir()
    (elsewhere / "pyproject.toml").write_text("[project]\nname = 'other'\n")
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / SLUG).symlink_to(elsewhere, target_is_directory=True)
    before = state(output_dir, elsewhere)

    message = bake_over(output_dir)

    assert f"  - {output_dir / SLUG} is a symbolic link to {elsewhere}" in message
    assert state(output_dir, elsewhere) == before


def test_a_folder_that_differs_only_in_case_is_refused(tmp_path):
    output_dir = tmp_path / "out"
    (output_dir / "My-Shared-Utils").mkdir(parents=True)
    (output_dir / "My-Shared-Utils" / "README.md").write_text("another project\n")
    before = state(output_dir)

    message = bake_over(output_dir)

    assert "  - My-Shared-Utils differs from my-shared-utils only in case" in message
    assert state(output_dir) == before


@pytest.mark.parametrize(
    "answers",
    [
        {"__answers_checked": "", "project_slug": "../escaped"},
        {"__answers_checked": "off", "feed_name": "has space"},
        {"_template_version": "1.0.0\nextra: key"},
        {"_pythons": []},
        {"_pythons": ["3.12", "3.13"]},  # the minimum, 3.11, left out
    ],
    ids=["checked-flag-with-bad-slug", "checked-flag-with-bad-feed",
         "newline-in-template-version", "no-pythons", "minimum-not-tested"],
)  # fmt: skip
def test_no_answer_switches_the_checks_off_or_bends_a_private_variable(
    tmp_path, answers
):
    output_dir = tmp_path / "out"

    with pytest.raises(rules.RefusedAnswers) as refused:
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers,
            output_dir=str(output_dir),
            config_file=str(cookiecutter_config(tmp_path)),
        )  # fmt: skip

    assert str(refused.value).startswith(REPORT_HEADER)
    field = next(k for k in answers if k != "__answers_checked")
    assert f"  - {field} " in str(refused.value)
    assert not (tmp_path / "escaped").exists()
    assert not output_dir.exists() or not any(output_dir.iterdir())


@pytest.mark.slow  # the cookiecutter command line and git
def test_a_config_file_cannot_switch_the_checks_off_either(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(
        'default_context:\n  __answers_checked: ""\n  project_slug: "../escaped"\n'
        f"replay_dir: {json.dumps(str(tmp_path / 'replay'))}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE),
         "--config-file", str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 1
    assert REPORT_HEADER in result.stdout + result.stderr
    assert "__answers_checked '' in " in result.stdout  # refused before rendering
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no replay


def git(cwd: Path, env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(["git", *arguments], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


@pytest.mark.slow  # the cookiecutter command line and git
def test_the_first_commit_of_f_into_a_folder_holds_only_generated_files(tmp_path):
    project = tmp_path / SLUG
    project.mkdir()
    (project / "secrets.json").write_text('{"token": "not for git"}\n')
    env = isolated_git_env(tmp_path / "home")

    done = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-f", str(TEMPLATE),
         "--config-file", str(cookiecutter_config(tmp_path))],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    committed = git(project, env, "ls-files").splitlines()
    assert sorted(committed) == sorted(FILES)
    assert (project / "secrets.json").exists()
    assert git(project, env, "status", "--porcelain") == "?? secrets.json"


@pytest.mark.slow  # the cookiecutter command line and git
def test_the_hook_commits_into_the_new_project_whatever_git_variables_say(tmp_path):
    env = isolated_git_env(tmp_path / "home")
    other = tmp_path / "other"
    other.mkdir()
    git(other, env, "init", "--quiet", "--initial-branch=main")
    (other / "README.md").write_text("another repository\n")
    git(other, env, "add", "README.md")
    git(other, env, "commit", "--quiet", "-m", "Other's first commit")
    head = git(other, env, "rev-parse", "HEAD")
    pointed = {
        **env,
        "GIT_DIR": str(other / ".git"),
        "GIT_WORK_TREE": str(other),
        "GIT_INDEX_FILE": str(other / ".git" / "index"),
    }

    result = run_cookiecutter(tmp_path / "bakes", "-o", str(tmp_path / "bakes"),
                              env=pointed)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert git(other, env, "rev-parse", "HEAD") == head
    assert git(other, env, "status", "--porcelain") == ""
    project = tmp_path / "bakes" / SLUG
    assert git(project, env, "log", "--format=%s") == (
        "Initial commit from cookiecutter-azure-pylib"
    )


@pytest.mark.slow  # the cookiecutter command line and git
def test_a_bake_leaves_nothing_in_the_temporary_folder(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**isolated_git_env(tmp_path / "home"), "TMPDIR": str(temporary)}

    result = run_cookiecutter(tmp_path / "bakes", "-o", str(tmp_path / "bakes"),
                              "project_name=Answers Stay Home", env=env)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert list(temporary.rglob("*")) == []  # neither hook's rendered copy


# --- free text that must not turn into code or markup ------------------------

YAML_INDICATORS = "@!%`&*|>?-#"


@pytest.mark.slow  # 12 bakes
@settings(max_examples=12, deadline=None)
@given(
    project=st.builds(
        lambda first, rest: first + rest,
        st.sampled_from([*YAML_INDICATORS, "- ", "? "]),
        st.text("abcdeXYZ 0129-", min_size=1, max_size=12),
    ).filter(lambda name: rules.project_name(name) is None),
    slug=st.sampled_from(["yes", "no", "null", "on", "off", "true", "012", "1e3"]),
    pipeline=st.sampled_from(["self-contained", "shared"]),
)
def test_every_templated_yaml_scalar_stays_the_string_it_was(project, slug, pipeline):
    with tempfile.TemporaryDirectory() as scratch:
        baked = Path(
            cookiecutter(
                str(TEMPLATE), no_input=True, output_dir=scratch,
                config_file=str(cookiecutter_config(Path(scratch))),
                extra_context={"azure_project": project, "project_slug": slug,
                               "package_name": "lib", "pipeline": pipeline},
            )
        )  # fmt: skip
        if pipeline == "shared":
            pipeline_file = yaml.safe_load((baked / "azure-pipelines.yml").read_text())
            (resource,) = pipeline_file["resources"]["repositories"]
            assert resource["name"] == f"{project}/cookiecutter-azure-pylib"
            shared = yaml.safe_load((baked / "azure-pipelines.yml").read_text())
            assert shared["extends"]["parameters"]["image"] == slug
