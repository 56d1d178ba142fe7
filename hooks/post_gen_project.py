"""Turn the freshly generated folder into a git repository with a first commit.

hatch-vcs computes the version from git, so the project must be a repository
before its first build. A missing git is reported, not fatal. The pipeline pins
a release tag of the template; a checkout without that tag is reported.

The first commit holds the generated files only: with -f into a folder that
was there, the user's own files stay out of it. git works on the new
project whatever GIT_DIR, GIT_WORK_TREE or GIT_INDEX_FILE the environment sets.

Under cruft the hook leaves git alone. `cruft update` and `cruft diff` run it
in scratch renders (in the temporary folder) whose difference is applied to the
real project: a repository there would end up in that diff. And `cruft create`
writes .cruft.json only after the hook, so the first commit is the user's to
make: the hook prints the one command.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INITIAL_COMMIT_MESSAGE = "Initial commit from cookiecutter-azure-pylib"
# What the hook does, as a command to paste when it cannot.
FIRST_COMMIT = (
    "git init --initial-branch=main && git add --all"
    f' && git commit -m "{INITIAL_COMMIT_MESSAGE}"'
)


def post_generate(
    path: Path,
    author_name: str,
    author_email: str,
    cruft_template_commit: str,
    files: list[str] | None = None,
) -> str:
    """Do what the render needs; return the message for the user, empty for none."""
    if cruft_template_commit:
        if path.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve()):
            return ""  # a scratch render of cruft update or cruft diff
        return (
            f"Once cruft has written .cruft.json, make the project's first commit"
            f" in {path}: {FIRST_COMMIT}"
        )
    return init_repository(path, author_name, author_email, files)


def missing_release_tag(
    template: Path, template_version: str, pipeline: str, repository: str
) -> str:
    """The sentence for a shared pipeline pinned to a release tag the template
    checkout lacks (a clone carries no tags): the tag to create, and where."""
    tag = f"v{template_version}"
    if pipeline != "shared" or not is_git_repository(template):
        return ""  # nothing to pin, or no history to look the tag up in
    found = ["git", "rev-parse", "--quiet", "--verify", f"refs/tags/{tag}"]
    done = subprocess.run(found, cwd=template, capture_output=True, env=own_git())
    if done.returncode == 0:
        return ""
    return (
        f"The shared pipeline pins refs/tags/{tag} of {repository}, a tag this"
        f" template checkout does not have: tag the release there (git tag"
        f' --annotate {tag} -m "cookiecutter-azure-pylib {template_version}" &&'
        f" git push origin {tag}), as the template's README says under"
        ' "Importing the template".'
    )


def is_git_repository(path: Path) -> bool:
    return (path / ".git").exists()


@functools.cache
def own_git() -> dict[str, str]:
    """The environment without the variables that point git at another
    repository (`git rev-parse --local-env-vars`: GIT_DIR, GIT_INDEX_FILE, ...)."""
    listed = subprocess.run(
        ["git", "rev-parse", "--local-env-vars"], capture_output=True, text=True
    )
    local = set(listed.stdout.split()) | {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"}
    return {key: value for key, value in os.environ.items() if key not in local}


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env=own_git(),
    )  # fmt: skip


def init_repository(
    path: Path, author_name: str, author_email: str, files: list[str] | None = None
) -> str:
    """Create the repository with one commit of `files` (all when None); return
    what happened, for the user."""
    if shutil.which("git") is None:
        return (
            f"git was not found: once it is installed, run `{FIRST_COMMIT}` in "
            f"{path} before the first build (the version is computed from git tags)."
        )
    if is_git_repository(path):
        return "Existing git repository left as it is."
    # The author answers stand in only where git has no identity configured.
    identity = ["-c", f"user.name={author_name}", "-c", f"user.email={author_email}"]
    commit = ["commit", "--quiet", "--no-verify", "-m", INITIAL_COMMIT_MESSAGE]
    try:
        git("init", "--quiet", "--initial-branch=main", cwd=path)
        if files is None:
            git("add", "--all", cwd=path)
        else:
            git("add", "--", *files, cwd=path)
        git(*([] if has_git_identity(path) else identity), *commit, cwd=path)
    except subprocess.CalledProcessError as error:  # e.g. signing that needs a key
        said = error.stderr.strip().splitlines()[-1:] or [f"exit {error.returncode}"]
        return (
            f"git could not make the first commit ({said[0]}): once that is"
            f" fixed, run `{FIRST_COMMIT}` in {path}."
        )
    return f"Created a git repository on branch main with the first commit in {path}."


def has_git_identity(path: Path) -> bool:
    probe = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"],
        cwd=path,
        capture_output=True,
        env=own_git(),
    )
    return probe.returncode == 0


def forget_rendered_copy(script: Path) -> None:
    """cookiecutter runs a rendered copy of this hook, every answer in it, from
    the temporary folder, and leaves it there."""
    if script.parent.resolve() == Path(tempfile.gettempdir()).resolve():
        script.unlink(missing_ok=True)


if __name__ == "__main__":
    forget_rendered_copy(Path(__file__))
    # The answers as JSON inside a raw string: any answer reads back exactly.
    ANSWERS = json.loads(r"""{{ cookiecutter | jsonify }}""")
    TEMPLATE = Path(ANSWERS.get("_repo_dir") or "no template checkout")
    messages = [
        post_generate(
            Path.cwd(),
            author_name=ANSWERS["author_name"],
            author_email=ANSWERS["author_email"],
            # cruft adds the template commit as `_commit`; cookiecutter does not.
            cruft_template_commit=ANSWERS.get("_commit", ""),
            # What the template wrote (hooks/generated.py), not what was there.
            files=json.loads(r"""{{ cookiecutter | generated_file_list }}"""),
        ),
        missing_release_tag(
            # The template's checkout; cruft, which renders a clone at the
            # commit it records, does not say where.
            TEMPLATE,
            ANSWERS["_template_version"],
            ANSWERS["pipeline"],
            ANSWERS["pipeline_templates_repository"],
        ),
    ]
    for message in filter(None, messages):
        print(message, file=sys.stderr)
