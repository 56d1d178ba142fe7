"""Bad answers are refused with our message, and nothing is left on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from tests.baking import TEMPLATE, bake
from tests.test_validation import BAD, CHOICES, bake_script

REPORT_HEADER = "cookiecutter-azure-pylib cannot use these answers:"
# cookiecutter turns these into other values, or refuses them itself, before
# the hook runs: bake.py checks them (see the tests below).
CHECKED_BEFORE_THE_HOOK = {*CHOICES, "include_dockerfile"}
HOOK_CASES = [
    case
    for case in BAD
    if case[0] not in CHECKED_BEFORE_THE_HOOK and case[:2] != ("project_slug", "")
]


def cookiecutter_config(folder: Path) -> Path:
    """A user config that keeps replay files inside the test's folder."""
    config = folder / "cookiecutter-config.yaml"
    config.write_text(f"replay_dir: '{folder / 'replay'}'\n")
    return config


def left_behind(output_dir: Path) -> list[str]:
    """What a bake left in its output folder, besides the test's own config."""
    if not output_dir.exists():
        return []
    ignored = {"cookiecutter-config.yaml", "replay"}
    return sorted(
        path.name for path in output_dir.iterdir() if path.name not in ignored
    )


@pytest.mark.parametrize("field, value, rule", HOOK_CASES)
def test_bad_answer_is_refused_by_the_hook_with_nothing_left_behind(
    tmp_path, capfd, field, value, rule
):
    answers = {field: value}
    if field == "project_name":
        answers["project_slug"] = "my-lib"  # keep the folder name valid
    with pytest.raises(FailedHookException):
        bake(tmp_path, **answers)
    errors = capfd.readouterr().err
    assert errors.startswith(REPORT_HEADER)
    assert f"  - {field} {value!r} " in errors and rule in errors
    assert left_behind(tmp_path) == []


def run_bake_script(tmp_path: Path, *arguments: str, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, str(TEMPLATE / "bake.py"), *arguments,
         "--config-file", str(cookiecutter_config(tmp_path))],
        input=stdin, capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"}, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "answer, message",
    [
        ("license=GPL-3.0", "license 'GPL-3.0' must be one of Proprietary, MIT"),
        ("minimum_python=3.9", "minimum_python '3.9' must be one of 3.11"),
        ("feed_scope=team", "feed_scope 'team' must be one of project, organization"),
        ("versioning=calver", "versioning 'calver' must be one of git-tags, static"),
        ("include_dockerfile=maybe", "include_dockerfile 'maybe' must be yes or no"),
        ("project_name=!!!", "project_slug '' is empty"),
        ("project_name=🚀", "project_slug '' is empty"),
        ("project_slug=", "project_slug '' is empty"),
        ("projet_name=Typo", "'projet_name' is not an answer of this template"),
        ("description=Costs {{ price }}", "description 'Costs {{ price }}' must not"),
        ("version={% if x %}", "version '{% if x %}' must not contain"),
    ],
)
def test_bake_script_refuses_what_cookiecutter_would_crash_on(
    tmp_path, answer, message
):
    result = run_bake_script(tmp_path, "--no-input", answer, "-o", "out")
    assert result.returncode == 2
    assert result.stderr.startswith(REPORT_HEADER)
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "out").exists()


def test_bake_script_prints_only_our_message_for_every_bad_answer(tmp_path):
    result = run_bake_script(
        tmp_path, "--no-input", "-o", "out",
        "author_email=nobody", "feed_name=my feed", "extras=test",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == REPORT_HEADER
    assert [line.split()[1] for line in lines[1:-1]] == [
        "author_email", "feed_name", "extras",
    ]  # fmt: skip
    assert lines[-1] == "Nothing was generated; run again with corrected answers."
    assert not (tmp_path / "out").exists()


def test_bake_script_when_prompting_prints_only_the_hooks_message(tmp_path):
    # Enter through the prompts, answering only the organization (7th question).
    answers = "\n" * 6 + "my org\n" + "\n" * 20
    result = run_bake_script(tmp_path, "-o", "out", stdin=answers)
    assert result.returncode == 2
    assert result.stderr.startswith(REPORT_HEADER)
    assert "azure_organization 'my org' must be an Azure DevOps organization" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "Stopping generation" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_bake_script_bakes_good_answers_and_refuses_to_bake_over_them(tmp_path):
    baked = run_bake_script(tmp_path, "--no-input", "-o", "out", "feed_name=libs")
    assert baked.returncode == 0, baked.stderr
    project = Path(baked.stdout.strip())
    assert project == tmp_path / "out" / "my-shared-utils"
    (project / "NOTES.md").write_text("mine\n")
    (project / "README.md").write_text("edited\n")

    refused = run_bake_script(tmp_path, "--no-input", "-o", "out")
    assert refused.returncode == 2
    assert refused.stderr == (
        "out/my-shared-utils already exists: nothing was changed. Choose another"
        " output folder, or pass -f to generate the template's files over it.\n"
    )
    assert (project / "README.md").read_text() == "edited\n"

    overwritten = run_bake_script(tmp_path, "--no-input", "-o", "out", "-f")
    assert overwritten.returncode == 0, overwritten.stderr
    assert (project / "README.md").read_text() != "edited\n"
    assert (project / "NOTES.md").read_text() == "mine\n"


def run_cookiecutter(tmp_path: Path, *arguments: str):
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE),
         "--config-file", str(cookiecutter_config(tmp_path)), *arguments],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip


def test_plain_cookiecutter_shows_our_message_first_and_leaves_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    result = run_cookiecutter(tmp_path, "-o", "out", "azure_organization=my org")
    assert result.returncode != 0
    assert result.stderr.startswith(REPORT_HEADER)
    assert "azure_organization 'my org' must be an Azure DevOps organization" in (
        result.stderr
    )
    assert left_behind(tmp_path / "out") == []


def test_plain_cookiecutter_refuses_an_existing_folder_unless_told_to_overwrite(
    tmp_path,
):
    existing = tmp_path / "out" / "my-shared-utils"
    existing.mkdir(parents=True)
    (existing / "NOTES.md").write_text("mine\n")

    refused = run_cookiecutter(tmp_path, "-o", "out")
    assert refused.returncode != 0
    assert "already exists" in refused.stdout + refused.stderr
    assert left_behind(existing) == ["NOTES.md"]

    # Even with -f, bad answers stop before a single file is written.
    bad_answers = run_cookiecutter(tmp_path, "-o", "out", "-f", "feed_name=my feed")
    assert bad_answers.returncode != 0
    assert bad_answers.stderr.startswith(REPORT_HEADER)
    assert left_behind(existing) == ["NOTES.md"]


def test_bake_script_checks_are_the_hook_rules(tmp_path):
    """bake.py refuses exactly what the hook refuses, with the same sentences."""
    answers = {"author_email": "nobody", "feed_name": "my feed"}
    with pytest.raises(bake_script.Refused) as refused:
        bake_script.bake(
            answers, tmp_path / "out", config_file=str(cookiecutter_config(tmp_path))
        )
    rendered = bake_script.rendered_answers(answers, config_file=None)
    rules = bake_script.load_rules()
    assert str(refused.value) == rules.report(rules.problems(rendered, CHOICES))
    assert not (tmp_path / "out").exists()
