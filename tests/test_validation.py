"""The answer rules of hooks/answers.py, called directly (no baking)."""

from __future__ import annotations

import ast
import json
import re

import pytest
from cookiecutter.environment import StrictEnvironment

from hooks import answers as hook
from tests.baking import BAD_ANSWERS, TEMPLATE, default_answers

CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
CHOICES = hook.choices_of(CONTEXT)
RULES = hook.rules(CHOICES)
DEFAULTS = default_answers()

# field -> values the rule accepts
GOOD = {
    "project_name": [
        "My Shared Utils",
        "A",
        "Über Tools",
        "数据工具",
        "R&D: tools (v2)",
    ],
    "project_slug": ["a", "my-utils", "acme2-data", "x" * 36],
    "package_name": ["a", "my_utils", "acme2", "match", "x" * 36],
    "description": ["Shared helpers", "Ça marche: fast, small", "Uses {braces}"],
    "author_name": ["Platform Team", "Zoë O'Brien", "R&D"],
    "author_email": ["a@b.co", "first.last+lib@mail.example.com", "x_y%z@a-b.io"],
    "azure_organization": ["a", "contoso", "Contoso-Labs", "a" * 50],
    "azure_project": ["P", "Data Platform", "R&D (2025)", "ünï cödé", "a.b", "x" * 64],
    "feed_name": ["f", "python-internal", "Feed.v2_main", "a" * 64],
    "extras": ["", "redis", "redis,postgres", "redis, postgres", "s3-fs,a1"],
    "include_dockerfile": [True, False],
    "version": ["0", "0.1.0", "1!2.0rc1.post3.dev4", "2025.10", "1.0a1"],
    "minimum_python": CHOICES["minimum_python"],
    "license": CHOICES["license"],
    "feed_scope": CHOICES["feed_scope"],
    "versioning": CHOICES["versioning"],
    "pipeline": CHOICES["pipeline"],
    "pipeline_templates_repository": [
        "myproject/cookiecutter-azure-pylib",
        "Data Platform/templates",
    ],
}


def messages_for(**answers) -> list[str]:
    return hook.problems({**DEFAULTS, **answers}, CHOICES)


def test_the_rules_cover_every_answer_of_cookiecutter_json():
    asked = {field for field in CONTEXT if not field.startswith("_")}
    assert set(RULES) == asked
    assert set(GOOD) == asked


def test_the_defaults_of_cookiecutter_json_are_valid():
    assert hook.problems(DEFAULTS, CHOICES) == []


@pytest.mark.parametrize(
    "field, value",
    [(field, value) for field, values in GOOD.items() for value in values],
)
def test_valid_values_pass(field, value):
    assert RULES[field](value) is None
    assert messages_for(**{field: value}) == []


@pytest.mark.parametrize("field, value, rule", BAD_ANSWERS)
def test_bad_values_are_refused_with_field_value_rule_and_example(field, value, rule):
    answers = {field: value}
    if field == "project_slug":
        answers["package_name"] = "my_lib"  # derived from the slug otherwise
    (message,) = messages_for(**answers)
    assert message.startswith(f"{field} {hook.shown(value)} ")
    assert rule in message
    example = ast.literal_eval(re.search(r"\(for example (.+)\)\.$", message).group(1))
    if field == "include_dockerfile":
        example = {"yes": True}[example]
    assert hook.problem_with(example, RULES[field]) is None, f"bad example: {message}"


@pytest.mark.parametrize(
    "field, value, suggestion",
    [
        ("project_slug", "My_Pkg", "'my-pkg'"),
        ("project_slug", "acme.data__tools", "'acme-data-tools'"),
        ("package_name", "My-Pkg", "'my_pkg'"),
        ("version", "v1.2.0", "'1.2.0'"),
        ("version", "1.2.0+build5", "'1.2.0'"),
        ("description", "Shared helpers.", "'Shared helpers'"),
        ("extras", "Redis, pg_sql, test", "'redis,pg-sql'"),
    ],
)
def test_the_example_is_the_corrected_value_where_it_can_be_guessed(
    field, value, suggestion
):
    (message,) = messages_for(**{field: value})
    assert message.endswith(f"(for example {suggestion}).")


def test_every_bad_answer_is_reported_at_once():
    found = messages_for(
        project_slug="Bad Slug",
        author_email="nobody",
        feed_name="my feed",
        license="GPL",
    )
    assert [message.split()[0] for message in found] == [
        "project_slug", "author_email", "feed_name", "license",
    ]  # fmt: skip


def test_missing_or_non_text_answers_are_refused():
    answers = {**DEFAULTS, "version": 1.0}
    del answers["feed_name"]
    found = hook.problems(answers, CHOICES)
    assert found[0].startswith("feed_name None is missing")
    assert found[1].startswith("version 1.0 must be text")


def test_report_lists_each_problem_and_says_nothing_was_generated():
    report = hook.report(["a 'x' is bad (for example 'y').", "b 'z' is bad too."])
    assert report.splitlines() == [
        "cookiecutter-azure-pylib cannot use these answers:",
        "  - a 'x' is bad (for example 'y').",
        "  - b 'z' is bad too.",
        "Nothing was generated; run again with corrected answers.",
    ]


def test_the_answers_are_checked_after_every_question_and_before_the_folder():
    # cookiecutter renders `__` entries in order, after the answers before them.
    entries = [field for field in CONTEXT if field != "__prompts__"]
    assert entries[-1] == "__answers_checked"
    # Without the filter it names a variable that says what is wrong.
    assert CONTEXT["__answers_checked"].startswith(
        "{{ cookiecutter | checked_answers if 'checked_answers' is filter else"
    )
    assert "hooks.answers.AnswerChecks" in CONTEXT["_extensions"]


def test_the_check_raises_the_report_that_cookiecutter_prints_without_traceback():
    environment = StrictEnvironment(context={"cookiecutter": CONTEXT})
    template = environment.from_string(CONTEXT["__answers_checked"])
    assert template.render(cookiecutter=DEFAULTS) == ""
    with pytest.raises(hook.RefusedAnswers) as refused:
        template.render(cookiecutter={**DEFAULTS, "feed_name": "my feed"})
    assert str(refused.value) == hook.report(
        hook.problems({**DEFAULTS, "feed_name": "my feed"}, CHOICES)
    )


def test_a_long_value_is_shown_once_and_cut_short():
    long_name = "x" * 10_000
    found = messages_for(project_name=long_name, project_slug=long_name)
    report = hook.report(found)
    assert len(report) < 2_000
    assert "... (10000 characters)" in report
    assert report.count("x" * 61) == 0


@pytest.mark.parametrize("value", ["1.0\n", "tab\there", "nul\x00", "bell\x07"])
def test_control_characters_are_shown_escaped(value):
    (message,) = messages_for(version=value) or messages_for(author_name=value)
    assert repr(value) in message
    assert "\n" not in message.replace("\\n", "") and "\x00" not in message


def test_reserved_names_come_from_the_generated_environments():
    data = json.loads((TEMPLATE / "hooks" / "reserved_names.json").read_text())
    for tool in ["pytest", "pytest-cov", "coverage", "pluggy", "iniconfig", "black"]:
        assert tool in data["distributions"]
    for module in ["pytest", "_pytest", "pluggy", "pygments", "coverage", "flake8"]:
        assert module in data["packages"] or module.startswith("_")
    assert data["distributions"] == sorted(set(data["distributions"]))


@pytest.mark.slow
def test_the_reserved_names_file_is_up_to_date():
    """Needs PyPI: resolves what the baked project's environments install now."""
    from hooks import reserved_names

    data = json.loads(reserved_names.DATA_FILE.read_text(encoding="utf-8"))
    assert (
        reserved_names.current(reserved_names.minimum_python()) == data
    ), "hooks/reserved_names.json is stale: run `nox -s reserved-names`"


def test_the_post_generation_hook_reads_back_hostile_answers_exactly():
    answers = {
        **DEFAULTS,
        "author_name": 'triple quotes """ and a backslash \\ and \u2028',
        "author_email": "a@b.com\n\\",
    }
    hook_source = (TEMPLATE / "hooks" / "post_gen_project.py").read_text()
    environment = StrictEnvironment(context={"cookiecutter": CONTEXT})
    rendered = environment.from_string(hook_source).render(cookiecutter=answers)
    (assignment,) = re.findall(r'ANSWERS = (json.loads\(r""".*?"""\))', rendered, re.S)
    assert eval(assignment, {"json": json}) == answers
