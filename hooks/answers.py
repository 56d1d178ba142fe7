"""Check every answer before a single file or folder is created.

cookiecutter.json loads ``AnswerChecks`` (``_extensions``) and renders
``__answers_checked`` last, after every question is answered and before the
project folder exists: on any bad answer it raises ``RefusedAnswers``, whose
message lists them all (field, value, rule and an example that works).
bake.py and the tests call the same rules.

A context can replace ``__answers_checked`` (it is a variable like any other),
so the checks run again where no context reaches: when cookiecutter renders the
project folder's name, the last step before it writes. There the private
variables are checked too, and so is the folder the bake goes into
(hooks/generated.py).

Before either, when cookiecutter makes its Jinja environment (before it renders
any answer), the extension checks what its command line gave: the config
file's answers read again as written, for what YAML changed in them
(hooks/user_config.py), and key=value answers that name no question or hold
template code.

Each rule is a small function that returns what is wrong with one value, or
None. The rules use the standard library only: the version rule is the
regular expression of PEP 440's appendix.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from jinja2.ext import Extension

from hooks.generated import clashes, generated_files
from hooks.markdown import markdown_code, markdown_text
from hooks import user_config

HOOKS = Path(__file__).resolve().parent
# What the generated project's own nox sessions install (nox -s reserved-names).
RESERVED = json.loads((HOOKS / "reserved_names.json").read_text(encoding="utf-8"))

# Rendered project text puts these answers inside "..." strings of
# pyproject.toml and Python files, so they must not need escaping there.
FREE_TEXT_MAX_LENGTH = {"project_name": 100, "description": 200, "author_name": 100}

# Generated Python files hold the names on lines black and flake8 (88 columns)
# must accept as they are.
DISTRIBUTION_MAX_LENGTH = 36
PACKAGE_MAX_LENGTH = 36

# Every pattern must match the whole value (fullmatch): `$` would let a final
# newline through.
# PEP 503 normalised form, as cookiecutter's slugify produces it.
DISTRIBUTION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# PEP 8 module names: lowercase ASCII letters, digits and underscores.
PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
# PEP 685 normalised extra names.
EXTRA = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Canonical public version (PEP 440, appendix B): no local segment, which
# Azure Artifacts refuses anyway.
VERSION = re.compile(
    r"([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"
    r"((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?"
)
VERSION_MAX_LENGTH = 128
DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(
    rf"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+"
)

# Azure DevOps naming restrictions (learn.microsoft.com, "Naming restrictions").
ORGANIZATION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
# A safe subset of the feed rules: no spaces or characters a URL must escape.
FEED = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
FEED_MAX_LENGTH = 64
PROJECT_MAX_LENGTH = 64
PROJECT_FORBIDDEN = set("\\/:*?\"'<>;#$" + "{}" + ",+=[]|")
# Windows cannot create files or folders with these names, whatever the case.
WINDOWS_DEVICES = {
    "con", "prn", "aux", "nul",
    *(f"com{number}" for number in range(1, 10)),
    *(f"lpt{number}" for number in range(1, 10)),
}  # fmt: skip
PROJECT_RESERVED = WINDOWS_DEVICES | {
    name.lower()
    for name in [
        "SERVER", "SignalR", "DefaultCollection", "Web", "COM10",
        "App_Browsers", "App_code", "App_Data", "App_GlobalResources",
        "App_LocalResources", "App_Themes", "App_WebResources", "bin", "web.config",
    ]
}  # fmt: skip

# The generated project supports Python 3.11 to 3.15 (`_pythons`); the running
# interpreter knows only its own standard library.
STDLIB_ELSEWHERE = {
    # removed in 3.12 and 3.13, still there on 3.11
    "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt",
    "distutils", "imghdr", "imp", "lib2to3", "mailcap", "msilib", "nis", "nntplib",
    "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau", "telnetlib", "uu",
    "xdrlib",
    # new in 3.14 and 3.15
    "annotationlib", "compression", "profiling",
    # the standard library's own test package is not listed
    "test",
}  # fmt: skip
STDLIB = set(sys.stdlib_module_names) | STDLIB_ELSEWHERE
# Python imports these at start-up from anywhere on the path.
STARTUP_MODULES = {"sitecustomize", "usercustomize"}
# A distribution or package of the same name as one the project's own test,
# lint, type-check or build environment installs breaks that environment.
RESERVED_DISTRIBUTIONS = set(RESERVED["distributions"])
RESERVED_PACKAGES = set(RESERVED["packages"]) | {"tests"}  # the tests folder
RESERVED_EXTRAS = {"test", "lint", "dev"}  # defined by the template itself
# cookiecutter renders answers as Jinja templates.
TEMPLATE_SYNTAX = ("{{", "{%", "{#")
# Messages show at most this much of a value.
SHOWN_LENGTH = 60


def free_text(field: str, value: str) -> str | None:
    """Text rendered verbatim into TOML and Python strings and the README."""
    limit = FREE_TEXT_MAX_LENGTH[field]
    if not value.strip():
        return "must not be empty"
    if value != value.strip():
        return "must not start or end with spaces"
    if '"' in value or "\\" in value:
        return 'must not contain " or \\ (they would need escaping in generated files)'
    if ">>>" in value:
        return "must not contain >>> (in the package's docstring it starts a doctest)"
    if len(value) > limit:
        return f"must be at most {limit} characters long, not {len(value)}"
    return None


def author_text(value: str) -> str | None:
    if problem := free_text("author_name", value):
        return problem
    if not any(character.isalnum() for character in value):
        return (
            "must contain a letter or a digit (git refuses a name of punctuation"
            " only for the first commit)"
        )
    return None


def description_text(value: str) -> str | None:
    if problem := free_text("description", value):
        return problem
    if value.endswith((".", "!", "?")):
        return (
            "must not end with '.', '!' or '?': the README and the package"
            " docstring add a full stop"
        )
    return None


def distribution_name(value: str) -> str | None:
    if not value:
        return "is empty: the project name needs letters or digits to derive it from"
    if not DISTRIBUTION.fullmatch(value):
        return (
            "must be a normalised distribution name: lowercase ASCII letters and"
            " digits in words joined by single hyphens"
        )
    if len(value) > DISTRIBUTION_MAX_LENGTH:
        return (
            f"must be at most {DISTRIBUTION_MAX_LENGTH} characters long, not"
            f" {len(value)} (give a shorter project name or project_slug)"
        )
    if value in WINDOWS_DEVICES:
        return "is a device name Windows reserves: no folder can have it"
    if value in RESERVED_DISTRIBUTIONS:
        return (
            "is the name of a tool the project's own test, lint or build"
            " environment installs, which would then conflict with it"
        )
    return None


def import_package(value: str) -> str | None:
    if not PACKAGE.fullmatch(value):
        return (
            "must be a lowercase ASCII Python identifier: a letter, then letters,"
            " digits or underscores"
        )
    if keyword.iskeyword(value):
        return "is a Python keyword, so `import` cannot name it"
    if value in STDLIB:
        return "would shadow the standard library module of the same name"
    if value in STARTUP_MODULES:
        return "is a module Python imports at start-up from anywhere on the path"
    if value in WINDOWS_DEVICES:
        return "is a device name Windows reserves: no folder can have it"
    if value in RESERVED_PACKAGES:
        return "would shadow a tool or folder of that name the generated project uses"
    if len(value) > PACKAGE_MAX_LENGTH:
        return f"must be at most {PACKAGE_MAX_LENGTH} characters long, not {len(value)}"
    return None


def version_number(value: str) -> str | None:
    if "+" in value:
        return "must not have a local segment (+...): Azure Artifacts refuses it"
    if not VERSION.fullmatch(value):
        return "must be a canonical PEP 440 version (no leading 'v', no spaces)"
    if len(value) > VERSION_MAX_LENGTH:
        return f"must be at most {VERSION_MAX_LENGTH} characters long"
    return None


def email_address(value: str) -> str | None:
    if not EMAIL.fullmatch(value):
        return (
            "must be one plain address: letters, digits and . _ % + - before a"
            " single @, and a domain with a dot after it (no spaces or quotes)"
        )
    return None


def organization_name(value: str) -> str | None:
    if not ORGANIZATION.fullmatch(value):
        return (
            "must be an Azure DevOps organization name: 1 to 50 English letters,"
            " digits or hyphens, starting and ending with a letter or digit"
        )
    return None


def project_name(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if value != value.strip():
        return "must not start or end with spaces"
    if len(value) > PROJECT_MAX_LENGTH:
        return f"must be at most {PROJECT_MAX_LENGTH} characters long, not {len(value)}"
    if forbidden := sorted(set(value) & PROJECT_FORBIDDEN):
        return "must not contain " + " ".join(forbidden)
    if value.startswith("_") or value.startswith(".") or value.endswith("."):
        return "must not start with '_' or '.', nor end with '.'"
    if value.lower() in PROJECT_RESERVED:
        return "is a name Azure DevOps reserves"
    return None


def repository_path(value: str) -> str | None:
    """An Azure Repos repository as a pipeline resource names it: project/repository."""
    project, slash, repository = value.partition("/")
    if not slash or "/" in repository:
        return "must be the project and the repository joined by one '/'"
    for part, name in ((project, "project"), (repository, "repository")):
        if problem := project_name(part):
            return f"has a {name} name that {problem}"
    return None


def feed_name(value: str) -> str | None:
    if not FEED.fullmatch(value):
        return (
            "must be an Azure Artifacts feed name: ASCII letters, digits, '.', '_'"
            " and '-', starting and ending with a letter or digit"
        )
    if len(value) > FEED_MAX_LENGTH:
        return f"must be at most {FEED_MAX_LENGTH} characters long, not {len(value)}"
    return None


def extras_list(value: str) -> str | None:
    """Comma-separated extra names; empty for none."""
    if not value.strip():
        return None
    names = [name.strip() for name in value.split(",")]
    if "" in names:
        return "must not have an empty name between commas"
    if bad := [shown(name) for name in names if not EXTRA.fullmatch(name)]:
        return (
            f"has names that are not normalised extra names ({', '.join(bad)}):"
            " lowercase ASCII letters and digits joined by single hyphens"
        )
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        return f"names {', '.join(map(repr, duplicates))} more than once"
    if reserved := sorted(set(names) & RESERVED_EXTRAS):
        return (
            f"must not redefine {', '.join(reserved)}: the template defines the"
            " test, lint and dev extras itself"
        )
    return None


def one_of(choices: list[str]) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        if value not in choices:
            return "must be one of " + ", ".join(choices)
        return None

    return check


def boolean(value: object) -> str | None:
    if not isinstance(value, bool):
        return "must be yes or no"
    return None


def any_text(value: str) -> str | None:
    """What no answer may hold, whatever its field."""
    if not value.isprintable():
        bad = next(character for character in value if not character.isprintable())
        return (
            "must be one line of printable characters, without control or"
            f" invisible characters such as {bad!r}"
        )
    if any(mark in value for mark in TEMPLATE_SYNTAX):
        return (
            "must not contain '{{', '{%' or '{#', which cookiecutter reads as"
            " template code"
        )
    return None


def shown(value: object) -> str:
    """The value as Python writes it (control characters escaped), cut short."""
    if isinstance(value, str) and len(value) > SHOWN_LENGTH:
        return f"{value[:SHOWN_LENGTH]!r}... ({len(value)} characters)"
    return repr(value)


def normalised(name: str, separator: str) -> str:
    return re.sub(r"[-_.\s]+", separator, name.strip()).strip(separator).lower()


# A value that works for every field; the examples in the messages.
GOOD = {
    "project_name": "My Shared Utils",
    "project_slug": "my-shared-utils",
    "package_name": "my_shared_utils",
    "description": "Shared utility functions for our services",
    "author_name": "Platform Team",
    "author_email": "platform-team@example.com",
    "azure_organization": "contoso",
    "azure_project": "Data Platform",
    "pipeline_templates_repository": "Data Platform/cookiecutter-azure-pylib",
    "feed_name": "python-internal",
    "extras": "redis,postgres",
    "include_dockerfile": "yes",
    "version": "1.2.0",
}


def corrections(answers: dict) -> dict[str, str]:
    """What the user probably meant, for the fields where that can be guessed."""
    text = {field: str(value) for field, value in answers.items()}
    extras = [normalised(name, "-") for name in text.get("extras", "").split(",")]
    return {
        "project_slug": normalised(text.get("project_slug", ""), "-"),
        "package_name": normalised(text.get("package_name", ""), "_"),
        "description": text.get("description", "").strip().rstrip(".!?").strip(),
        "version": text.get("version", "").strip().lstrip("vV").split("+")[0],
        "azure_organization": text.get("azure_organization", "").strip(),
        "feed_name": text.get("feed_name", "").strip(),
        "author_email": text.get("author_email", "").strip(),
        "extras": ",".join(
            name
            for name in dict.fromkeys(extras)
            if name and name not in RESERVED_EXTRAS
        ),
    }


def rules(choices: dict[str, list[str]]) -> dict[str, Callable[[object], str | None]]:
    """The rule for every answer of cookiecutter.json, by field."""
    return {
        "project_name": lambda value: free_text("project_name", value),
        "project_slug": distribution_name,
        "package_name": import_package,
        "description": description_text,
        "author_name": author_text,
        "author_email": email_address,
        "azure_organization": organization_name,
        "azure_project": project_name,
        "feed_name": feed_name,
        "pipeline_templates_repository": repository_path,
        "extras": extras_list,
        "include_dockerfile": boolean,
        "version": version_number,
        **{field: one_of(options) for field, options in choices.items()},
    }


def choices_of(template_context: dict) -> dict[str, list[str]]:
    """The choice answers of cookiecutter.json with their allowed values."""
    return {
        field: options
        for field, options in template_context.items()
        if not field.startswith("_") and isinstance(options, list)
    }


def problem_with(value: object, rule: Callable[[object], str | None]) -> str | None:
    if isinstance(value, str):
        return any_text(value) or rule(value)
    return rule(value)


def problems(
    answers: dict, choices: dict[str, list[str]], fields: Iterable[str] | None = None
) -> list[str]:
    """One sentence per bad answer: field, bad value, rule, a good example.
    Every answer of the template, or only `fields`."""
    checks = rules(choices)
    guesses = corrections(answers)
    found = []
    for field, rule in checks.items():
        if fields is not None and field not in fields:
            continue
        value = answers.get(field)
        if field != "include_dockerfile" and not isinstance(value, str):
            problem = "is missing" if value is None else "must be text"
        else:
            problem = problem_with(value, rule)
        if not problem:
            continue
        example = guesses.get(field)
        if not example or example == value or problem_with(example, rule):
            example = choices[field][0] if field in choices else GOOD[field]
        found.append(f"{field} {shown(value)} {problem} (for example {example!r}).")
    return found


def report(found: list[str]) -> str:
    return "\n".join(
        ["cookiecutter-azure-pylib cannot use these answers:"]
        + [f"  - {problem}" for problem in found]
        + ["Nothing was generated; run again with corrected answers."]
    )


class RefusedAnswers(FailedHookException):
    """Answers this template cannot use; the message lists them.

    A FailedHookException, so cookiecutter's command line prints the message
    alone, without a traceback.
    """


def refused(message: str) -> BaseException:
    """RefusedAnswers to raise; on cruft's command line, which shows every
    exception as a traceback, the message on stderr and exit status 1 instead
    (cruft removes its temporary folders on the way out)."""
    if user_config.on_cruft_command_line():
        print(message, file=sys.stderr)
        return SystemExit(1)
    return RefusedAnswers(message)


def template_context() -> dict:
    return json.loads((HOOKS.parent / "cookiecutter.json").read_text(encoding="utf-8"))


def given_answer_problems(answers: dict) -> list[str]:
    """What cookiecutter would reject with a traceback, ignore or render as
    template code before the template's own checks run, and with it what the
    template's checks find in the other answers given: every problem at once."""
    context = template_context()
    choices = choices_of(context)
    known = [field for field in context if not field.startswith("_")]
    found, checked = [], {}
    for field, value in answers.items():
        if field not in known:
            found.append(
                f"{shown(field)} is not an answer of this template; the"
                f" answers are {', '.join(known)}."
            )
        elif isinstance(value, str) and any(mark in value for mark in TEMPLATE_SYNTAX):
            example = GOOD.get(field, context[field])
            found.append(
                f"{field} {shown(value)} {any_text(value)}"
                f" (for example {example!r})."
            )
        elif field in choices and value not in choices[field]:
            found.append(
                f"{field} {shown(value)} must be one of"
                f" {', '.join(choices[field])} (for example {choices[field][0]!r})."
            )
        elif isinstance(context[field], str) and not isinstance(value, str):
            # cookiecutter would bake a list's first item, a number as text
            example = GOOD.get(field, context[field])
            found.append(
                f"{field} {shown(value)} must be text (for example {example!r})."
            )
        elif isinstance(context[field], bool) and not user_config.is_yes_or_no(value):
            found.append(
                f"{field} {shown(value)} must be yes or no (for example 'yes')."
            )
        else:
            checked[field] = value
    if found:  # otherwise cookiecutter checks them all, derived answers included
        found += problems(checked, choices, fields=checked)
    return found


def command_line_problems() -> list[str]:
    """On cookiecutter's (or cruft's) command line, before anything is rendered:
    what YAML changed in the config file's answers, and key=value answers that
    name no question or hold template code (cookiecutter would render it)."""
    context = template_context()
    found = config_problems(context, user_config.config_of_this_run())
    return found + given_answer_problems(user_config.given_on_command_line())


def config_problems(context: dict, path: Path | None) -> list[str]:
    """What YAML changed, or made cookiecutter ignore, in a config file's answers."""
    first_choices = {
        field: options[0] for field, options in choices_of(context).items()
    }
    return user_config.file_problems(path, context, {**GOOD, **first_choices})


def checked_answers(answers: dict) -> str:
    """Jinja filter: raise RefusedAnswers on bad answers, else render nothing."""
    # cookiecutter has refused choices out of their options by now.
    if found := problems(answers, choices={}):
        raise refused(report(found))
    return ""


# The template's own values of its private variables' shapes: a release
# number, and the Pythons the pipelines test, oldest first.
TEMPLATE_VERSION = re.compile(r"\d+\.\d+\.\d+")
PYTHON_VERSION = re.compile(r"3\.\d{1,2}")
# The name of the project folder in the template, which cookiecutter renders
# after the last answer and before it creates or writes anything.
PROJECT_FOLDER = "{{cookiecutter.project_slug}}"


def private_problems(answers: dict) -> list[str]:
    """The private variables, whatever source set them, still have the shapes
    the generated files rely on."""
    found = []
    version = answers.get("_template_version")
    if not (isinstance(version, str) and TEMPLATE_VERSION.fullmatch(version)):
        found.append(
            f"_template_version {shown(version)} must be a release number X.Y.Z"
            " (it is the template's own: leave it out of answers and configs)."
        )
    pythons = answers.get("_pythons")
    if not (
        isinstance(pythons, list)
        and pythons
        and all(isinstance(p, str) and PYTHON_VERSION.fullmatch(p) for p in pythons)
        and answers.get("minimum_python") in pythons
    ):
        found.append(
            f"_pythons {shown(str(pythons))} must list the tested Pythons, the"
            " minimum among them (it is the template's own: leave it out of"
            " answers and configs)."
        )
    return found


def checked_project_folder(answers: dict) -> str:
    """Jinja filter for the project folder's name: every answer checked again,
    the private ones too (no context entry can switch this off), and the
    folder the bake goes into, before a single file is written."""
    template = HOOKS.parent
    context = template_context()
    found = problems(answers, choices_of(context)) + private_problems(answers)
    if found:
        raise refused(report(found))
    if answers.get("_output_dir"):
        project = Path(answers["_output_dir"]) / answers["project_slug"]
        clashing = clashes(project, generated_files(template, answers))
        if clashing:
            raise refused(
                "\n".join(
                    [f"cookiecutter-azure-pylib cannot generate into {project}:"]
                    + [f"  - {problem}" for problem in clashing]
                    + [
                        "Nothing was changed: move these out of the way, or bake"
                        " into a new folder."
                    ]
                )
            )
    return answers["project_slug"]


def generated_file_list(answers: dict) -> str:
    """Jinja filter for the post-generation hook: the files the bake writes, as
    JSON (worked out here, where Jinja is loaded already)."""
    return json.dumps(generated_files(HOOKS.parent, answers))


class AnswerChecks(Extension):
    """The `checked_answers` filter cookiecutter.json renders last, the check
    of the project folder's name, which the template renders, and the filters
    that write answers into Markdown as text."""

    def __init__(self, environment) -> None:
        super().__init__(environment)
        # cookiecutter makes this environment before it renders any answer.
        if found := command_line_problems():
            raise refused(report(found))
        environment.filters["checked_answers"] = checked_answers
        environment.filters["checked_project_folder"] = checked_project_folder
        environment.filters["generated_file_list"] = generated_file_list
        environment.filters["markdown"] = markdown_text
        environment.filters["markdown_code"] = markdown_code

    def preprocess(self, source: str, name: str | None, filename=None) -> str:
        # The folder's name is the one template text cookiecutter renders
        # whatever the answers and their source: check everything there.
        if source == PROJECT_FOLDER:
            return "{{ cookiecutter | checked_project_folder }}"
        return source
