"""Bake this template; on bad answers print only what is wrong with them.

    python bake.py [--no-input] [-o DIR] [-f] [key=value ...]

It runs cookiecutter with the same answers and checks as ``cookiecutter``
itself (the rules live in hooks/answers.py), but stops before cookiecutter
prints a traceback: bad answers, an existing project folder or a failing hook
end with one short message and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from cookiecutter.exceptions import FailedHookException, OutputDirExistsException
from cookiecutter.main import cookiecutter

from hooks import answers as rules
from hooks.user_config import chosen_config

TEMPLATE = Path(__file__).resolve().parent
REFUSED = 2


class Refused(Exception):
    """The template will not bake these answers into this folder; says why."""


def bake(
    answers: dict[str, Any],
    output_dir: Path = Path("."),
    *,
    no_input: bool = True,
    overwrite: bool = False,
    config_file: str | None = None,
) -> Path:
    """Bake the template and return the project folder, or raise Refused."""
    config = chosen_config(config_file)
    if found := rules.config_problems(rules.template_context(), config):
        raise Refused(rules.report(found))
    if found := rules.given_answer_problems(answers):
        raise Refused(rules.report(found))
    # cookiecutter creates missing parent folders and leaves them on failure.
    missing_output_dir = not output_dir.exists()
    try:
        project = cookiecutter(
            str(TEMPLATE),
            no_input=no_input,
            extra_context=answers,
            output_dir=str(output_dir),
            overwrite_if_exists=overwrite,
            config_file=config_file,
        )
    except EOFError:
        raise Refused(
            "The input ended before every question was answered: nothing was"
            " generated."
        ) from None
    except rules.RefusedAnswers as refused:
        # Checked once every answer is known, before anything is created.
        raise Refused(str(refused)) from None
    except OutputDirExistsException as error:
        folder = str(error).removeprefix("Error: ").split('"')[1]
        raise Refused(
            f"{folder} already exists: nothing was changed. Choose another"
            " output folder, or pass -f to generate the template's files over it."
        ) from None
    except FailedHookException:
        # The post-generation hook has printed its message; cookiecutter
        # removed the project folder it had created.
        if missing_output_dir and output_dir.is_dir() and not any(output_dir.iterdir()):
            output_dir.rmdir()
        raise Refused("") from None
    return Path(project)


def parse_answers(pairs: list[str]) -> dict[str, str]:
    answers = {}
    for pair in pairs:
        field, equals, value = pair.partition("=")
        if not equals:
            raise Refused(
                f"{pair!r} is not an answer: write key=value, e.g. feed_name=pypi"
            )
        answers[field] = value
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("answers", nargs="*", metavar="key=value")
    parser.add_argument("--no-input", action="store_true", help="do not prompt")
    parser.add_argument("-o", "--output-dir", type=Path, default=Path("."))
    parser.add_argument(
        "-f", "--overwrite-if-exists", action="store_true",
        help="generate over an existing project folder (other files are kept)",
    )  # fmt: skip
    parser.add_argument("--config-file", help="cookiecutter user config file")
    arguments = parser.parse_args(argv)
    # cookiecutter logs a traceback for a failing hook; the hook said it better.
    logging.getLogger("cookiecutter").addHandler(logging.NullHandler())
    logging.getLogger("cookiecutter").propagate = False
    try:
        project = bake(
            parse_answers(arguments.answers),
            arguments.output_dir,
            no_input=arguments.no_input,
            overwrite=arguments.overwrite_if_exists,
            config_file=arguments.config_file,
        )
    except Refused as refused:
        if str(refused):
            print(refused, file=sys.stderr)
        return REFUSED
    print(project)
    return 0


if __name__ == "__main__":
    sys.exit(main())
