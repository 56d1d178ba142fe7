"""The user's cookiecutter config, read again for what YAML did to its answers.

cookiecutter reads `default_context` with YAML's full typing before the
template sees a value: `version: 1.10` arrives as "1.1", `description: 1:30`
as "90", and `minimum_python: 3.12` (a number, not one of the choices) makes
cookiecutter warn and ignore that key and every key after it. Reading the file
again, every scalar as the text it was written as, finds what was changed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import yaml
from cookiecutter.prompt import YesNoPrompt
from rich.prompt import InvalidResponse

# cookiecutter's own default location (cookiecutter.config.USER_CONFIG_PATH).
USER_CONFIG = Path("~/.cookiecutterrc")


def chosen_config(config_file: str | None, default_config: bool = False) -> Path | None:
    """The config file cookiecutter reads, picked as it picks it: none with
    --default-config, else --config-file, else $COOKIECUTTER_CONFIG, else
    ~/.cookiecutterrc if it exists."""
    if default_config:
        return None
    if config_file:
        return Path(config_file)
    if os.environ.get("COOKIECUTTER_CONFIG"):
        return Path(os.environ["COOKIECUTTER_CONFIG"])
    default = USER_CONFIG.expanduser()
    return default if default.is_file() else None


def config_of_this_run() -> Path | None:
    """The config file of the command line that runs this bake: cookiecutter's
    (or cruft's, which has no --config-file). None for a replay, which does
    not use its answers, and for a caller of cookiecutter's Python API, whose
    config_file cannot be seen from here (bake.py checks its own)."""
    command = click.get_current_context(silent=True)
    if command is None:
        return None
    options = command.params
    if options.get("replay") or options.get("replay_file"):
        return None
    return chosen_config(options.get("config_file"), options.get("default_config"))


def is_yes_or_no(value: object) -> bool:
    """Whether cookiecutter reads the value as a yes/no answer."""
    if isinstance(value, bool):
        return True
    try:
        YesNoPrompt().process_response(str(value))
    except InvalidResponse:
        return False
    return True


def on_cruft_command_line() -> bool:
    program = Path(sys.argv[0])  # cruft, or python -m cruft's cruft/__main__.py
    return "cruft" in (program.name, program.parent.name)


def cruft_option(name: str) -> str | None:
    """The value of cruft's --extra-context or --variables-to-update on its
    command line (cruft runs its commands without a click context to ask)."""
    if not on_cruft_command_line():
        return None
    option = "--" + name.replace("_", "-")
    for index, word in enumerate(sys.argv):
        if word == option and index + 1 < len(sys.argv):
            return sys.argv[index + 1]
        if word.startswith(option + "="):
            return word.partition("=")[2]
    return None


def given_on_command_line() -> dict[str, object]:
    """The answers given on the command line that runs this bake: cookiecutter's
    key=value pairs, or the JSON of cruft's --extra-context and update's
    --variables-to-update, each value as it was given (a list stays a list)."""
    command = click.get_current_context(silent=True)
    given: dict[str, object] = {}
    for name in ("extra_context", "variables_to_update"):
        answers = command.params.get(name) if command else cruft_option(name)
        if isinstance(answers, str):  # cruft's options are JSON text
            try:
                answers = json.loads(answers)
            except ValueError:
                answers = None  # cruft refuses it itself
        if isinstance(answers, dict):
            given.update(answers)
    return given


def written(value: object) -> str:
    """A YAML value as YAML writes it, for messages."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n").strip()


def kind(value: object) -> str:
    """What YAML made of a value, in words."""
    if isinstance(value, bool):
        return "yes/no value"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "empty value"
    if isinstance(value, (list, dict)):
        return "list" if isinstance(value, list) else "mapping"
    return type(value).__name__  # dates and times


def config_problems(
    text: str, template_context: dict, examples: dict[str, str], where: str
) -> list[str]:
    """One sentence per `default_context` answer of this template that YAML
    does not read as the text it was written as, or that cookiecutter would
    ignore: the field, what was written, what it became, a line that works."""
    as_text = (yaml.load(text, Loader=yaml.BaseLoader) or {}).get("default_context")
    typed = (yaml.safe_load(text) or {}).get("default_context")
    if not isinstance(as_text, dict) or not isinstance(typed, dict):
        return []
    found = []
    for field, value in as_text.items():
        if field not in template_context:
            continue  # an answer for another template: cookiecutter ignores it
        options = template_context[field]
        read = typed.get(field)
        example = f'{field}: "{examples.get(field, "")}"'
        if field.startswith("_"):
            problem, example = "is the template's own: remove it from the config", ""
        elif not isinstance(value, str):
            problem = f"is a YAML {kind(read)}, not one line of text"
        elif read is None:
            problem = "is empty"
        elif isinstance(options, bool):
            if isinstance(read, (bool, str)) and is_yes_or_no(read):
                continue
            problem, example = "must be yes or no", f"{field}: yes"
        elif isinstance(options, list) and value not in options:
            problem = (
                f"must be one of {', '.join(options)} (cookiecutter ignores it and"
                " every answer after it in the file)"
            )
        elif not isinstance(read, str) and (
            isinstance(options, list) or str(read) != value
        ):
            problem = (
                f"is read by YAML as the {kind(read)} {written(read)}, not as the"
                " text written: quote it"
            )
            example = f'{field}: "{value}"'
        else:
            continue
        hint = f" (for example {example})" if example else ""
        shown = repr(value) if isinstance(value, str) else written(value)
        found.append(f"{field} {shown} in {where} {problem}{hint}.")
    return found


def file_problems(
    path: Path | None, template_context: dict, examples: dict[str, str]
) -> list[str]:
    """What is wrong with the answers in a config file, if there is one."""
    if path is None or not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    return config_problems(text, template_context, examples, str(path))
