"""Bad answers are refused with our message, and nothing is left on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hooks import answers as rules
from tests.baking import (
    BAD_ANSWERS,
    DEFAULTS,
    default_answers,
    REPORT_HEADER,
    bake,
    cookiecutter_config,
    left_behind,
    load_module,
    run_bake_script,
    run_cookiecutter,
    TEMPLATE,
)

bake_script = load_module(TEMPLATE / "bake.py", "bake_script")
CHOICES = rules.choices_of(DEFAULTS)
# cookiecutter turns these into other values, or refuses them itself, before
# the template's check runs: bake.py checks them (see the tests below).
CHECKED_BY_COOKIECUTTER = {*CHOICES, "include_dockerfile"}
# cookiecutter renders answers as templates before the check sees them.
CHECKED_ANSWERS = [
    (field, value, rule)
    for field, value, rule in BAD_ANSWERS
    if field not in CHECKED_BY_COOKIECUTTER
    and not any(mark in value for mark in rules.TEMPLATE_SYNTAX)
]


def snapshot(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under `folder`, with size and modification time for files."""
    return {
        str(path.relative_to(folder)): (
            (path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else None
        )
        for path in [folder, *folder.rglob("*")]
    }


@pytest.mark.parametrize("field, value, rule", CHECKED_ANSWERS)
def test_bad_answer_is_refused_before_anything_is_created(tmp_path, field, value, rule):
    answers = {field: value}
    if field == "project_name":
        answers["project_slug"] = "my-lib"  # keep the folder name valid
    if field == "project_slug":
        answers["package_name"] = "my_lib"
    output_dir = tmp_path / "out"
    with pytest.raises(rules.RefusedAnswers) as refused:
        bake(output_dir, **answers)
    message = str(refused.value)
    assert message.startswith(REPORT_HEADER)
    assert f"  - {field} {rules.shown(value)} " in message and rule in message
    assert left_behind(output_dir) == []
    assert not (output_dir / "replay").exists()


@pytest.mark.parametrize(
    "route", ["cookiecutter", "bake.py --no-input", "bake.py prompting"]
)
@pytest.mark.parametrize("slug", ["..", "../..", "a/../..", "."])
def test_a_project_folder_outside_the_output_folder_deletes_nothing(
    tmp_path, route, slug
):
    work = tmp_path / "d" / "work"
    work.mkdir(parents=True)
    (work / "important.txt").write_text("keep me\n")
    (tmp_path / "d" / "also-important.txt").write_text("keep me too\n")
    before = snapshot(tmp_path / "d")
    if route == "cookiecutter":
        result = run_cookiecutter(work, "-o", "newout", f"project_slug={slug}")
    elif route == "bake.py --no-input":
        result = run_bake_script(
            work, "--no-input", "-o", "newout", f"project_slug={slug}"
        )
    else:  # every question answered with its default
        result = run_bake_script(
            work, "-o", "newout", f"project_slug={slug}", stdin="\n" * 40
        )
    (work / "cookiecutter-config.yaml").unlink()
    assert result.returncode != 0
    assert "project_slug " + repr(slug) in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert snapshot(tmp_path / "d") == before


@pytest.mark.parametrize(
    "answer, shown",
    [
        ("project_slug=a/b", "project_slug 'a/b'"),
        ("project_name=" + "x" * 10_000, "... (10000 characters)"),
        ("project_slug=con", "project_slug 'con' is a device name Windows reserves"),
        ("version=1.0\n", "version '1.0\\n' must be one line of printable"),
        ("project_name=Pluggy", "project_slug 'pluggy' is the name of a tool"),
    ],
)
def test_plain_cookiecutter_refuses_with_our_message_only_and_creates_nothing(
    tmp_path, answer, shown
):
    result = run_cookiecutter(tmp_path, "-o", "out", answer)
    assert result.returncode == 1
    assert result.stdout.startswith(REPORT_HEADER)
    assert shown in result.stdout
    assert len(result.stdout) < 3_000
    assert "Traceback" not in result.stdout + result.stderr
    assert left_behind(tmp_path) == []


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


def test_bake_script_lists_command_line_and_answer_problems_in_one_run(tmp_path):
    result = run_bake_script(
        tmp_path, "--no-input", "-o", "out",
        "feed=libs", "project_slug=My_Pkg", "license=GPL", "feed_name=my feed",
    )  # fmt: skip

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == REPORT_HEADER
    assert [line.split()[1] for line in lines[1:-1]] == [
        "'feed'", "license", "project_slug", "feed_name",
    ]  # fmt: skip
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


def test_plain_cookiecutter_shows_only_our_message_and_leaves_nothing(tmp_path):
    (tmp_path / "out").mkdir()
    result = run_cookiecutter(tmp_path, "-o", "out", "azure_organization=my org")
    assert result.returncode == 1
    assert result.stdout.startswith(REPORT_HEADER)
    assert "azure_organization 'my org' must be an Azure DevOps organization" in (
        result.stdout
    )
    assert result.stderr == ""
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
    assert bad_answers.stdout.startswith(REPORT_HEADER)
    assert left_behind(existing) == ["NOTES.md"]


def test_bake_script_checks_are_the_template_rules(tmp_path):
    """bake.py refuses exactly what cookiecutter refuses, with the same sentences."""
    answers = {"author_email": "nobody", "feed_name": "my feed"}
    with pytest.raises(bake_script.Refused) as refused:
        bake_script.bake(
            answers, tmp_path / "out", config_file=str(cookiecutter_config(tmp_path))
        )
    found = rules.problems({**default_answers(), **answers}, CHOICES)
    assert str(refused.value) == rules.report(found)
    assert not (tmp_path / "out").exists()


def test_bake_script_says_so_when_the_input_ends_before_the_questions(tmp_path):
    result = run_bake_script(tmp_path, "-o", "out", stdin="My Lib\n")
    assert result.returncode == 2
    assert "input ended before every question was answered" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def recorded_answers(tmp_path_factory) -> dict:
    """The replay file cookiecutter writes for a bake from the defaults."""
    folder = tmp_path_factory.mktemp("recorded")
    run_cookiecutter(folder)
    (recorded,) = (folder / "replay").glob("*.json")
    return json.loads(recorded.read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    "extensions", [[], ["cookiecutter.extensions.SlugifyExtension"], None]
)
def test_a_replay_file_without_the_answer_checks_generates_nothing_anywhere(
    tmp_path, recorded_answers, extensions
):
    """cookiecutter loads hooks/answers.py only if `_extensions` names it; a
    replay file may say otherwise (None: the key removed)."""
    replayed = json.loads(json.dumps(recorded_answers))
    replayed["cookiecutter"].update(project_slug="../escaped", package_name="x")
    if extensions is None:
        del replayed["cookiecutter"]["_extensions"]
    else:
        replayed["cookiecutter"]["_extensions"] = extensions
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(replayed))
    (tmp_path / "out").mkdir()
    before = snapshot(tmp_path)

    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--config-file",
         str(cookiecutter_config(tmp_path)), "--replay-file", str(edited),
         "-o", "out/in"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "nothing checked them" in output or REPORT_HEADER in output, output
    assert not (tmp_path / "out" / "escaped").exists()
    # What this covers is the output folder; cookiecutter writes its replay
    # file before any check or hook can run.
    added = set(snapshot(tmp_path)) - set(before) - {"cookiecutter-config.yaml"}
    added -= {"replay", "replay/edited.json"}
    assert added <= {"out/in"}  # the output folder, made before the hook runs


def user_config(folder: Path, answers: str) -> Path:
    """A cookiecutter config whose default_context is the YAML lines given."""
    config = cookiecutter_config(folder)
    config.write_text(config.read_text() + "default_context:\n" + answers)
    return config


# YAML reads 1.10 as the number 1.1 and 3.12 as a number that is not one of
# the choices, which makes cookiecutter ignore it and every answer after it.
UNQUOTED = "  version: 1.10\n  minimum_python: 3.12\n  feed_name: team-feed\n"


@pytest.mark.parametrize("route", ["--config-file", "COOKIECUTTER_CONFIG", "bake.py"])
def test_a_config_answer_yaml_would_change_is_refused_naming_the_file(tmp_path, route):
    config = user_config(tmp_path, UNQUOTED)
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE)]
    env = {**os.environ, "HOME": str(tmp_path)}
    if route == "bake.py":
        command = [sys.executable, str(TEMPLATE / "bake.py"), "--no-input"]
    if route == "COOKIECUTTER_CONFIG":
        env["COOKIECUTTER_CONFIG"] = str(config)
    else:
        command += ["--config-file", config.name]
    result = subprocess.run(
        [*command, "-o", "out"], capture_output=True, text=True, cwd=tmp_path,
        env=env, timeout=120,
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert result.returncode == (2 if route == "bake.py" else 1), output
    assert REPORT_HEADER in output
    assert (
        f"version '1.10' in {config if route == 'COOKIECUTTER_CONFIG' else config.name}"
        " is read by YAML as the number 1.1, not as the text written: quote it"
        ' (for example version: "1.10").'
    ) in output
    assert "minimum_python '3.12' in " in output
    assert "Traceback" not in output
    assert sorted(path.name for path in tmp_path.iterdir()) == [config.name]


def test_quoted_config_answers_arrive_exactly_as_written(tmp_path):
    quoted = UNQUOTED.replace(": ", ': "').replace("\n", '"\n')
    config = user_config(
        tmp_path, quoted + "  versioning: static\n  include_dockerfile: 'no'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE),
         "--config-file", str(config), "-o", "out"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    pyproject = (tmp_path / "out" / "my-shared-utils" / "pyproject.toml").read_text()
    assert 'version = "1.10"' in pyproject
    assert 'requires-python = ">=3.12"' in pyproject
    assert 'feed = "team-feed"' in pyproject
    assert not (tmp_path / "out" / "my-shared-utils" / "Dockerfile").exists()


def test_a_config_that_drops_the_answer_checks_generates_nothing(tmp_path):
    """Without hooks.answers in `_extensions` Jinja has no `checked_answers`
    filter: cookiecutter.json then asks for a variable whose name says what is
    wrong, before the replay file or any folder is written."""
    config = user_config(tmp_path, "  _extensions: []\n")
    (tmp_path / "out").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE),
         "--config-file", str(config), "-o", "out", "project_slug=a/../../escaped"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "'_extensions does not name hooks.answers.AnswerChecks, so nothing would"
            " check the answers: nothing is generated. Keep _extensions as"
            " cookiecutter.json has it'"
        )
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == [config.name, "out"]
    assert list((tmp_path / "out").iterdir()) == []


def test_plain_cookiecutter_refuses_template_code_and_unknown_names_before_rendering(
    tmp_path,
):
    """cookiecutter would render `{{ 7*7 }}` as 49, end an unfinished `{{` in
    Jinja's traceback, and ignore (or, for `_pythons`, apply) names that are no
    question: the answer checks see its command line first."""
    given = ["description={{ 7*7 }}", "project_name=Lib {{", "feed=libs",
             "_pythons=3.13", "__answers_checked=off"]  # fmt: skip
    result = run_cookiecutter(tmp_path, "-o", "out", *given)
    assert result.returncode == 1
    assert result.stdout.startswith(REPORT_HEADER)
    for shown in ["description '{{ 7*7 }}' must not contain", "project_name 'Lib {{'",
                  "'feed' is not an answer", "'_pythons' is not an answer",
                  "'__answers_checked' is not an answer"]:  # fmt: skip
        assert shown in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert left_behind(tmp_path) == []
    assert not (tmp_path / "replay").exists()


@pytest.mark.parametrize("slug, baked", [("older-lib", True), ("../escaped", False)])
def test_a_replay_file_from_before_the_answer_checks_is_checked_when_replayed(
    tmp_path, recorded_answers, slug, baked
):
    """A replay file written before `__answers_checked` existed: cookiecutter
    renders that one variable alone, without the template's `_extensions`."""
    replayed = json.loads(json.dumps(recorded_answers))
    del replayed["cookiecutter"]["__answers_checked"]
    replayed["cookiecutter"].update(project_slug=slug, package_name="older_lib")
    older = tmp_path / "older.json"
    older.write_text(json.dumps(replayed))

    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(TEMPLATE), "--config-file",
         str(cookiecutter_config(tmp_path)), "--replay-file", str(older), "-o", "out"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if baked:
        assert result.returncode == 0, output
        assert (tmp_path / "out" / "older-lib" / "pyproject.toml").is_file()
    else:
        assert result.returncode == 1
        assert result.stdout.startswith(REPORT_HEADER)
        assert "project_slug '../escaped'" in result.stdout
        assert not (tmp_path / "escaped").exists()
