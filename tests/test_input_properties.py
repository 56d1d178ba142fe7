"""Every answer is either refused with a message naming the field, or bakes into
a project that passes the core static checks: never anything in between."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.baking import BakedProject
from tests.static_checks import assert_static_checks_pass
from tests.test_bad_input import cookiecutter_config
from tests.test_validation import DEFAULTS, bake_script

FRIENDLY = string.ascii_letters + string.digits + " -_."
HOSTILE = "\"'\\\n\t\x00\x7f{}#%&/:;<>|@+=,!?()[]*$~`éßØ数語🚀\u200b\u00a0\u2028"


def mixed_text(max_size: int) -> st.SearchStrategy[str]:
    """Mostly friendly characters with hostile ones thrown in."""
    return st.text(
        alphabet=st.sampled_from(FRIENDLY) | st.sampled_from(HOSTILE), max_size=max_size
    )


def names(pattern: str, max_size: int) -> st.SearchStrategy[str]:
    """Names that follow a rule (two times in three), and names that nearly do."""
    follows = st.from_regex(pattern, fullmatch=True)
    return follows | follows | mixed_text(max_size)


ANSWERS = st.fixed_dictionaries(
    {},
    optional={
        "project_name": names(r"[A-Za-z0-9Ü数][A-Za-z0-9 &()._'-]{0,30}", 40),
        "package_name": names(r"[a-z][a-z0-9_]{0,12}", 16),
        "description": names(r"[A-Za-z][A-Za-z0-9 ,:()'-]{0,60}", 60),
        "author_name": names(r"[A-Za-zé][A-Za-z .'-]{0,20}", 24),
        "author_email": st.emails() | mixed_text(30),
        "azure_organization": names(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}", 14),
        "azure_project": names(r"[A-Za-z0-9][A-Za-z0-9 &()._-]{0,20}", 24),
        "feed_name": names(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", 16),
        "extras": st.lists(names(r"[a-z0-9][a-z0-9-]{0,6}", 8), max_size=3).map(
            ",".join
        ),
        "feed_scope": st.sampled_from(["project", "organization"]),
        "versioning": st.sampled_from(["git-tags", "static"]),
        "version": names(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}((a|b|rc)[0-9])?", 10),
    },
)

KNOWN_FIELDS = set(DEFAULTS)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(answers=ANSWERS)
def test_every_answer_is_refused_with_a_field_naming_message_or_bakes_clean(answers):
    with tempfile.TemporaryDirectory() as folder:
        output_dir = Path(folder, "out")
        config = str(cookiecutter_config(Path(folder)))
        try:
            project = bake_script.bake(answers, output_dir, config_file=config)
        except bake_script.Refused as refused:
            event("refused")
            message = str(refused)
            assert message, "the hook refused answers that bake.py's checks accepted"
            problems = message.splitlines()[1:-1]
            assert problems
            for problem in problems:
                field = problem.removeprefix("  - ").split()[0]
                assert field in KNOWN_FIELDS, problem
                assert "(for example " in problem, problem
            assert not output_dir.exists()
        else:
            event("baked")
            assert_static_checks_pass(BakedProject(project, answers))
