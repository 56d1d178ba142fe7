"""The answer rules of hooks/pre_gen_project.py, called directly (no baking)."""

from __future__ import annotations

import ast
import json
import re

import pytest
from cookiecutter.environment import StrictEnvironment

from tests.baking import TEMPLATE, load_module

HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))


hook = load_module(HOOK, "pre_gen_project")
bake_script = load_module(TEMPLATE / "bake.py", "bake_script")
CHOICES = hook.choices_of(CONTEXT)
RULES = hook.rules(CHOICES)
DEFAULTS = bake_script.rendered_answers({}, config_file=None)

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
}

# (field, bad value, part of the rule the message must give)
BAD = [
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", " Padded", "spaces"),
    ("project_name", 'The "Best" Lib', 'must not contain "'),
    ("project_name", "C:\\tools", 'must not contain "'),
    ("project_name", "Two\nlines", "printable"),
    ("project_name", "Tab\there", "printable"),
    ("project_name", "Bell\x07", "printable"),
    ("project_name", "x" * 101, "at most 100"),
    ("description", "", "must not be empty"),
    ("description", "Ends with a full stop.", "must not end with"),
    ("description", "Exciting!", "must not end with"),
    ("description", 'Say "hi"', 'must not contain "'),
    ("description", "Zero\u200bwidth", "printable"),
    ("description", "d" * 201, "at most 200"),
    ("author_name", "", "must not be empty"),
    ("author_name", 'A "nick" name', 'must not contain "'),
    ("author_name", "Line\u2028separator", "printable"),
    ("project_slug", "", "is empty"),
    ("project_slug", "My_Pkg", "normalised distribution name"),
    ("project_slug", "my.pkg", "normalised distribution name"),
    ("project_slug", "my--pkg", "normalised distribution name"),
    ("project_slug", "-pkg", "normalised distribution name"),
    ("project_slug", "pkg-", "normalised distribution name"),
    ("project_slug", "über", "normalised distribution name"),
    ("project_slug", "x" * 37, "at most 36"),
    ("package_name", "", "identifier"),
    ("package_name", "my-pkg", "identifier"),
    ("package_name", "1pkg", "identifier"),
    ("package_name", "_private", "identifier"),
    ("package_name", "MyPkg", "identifier"),
    ("package_name", "paquet_é", "identifier"),
    ("package_name", "import", "keyword"),
    ("package_name", "async", "keyword"),
    ("package_name", "json", "standard library"),
    ("package_name", "test", "standard library"),
    ("package_name", "distutils", "standard library"),
    ("package_name", "annotationlib", "standard library"),
    ("package_name", "tests", "would shadow a tool"),
    ("package_name", "pytest", "would shadow a tool"),
    ("package_name", "x" * 37, "at most 36"),
    ("author_email", "", "one plain address"),
    ("author_email", "team", "one plain address"),
    ("author_email", "team@localhost", "one plain address"),
    ("author_email", "a@@b.com", "one plain address"),
    ("author_email", "a b@c.com", "one plain address"),
    ("author_email", '"a"@b.com', "one plain address"),
    ("author_email", "a@b.com ", "one plain address"),
    ("author_email", "a..b@c.com", "one plain address"),
    ("author_email", "a@-b.com", "one plain address"),
    ("azure_organization", "", "organization name"),
    ("azure_organization", "my org", "organization name"),
    ("azure_organization", "-org", "organization name"),
    ("azure_organization", "org-", "organization name"),
    ("azure_organization", "org_name", "organization name"),
    ("azure_organization", "örg", "organization name"),
    ("azure_organization", "a" * 51, "organization name"),
    ("azure_project", "", "must not be empty"),
    ("azure_project", " Lead", "spaces"),
    ("azure_project", "_private", "must not start with '_'"),
    ("azure_project", ".hidden", "must not start with '_' or '.'"),
    ("azure_project", "trailing.", "nor end with '.'"),
    ("azure_project", "a/b", "must not contain /"),
    ("azure_project", "C#", "must not contain #"),
    ("azure_project", "it's", "must not contain '"),
    ("azure_project", "a,b", "must not contain ,"),
    ("azure_project", "Web", "reserves"),
    ("azure_project", "com1", "reserves"),
    ("azure_project", "App_Data", "reserves"),
    ("azure_project", "Two\nlines", "printable"),
    ("azure_project", "x" * 65, "at most 64"),
    ("feed_name", "", "feed name"),
    ("feed_name", ".feed", "feed name"),
    ("feed_name", "_feed", "feed name"),
    ("feed_name", "feed.", "feed name"),
    ("feed_name", "my feed", "feed name"),
    ("feed_name", "feed@Release", "feed name"),
    ("feed_name", "a" * 65, "at most 64"),
    ("extras", ",", "empty name"),
    ("extras", "redis,,pg", "empty name"),
    ("extras", "Redis", "not normalised"),
    ("extras", "pg_sql", "not normalised"),
    ("extras", "a.b", "not normalised"),
    ("extras", "redis,redis", "more than once"),
    ("extras", "test", "must not redefine test"),
    ("extras", "redis,dev,lint", "must not redefine dev, lint"),
    ("include_dockerfile", "yes", "yes or no"),
    ("version", "", "PEP 440"),
    ("version", "v1.0.0", "PEP 440"),
    ("version", "1.0.0+local", "local segment"),
    ("version", "1.0-beta", "PEP 440"),
    ("version", "01.0", "PEP 440"),
    ("version", "1.0 ", "PEP 440"),
    ("version", "1." + "0." * 64 + "0", "at most 128"),
    ("minimum_python", "3.10", "must be one of 3.11"),
    ("license", "GPL-3.0", "must be one of Proprietary, MIT, Apache-2.0"),
    ("feed_scope", "Project", "must be one of project, organization"),
    ("versioning", "tags", "must be one of git-tags, static"),
]


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


@pytest.mark.parametrize("field, value, rule", BAD)
def test_bad_values_are_refused_with_field_value_rule_and_example(field, value, rule):
    (message,) = messages_for(**{field: value})
    assert message.startswith(f"{field} {value!r} ")
    assert rule in message
    example = ast.literal_eval(re.search(r"\(for example (.+)\)\.$", message).group(1))
    if field == "include_dockerfile":
        example = {"yes": True}[example]
    assert RULES[field](example) is None, f"the example is bad too: {message}"


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


def test_the_hook_has_no_template_code_but_the_answers_and_choices_lines():
    source = HOOK.read_text(encoding="utf-8")
    expressions = re.findall(r"\{\{.*?\}\}", source)
    assert expressions == [
        "{{ cookiecutter | jsonify }}",
        "{{ _cookiecutter | default({}) | jsonify }}",
    ]
    assert source.count("{{") == 2
    assert "{%" not in source and "{#" not in source


def test_the_rendered_hook_reads_back_hostile_answers_exactly():
    answers = {
        **DEFAULTS,
        "description": 'ends in triple quotes """ and a backslash \\',
        "author_name": "line\nbreak, tab\t, unicode Zoë, raw \\n",
    }
    environment = StrictEnvironment(context={"cookiecutter": answers})
    rendered = environment.from_string(HOOK.read_text(encoding="utf-8")).render(
        cookiecutter=answers
    )
    namespace = {"__name__": "rendered_hook"}
    exec(compile(rendered, "rendered_hook.py", "exec"), namespace)
    (expression,) = re.findall(r'ANSWERS = (json.loads\(r""".*?"""\))', rendered, re.S)
    parsed = eval(expression, namespace)
    assert parsed == answers
