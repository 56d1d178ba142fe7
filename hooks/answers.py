"""Check every answer before a single file is generated.

Each rule is a small function that returns what is wrong with one value, or
None. ``problems()`` runs them all, so one run reports every bad answer at
once: the field, the bad value, the rule and an example that works. On any
problem the hook prints them and exits 1, and cookiecutter removes the folder
it had just created.

Hooks run with cookiecutter's interpreter, where only the standard library is
guaranteed (no ``packaging``): the version rule is the regular expression of
PEP 440's appendix.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable

# Rendered project text puts these answers inside "..." strings of
# pyproject.toml and Python files, so they must not need escaping there.
FREE_TEXT_MAX_LENGTH = {"project_name": 100, "description": 200, "author_name": 100}

# Generated Python files hold the names on lines black and flake8 (88 columns)
# must accept as they are.
DISTRIBUTION_MAX_LENGTH = 36
PACKAGE_MAX_LENGTH = 36

# PEP 503 normalised form, as cookiecutter's slugify produces it.
DISTRIBUTION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# PEP 8 module names: lowercase ASCII letters, digits and underscores.
PACKAGE = re.compile(r"^[a-z][a-z0-9_]*$")
# PEP 685 normalised extra names.
EXTRA = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Canonical public version (PEP 440, appendix B): no local segment, which
# Azure Artifacts refuses anyway.
VERSION = re.compile(
    r"^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"
    r"((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?$"
)
VERSION_MAX_LENGTH = 128
DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(
    rf"^[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+$"
)

# Azure DevOps naming restrictions (learn.microsoft.com, "Naming restrictions").
ORGANIZATION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$")
# A safe subset of the feed rules: no spaces or characters a URL must escape.
FEED = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
FEED_MAX_LENGTH = 64
PROJECT_MAX_LENGTH = 64
PROJECT_FORBIDDEN = set("\\/:*?\"'<>;#$" + "{}" + ",+=[]|")
PROJECT_RESERVED = {
    name.lower()
    for name in [
        "PRN", "NUL", "CON", "AUX", "SERVER", "SignalR", "DefaultCollection", "Web",
        "App_Browsers", "App_code", "App_Data", "App_GlobalResources",
        "App_LocalResources", "App_Themes", "App_WebResources", "bin", "web.config",
        *(f"COM{number}" for number in range(1, 11)),
        *(f"LPT{number}" for number in range(1, 10)),
    ]
}  # fmt: skip

# The generated project supports Python 3.11 to 3.14; the running interpreter
# knows only its own standard library.
STDLIB_ELSEWHERE = {
    # removed in 3.12 and 3.13, still there on 3.11
    "aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt",
    "distutils", "imghdr", "imp", "lib2to3", "mailcap", "msilib", "nis", "nntplib",
    "ossaudiodev", "pipes", "smtpd", "sndhdr", "spwd", "sunau", "telnetlib", "uu",
    "xdrlib",
    # new in 3.14
    "annotationlib", "compression",
    # the standard library's own test package is not listed
    "test",
}  # fmt: skip
STDLIB = set(sys.stdlib_module_names) | STDLIB_ELSEWHERE
# The tools the generated project installs next to itself: a package of the
# same name would shadow them in its own nox sessions.
PROJECT_TOOLS = {
    "black", "build", "coverage", "flake8", "keyring", "artifacts_keyring", "nox",
    "packaging", "pip", "pkg_resources", "pytest", "pytest_cov", "setuptools",
    "setuptools_scm", "twine", "uv", "wheel",
    # the project's own tests folder
    "tests",
}  # fmt: skip
RESERVED_EXTRAS = {"test", "lint", "dev"}  # defined by the template itself


def free_text(field: str, value: str) -> str | None:
    """Text rendered verbatim into TOML and Python strings and the README."""
    limit = FREE_TEXT_MAX_LENGTH[field]
    if not value.strip():
        return "must not be empty"
    if value != value.strip():
        return "must not start or end with spaces"
    if '"' in value or "\\" in value:
        return 'must not contain " or \\ (they would need escaping in generated files)'
    if not all(character.isprintable() for character in value):
        return "must be one line of printable characters (no tabs or control codes)"
    if len(value) > limit:
        return f"must be at most {limit} characters long, not {len(value)}"
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
    if not DISTRIBUTION.match(value):
        return (
            "must be a normalised distribution name: lowercase ASCII letters and"
            " digits in words joined by single hyphens"
        )
    if len(value) > DISTRIBUTION_MAX_LENGTH:
        return (
            f"must be at most {DISTRIBUTION_MAX_LENGTH} characters long, not"
            f" {len(value)} (give a shorter project name or project_slug)"
        )
    return None


def import_package(value: str) -> str | None:
    if not PACKAGE.match(value):
        return (
            "must be a lowercase ASCII Python identifier: a letter, then letters,"
            " digits or underscores"
        )
    if keyword.iskeyword(value):
        return "is a Python keyword, so `import` cannot name it"
    if value in STDLIB:
        return "would shadow the standard library module of the same name"
    if value in PROJECT_TOOLS:
        return "would shadow a tool or folder of that name the generated project uses"
    if len(value) > PACKAGE_MAX_LENGTH:
        return f"must be at most {PACKAGE_MAX_LENGTH} characters long, not {len(value)}"
    return None


def version_number(value: str) -> str | None:
    if "+" in value:
        return "must not have a local segment (+...): Azure Artifacts refuses it"
    if not VERSION.match(value):
        return "must be a canonical PEP 440 version (no leading 'v', no spaces)"
    if len(value) > VERSION_MAX_LENGTH:
        return f"must be at most {VERSION_MAX_LENGTH} characters long"
    return None


def email_address(value: str) -> str | None:
    if not EMAIL.match(value):
        return (
            "must be one plain address: letters, digits and . _ % + - before a"
            " single @, and a domain with a dot after it (no spaces or quotes)"
        )
    return None


def organization_name(value: str) -> str | None:
    if not ORGANIZATION.match(value):
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
    if not all(character.isprintable() for character in value):
        return "must contain only printable characters (spaces are fine)"
    if value.startswith("_") or value.startswith(".") or value.endswith("."):
        return "must not start with '_' or '.', nor end with '.'"
    if value.lower() in PROJECT_RESERVED:
        return "is a name Azure DevOps reserves"
    return None


def feed_name(value: str) -> str | None:
    if not FEED.match(value):
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
    if bad := [repr(name) for name in names if not EXTRA.match(name)]:
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
        "author_name": lambda value: free_text("author_name", value),
        "author_email": email_address,
        "azure_organization": organization_name,
        "azure_project": project_name,
        "feed_name": feed_name,
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


def problems(answers: dict, choices: dict[str, list[str]]) -> list[str]:
    """One sentence per bad answer: field, bad value, rule, a good example."""
    checks = rules(choices)
    guesses = corrections(answers)
    found = []
    for field, rule in checks.items():
        value = answers.get(field)
        if field != "include_dockerfile" and not isinstance(value, str):
            problem = "is missing" if value is None else "must be text"
        else:
            problem = rule(value)
        if not problem:
            continue
        example = guesses.get(field)
        if not example or example == value or rule(example):
            example = choices[field][0] if field in choices else GOOD[field]
        found.append(f"{field} {value!r} {problem} (for example {example!r}).")
    return found


def report(found: list[str]) -> str:
    return "\n".join(
        ["cookiecutter-azure-pylib cannot use these answers:"]
        + [f"  - {problem}" for problem in found]
        + ["Nothing was generated; run again with corrected answers."]
    )


if __name__ == "__main__":
    ANSWERS = json.loads(r"""{{ cookiecutter | jsonify }}""")
    # cookiecutter.json as cookiecutter read it, choices included; nothing here
    # depends on the working directory. cruft renders without it, and refuses
    # out-of-choice values itself.
    TEMPLATE_CONTEXT = json.loads(r"""{{ _cookiecutter | default({}) | jsonify }}""")
    found = problems(ANSWERS, choices_of(TEMPLATE_CONTEXT))
    if found:
        print(report(found), file=sys.stderr)
        sys.exit(1)
