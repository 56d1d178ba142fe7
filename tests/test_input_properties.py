"""Every answer set is either refused with a message naming the field, or bakes
into a project that passes the core static checks: never anything in between,
and never a change on disk outside the new project folder.

Each generated answer set goes through one route in turn, in-process so that
a thousand of them fit in CI: cookiecutter's API, cookiecutter's command line,
bake.py --no-input and bake.py answering every prompt from stdin.
"""

from __future__ import annotations

import io
import itertools
import json
import string
import sys
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from click.testing import CliRunner
from cookiecutter.cli import main as cookiecutter_cli
from cookiecutter.exceptions import UndefinedVariableInTemplate
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from hypothesis import HealthCheck, Phase, assume, event, example, given, settings
from hypothesis import strategies as st
import yaml
from jinja2 import TemplateError
from markdown_it import MarkdownIt

from hooks import answers as rules
from hooks.markdown import markdown_code, markdown_text
from tests.baking import (
    REPORT_HEADER,
    TEMPLATE,
    BakedProject,
    bake,
    cookiecutter_config,
    load_module,
)
from tests.static_checks import assert_static_checks_pass

bake_script = load_module(TEMPLATE / "bake.py", "bake_script")
CONTEXT = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
KNOWN_FIELDS = {field for field in CONTEXT if not field.startswith("_")}
RESERVED = json.loads((TEMPLATE / "hooks" / "reserved_names.json").read_text())

FRIENDLY = string.ascii_letters + string.digits + " -_."
HOSTILE = "\"'\\\n\t\x00\x7f{}#%&/:;<>|@+=,!?()[]*$~`éßØ数語🚀\u200b\u00a0\u2028"
# Characters that look like ASCII letters, digits or separators but are not.
CONFUSABLES = "аеорсух" + "ＡＢａｂ０１" + "ıſK" + "‐‑–—" + "․"
CONTROL = "".join(map(chr, range(32))) + "\x7f\x85\u2028\u2029\u200b\ufeff"
PATH_SEGMENTS = ["..", ".", "../..", "a/b", "a/../..", "/tmp", "~", "a\\b", ".git"]
TOOL_NAMES = sorted({*RESERVED["distributions"], *RESERVED["packages"]})
TOOL_NAMES += ["sitecustomize", "usercustomize", "con", "aux", "nul", "com1", "lpt9"]

ROUTES = ["cookiecutter API", "cookiecutter CLI", "bake.py --no-input", "bake.py"]
# The static checks take a second: every fourth baked project gets them.
STATIC_CHECK_EVERY = 4
baked_count = itertools.count()


def mixed_text(max_size: int) -> st.SearchStrategy[str]:
    """Mostly friendly characters with hostile ones thrown in."""
    return st.text(
        alphabet=st.sampled_from(FRIENDLY)
        | st.sampled_from(HOSTILE)
        | st.sampled_from(CONFUSABLES),
        max_size=max_size,
    )


def hostile(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value spoilt: a control character at its end or inside it."""
    return st.tuples(valid, st.sampled_from(CONTROL), st.booleans()).map(
        lambda spoil: (
            spoil[0] + spoil[1] if spoil[2] else spoil[0][:1] + spoil[1] + spoil[0][1:]
        )
    )


def names(pattern: str, max_size: int) -> st.SearchStrategy[str]:
    """Names that follow a rule (two times in five), and names that nearly do."""
    follows = st.from_regex(pattern, fullmatch=True)
    return st.one_of(
        follows,
        follows,
        mixed_text(max_size),
        hostile(follows),
        st.sampled_from(PATH_SEGMENTS + TOOL_NAMES),
    )


def very_long(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(valid, st.integers(300, 10_000)).map(
        lambda value: (value[0] or "x") * (value[1] // max(len(value[0]), 1))
    )


def field(pattern: str, max_size: int) -> st.SearchStrategy[str]:
    base = names(pattern, max_size)
    return base | base | base | very_long(base)


ANSWERS = st.fixed_dictionaries(
    {},
    optional={
        "project_name": field(r"[A-Za-z0-9Ü数][A-Za-z0-9 &()._'-]{0,30}", 40),
        "project_slug": field(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,8}){0,2}", 30),
        "package_name": field(r"[a-z][a-z0-9_]{0,12}", 16),
        "description": field(r"[A-Za-z][A-Za-z0-9 ,:()'-]{0,60}", 60),
        "author_name": field(r"[A-Za-zé][A-Za-z .'-]{0,20}", 24),
        "author_email": st.emails() | hostile(st.emails()) | mixed_text(30),
        "azure_organization": field(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}", 14),
        "azure_project": field(r"[A-Za-z0-9][A-Za-z0-9 &()._-]{0,20}", 24),
        "feed_name": field(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", 16),
        "extras": st.lists(names(r"[a-z0-9][a-z0-9-]{0,6}", 8), max_size=3).map(
            ",".join
        ),
        "feed_scope": st.sampled_from(["project", "organization"]),
        "versioning": st.sampled_from(["git-tags", "static"]),
        "version": field(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}((a|b|rc)[0-9])?", 10),
    },
)


def snapshot(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under `folder`, with size and modification time for files."""
    return {
        str(path.relative_to(folder)): (
            (path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else None
        )
        for path in [folder, *folder.rglob("*")]
    }


def has_template_syntax(answers: dict) -> bool:
    """cookiecutter renders answers as Jinja before the template sees them."""
    return any(
        mark in str(value)
        for value in answers.values()
        for mark in rules.TEMPLATE_SYNTAX
    )


def bake_by(route: str, answers: dict, output_dir: Path, config: Path) -> str | Path:
    """Bake on one route; return the project folder, or what was printed."""
    if route == "cookiecutter API":
        try:
            return Path(
                cookiecutter(
                    str(TEMPLATE), no_input=True, extra_context=answers,
                    output_dir=str(output_dir), config_file=str(config),
                )
            )  # fmt: skip
        except rules.RefusedAnswers as refused:
            return str(refused)
        except (TemplateError, UndefinedVariableInTemplate, RecursionError) as error:
            assert has_template_syntax(answers), error
            return f"left to cookiecutter: {error!r}"
    if route == "cookiecutter CLI":
        result = CliRunner().invoke(
            cookiecutter_cli,
            ["--no-input", str(TEMPLATE), "-o", str(output_dir),
             "--config-file", str(config),
             *(f"{key}={value}" for key, value in answers.items())],
        )  # fmt: skip
        # Jinja's parser gives up on deep nesting ({{{{...) with RecursionError.
        if isinstance(result.exception, (TemplateError, RecursionError)):
            assert has_template_syntax(answers), result.exception
            return f"left to cookiecutter: {result.exception!r}"
        assert isinstance(result.exception, (SystemExit, type(None))), result.output
        if result.exit_code == 0:
            (project,) = output_dir.iterdir()
            return project
        return result.output
    arguments = [f"{key}={value}" for key, value in answers.items()]
    arguments += ["-o", str(output_dir), "--config-file", str(config)]
    if route == "bake.py --no-input":
        arguments.append("--no-input")
    printed, errors = io.StringIO(), io.StringIO()
    stdin, sys.stdin = sys.stdin, io.StringIO("\n" * 40)  # accept every default
    try:
        with redirect_stdout(printed), redirect_stderr(errors):
            status = bake_script.main(arguments)
    finally:
        sys.stdin = stdin
    if status == 0:
        (project,) = output_dir.iterdir()  # printed last, after the prompts
        return project
    return errors.getvalue()


# Sets per run: a sample in the quick suite, a thousand in the whole one.
SAMPLE, THOROUGH = 100, 1_000


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "answer_sets",
    [
        pytest.param(SAMPLE, id="sample"),
        pytest.param(THOROUGH, id="thorough", marks=pytest.mark.slow),
    ],
)
def test_every_answer_is_refused_naming_its_field_or_bakes_clean_and_the_disk_outside_is_untouched(  # noqa: E501
    answer_sets,
):
    check = given(answers=ANSWERS, route=st.sampled_from(ROUTES))(
        refused_naming_its_field_or_baked_clean
    )  # a failure replays exactly
    settings(
        max_examples=answer_sets,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )(check)()


def refused_naming_its_field_or_baked_clean(answers, route):
    with tempfile.TemporaryDirectory() as scratch:
        config = cookiecutter_config(Path(scratch))
        sandbox = Path(scratch, "sandbox")
        (sandbox / "work").mkdir(parents=True)
        (sandbox / "important.txt").write_text("keep\n")
        (sandbox / "work" / "important.txt").write_text("keep\n")
        before = snapshot(sandbox)
        output_dir = sandbox / "work" / "out"

        outcome = bake_by(route, answers, output_dir, config)

        event(route)
        if isinstance(outcome, Path):
            event("baked")
            assert outcome.parent == output_dir
            after = {
                path: stat
                for path, stat in snapshot(sandbox).items()
                if not Path(path).is_relative_to(Path("work", "out"))
            }
            assert after == before
            if next(baked_count) % STATIC_CHECK_EVERY == 0:
                assert_static_checks_pass(BakedProject(outcome, answers))
            return
        event("refused")
        assert snapshot(sandbox) == before, outcome
        assert "Traceback" not in outcome
        left = route == "cookiecutter CLI" or outcome.startswith("left to cookiecutter")
        if left and REPORT_HEADER not in outcome:
            # Left to cookiecutter: choices, yes/no answers, Jinja (see README).
            event("refused by cookiecutter")
            return
        problems = outcome.splitlines()[1:-1]
        assert outcome.startswith(REPORT_HEADER) and problems, outcome
        assert len(outcome) < 1_000 * len(problems), "long values are cut short"
        for problem in problems:
            field = problem.removeprefix("  - ").split()[0].strip("'")
            assert field in KNOWN_FIELDS, problem
            assert "(for example " in problem, problem


@pytest.mark.slow
@settings(
    max_examples=3,
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(answers=ANSWERS)
def test_accepted_hostile_answers_bake_a_project_whose_first_lint_and_build_pass(
    answers,
):
    with tempfile.TemporaryDirectory() as scratch:
        config = cookiecutter_config(Path(scratch))
        outcome = bake_by("cookiecutter API", answers, Path(scratch, "out"), config)
        assume(isinstance(outcome, Path))
        BakedProject(outcome, answers).nox("-s", "lint", "build")


# Plain YAML scalars that YAML 1.1 reads as numbers, dates, yes/no or null,
# and text that stays text; cookiecutter reads config files with that typing.
YAML_LOOKALIKES = [
    "1.10", "3.10", "3.12", "1:30", "0x1F", "012", "1_000", "1e3", "1.0e+3", ".inf",
    "-.5", "yes", "No", "on", "OFF", "y", "n", "~", "null", "", "2024-01-02",
    "2024-01-02 03:04:05", "1.2.0", "0.1.0.dev1", "3.11", "3.14", "true", "1", "0",
    "[redis, postgres]", "{a: b}", "My Lib", "git-tags",
]  # fmt: skip
YAML_SCALARS = st.one_of(
    st.sampled_from(YAML_LOOKALIKES),
    st.from_regex(r"[0-9][0-9.:_eE+-]{0,7}", fullmatch=True),
    st.text(alphabet="0123456789.:-_exoyTNnul~", max_size=8),
)
CONFIG_FIELDS = ["version", "description", "project_name", "minimum_python",
                 "include_dockerfile", "license"]  # fmt: skip


def cookiecutter_reading(config_text: str) -> tuple[dict, list[str]]:
    """The context cookiecutter itself makes of a config's default_context, and
    the warnings it prints (an answer it ignored, with the ones after it)."""
    default_context = yaml.safe_load(config_text)["default_context"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context = generate_context(
            context_file=str(TEMPLATE / "cookiecutter.json"),
            default_context=default_context,
        )["cookiecutter"]
    return context, [str(warning.message) for warning in caught]


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(CONFIG_FIELDS), written=YAML_SCALARS)
def test_a_config_answer_reaches_the_template_as_written_or_is_refused(field, written):
    """Whatever YAML makes of `field: written`, the template either gets the
    text written (a yes/no as cookiecutter reads it) with the answers after it
    kept, or refuses with a sentence naming the field and the value."""
    text = f"default_context:\n  {field}: {written}\n  feed_name: later-answer\n"
    try:
        as_text = yaml.load(text, Loader=yaml.BaseLoader)["default_context"]
        yaml.safe_load(text)
    except yaml.YAMLError:
        assume(False)
    assume(set(as_text) == {field, "feed_name"})
    event(type(yaml.safe_load(text)["default_context"][field]).__name__)

    found = rules.user_config.config_problems(text, CONTEXT, rules.GOOD, "config.yaml")
    context, warnings = cookiecutter_reading(text)
    value = context[field]
    arrived = value[0] if isinstance(value, list) else value
    if isinstance(CONTEXT[field], bool):
        intact = isinstance(arrived, bool)
    else:
        intact = isinstance(as_text[field], str) and str(arrived) == as_text[field]
    intact = intact and not warnings and context["feed_name"] == "later-answer"
    if intact:
        assert found == [], (text, found)
    else:
        assert len(found) == 1, (text, found)
        assert found[0].startswith(f"{field} "), found
        assert " in config.yaml " in found[0] and "(for example" in found[0], found


MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Pieces of Markdown markup, and words, that hypothesis strings together.
MARKUP = ["~~", "~", "*", "**", "_", "__", "`", "``", "[", "](", ")", "![", "<",
          ">", "<b>", "</b>", "<http://x>", "&amp;", "&#65;", "&#x41;", "#", " ",
          "1.", "2)", "-", "+", "=", "---", "!", "|", ":", "a", "Z", "0", "é",
          "x_y", "数"]  # fmt: skip
MARKDOWN_TEXT = st.one_of(
    st.lists(st.sampled_from(MARKUP), min_size=1, max_size=10).map("".join),
    st.text(
        alphabet=st.one_of(
            st.sampled_from(string.punctuation + " 0123456789aZ_"),
            st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
        ),
        min_size=1,
        max_size=24,
    ),
).filter(lambda text: text == text.strip() and "\\" not in text and text.isprintable())


def inline_of(page: str, block: str = "paragraph") -> list:
    """The inline tokens of a Markdown page that is one block of that type."""
    tokens = MARKDOWN.parse(page)
    assert [tokens[0].type, tokens[1].type, len(tokens)] == [
        f"{block}_open",
        "inline",
        3,
    ]
    return tokens[1].children


def literal(tokens: list) -> str | None:
    """The text of inline tokens that hold no markup, else None."""
    if any(token.type not in {"text", "text_special"} for token in tokens):
        return None
    return "".join(token.content for token in tokens)


@settings(max_examples=400, deadline=None)
@given(text=MARKDOWN_TEXT)
@example(text="- a list item")
@example(text="+ b")
@example(text="1. first")
@example(text="2) second")
@example(text="10.5 percent")
@example(text="0")
@example(text="> quote")
@example(text="~~gone~~")
@example(text="R&amp;D")
@example(text="C# lib #")
@example(text="`code`")
@example(text="<b>bold</b>")
@example(text="[link](http://x)")
@example(text="__init__")
@example(text="***")
def test_free_text_in_markdown_reads_as_the_text_itself(text):
    """Where the README and docs/pipeline.md write an answer (a heading, a
    sentence, emphasis, a command in a code span), it renders as that text."""
    escaped = markdown_text(text)
    assert literal(inline_of(f"# {escaped}", "heading")) == text
    assert literal(inline_of(markdown_text(f"{text}."))) == f"{text}."
    emphasis = inline_of(f"*{escaped} Build Service (org)*.")
    assert [emphasis[0].type, emphasis[-2].type] == ["em_open", "em_close"]
    assert literal(emphasis[1:-2]) == f"{text} Build Service (org)"
    (code,) = inline_of(markdown_code(f"--project '{text}'"))
    assert (code.type, code.content) == ("code_inline", f"--project '{text}'")


def test_markup_in_answers_reads_as_text_in_the_baked_readme_and_docs(tmp_path):
    answers = {
        "project_name": "My *C#* lib #",
        "description": "1. Works with <b>x</b> & ~~y~~ [z](http://x)",
        "azure_project": "My `Proj` (x)_y",
        "feed_scope": "organization",
    }
    project = bake(tmp_path, **answers)
    readme = MARKDOWN.parse((project.path / "README.md").read_text())
    assert readme[0].type == "heading_open"
    assert literal(readme[1].children) == answers["project_name"]
    paragraphs = [token.children for token in readme if token.type == "inline"]
    assert f"{answers['description']}." in [literal(tokens) for tokens in paragraphs]

    pipeline_doc = MARKDOWN.parse((project.path / "docs" / "pipeline.md").read_text())
    pieces = [
        token
        for block in pipeline_doc
        if block.type == "inline"
        for token in block.children
    ]
    codes = [token.content for token in pieces if token.type == "code_inline"]
    assert any(
        code.endswith(" --pipeline --project 'My `Proj` (x)_y'") for code in codes
    )
    texts = "".join(
        token.content for token in pieces if token.type in {"text", "text_special"}
    )
    assert "My `Proj` (x)_y Build Service (myorg)" in texts
