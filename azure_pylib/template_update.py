"""Bring a library made from this template to the template's newest release, in
a pull request: what the library's template-updates pipeline runs every week.

    python3 -m azure_pylib template-update [LIBRARY_DIR]

In a checkout of the library's main branch, this
1. reads .cruft.json: where the template is, and the release the library is at;
2. finds the template's newest release, a tag vX.Y.Z that releases.problems accepts;
   if the library is at it, does nothing;
3. runs `cruft update --checkout vX.Y.Z` on the branch template-update, commits
   the result (conflict markers too) and pushes it;
4. opens a pull request into main holding the changelog entries between the
   two releases (a draft that lists the conflicted files, if any), or updates
   the one that is open.

A template-update branch with commits of anyone else is left as it is.

In a pipeline the job token (SYSTEM_ACCESSTOKEN) reads the template, and
calls the REST API for the pull request: the build identity needs Contribute,
Create branch and Contribute to pull requests on the library's repository
(docs/fleet.md). The organization, project and repository come from the
pipeline's variables, or --organization, --project and --repository (and a
PAT in AZURE_DEVOPS_EXT_PAT) elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

from azure_pylib import releases
from azure_pylib.devops import (
    AzureDevOps,
    AzureDevOpsError,
    PullRequests,
    build_identities_of,
    credential,
    server_url,
)

BRANCH = "template-update"
TARGET = "main"
TEMPLATE = "cookiecutter-azure-pylib"
COMMIT_SUBJECT = f"Update to {TEMPLATE} "  # + the version
# Who commits, where git has no identity (a pipeline's agent).
AUTHOR = ["-c", "user.name=Template update", "-c", "user.email=template-update@invalid"]
GIT_TIMEOUT = 300


class UpdateError(Exception):
    """Why the update cannot go on, in one sentence."""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UpdateError(f"{command[0]} {command[1]} did not finish: {error}")
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise UpdateError(
            f"`{' '.join(command[:3])} ...` failed: {' / '.join(last) or 'no output'}"
        )
    return done.stdout


def git_environment(env: dict[str, str], template: str) -> dict[str, str]:
    """`env` for git and cruft: the job token signs in to the template's
    repository only, through the environment (never a file)."""
    token = env.get("SYSTEM_ACCESSTOKEN")
    if not token or not template.startswith("https://"):
        return dict(env)
    count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    return {
        **env,
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": f"http.{template}.extraheader",
        f"GIT_CONFIG_VALUE_{count}": f"AUTHORIZATION: bearer {token}",
        "GIT_TERMINAL_PROMPT": "0",
    }


def recorded(library: Path) -> tuple[str, str]:
    """The template's location and the release the library is at (.cruft.json)."""
    try:
        cruft = json.loads((library / ".cruft.json").read_text(encoding="utf-8"))
        template = cruft["template"]
        release = cruft["context"]["cookiecutter"]["_template_version"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise UpdateError(
            f"{library / '.cruft.json'} does not say which template and release"
            f" the library comes from ({type(error).__name__}): link it with"
            " `cruft link` first (README.md, 'Keeping generated projects up to date')"
        ) from None
    if not isinstance(template, str) or not template:
        raise UpdateError(f"{library / '.cruft.json'} names no template URL")
    if not isinstance(release, str) or not releases.TAG.fullmatch(f"v{release}"):
        raise UpdateError(
            f"{library / '.cruft.json'} records _template_version {release!r}, not a"
            " release X.Y.Z such as '1.0.0': set it to the release the library was"
            " made from"
        )
    return template, release


def newer_tags(template: str, current: str, env: dict[str, str], cwd: Path):
    """The template's release tags newer than `current`, newest first."""
    listed = run(["git", "ls-remote", "--tags", "--refs", template], cwd, env)
    tags = [line.rpartition("refs/tags/")[2] for line in listed.splitlines()]
    floor = releases.parsed(current)
    newer = [t for t in tags if (v := releases.version_of(t)) and v > floor]
    return sorted(newer, key=releases.version_of, reverse=True)


def newest_release(
    template: str, current: str, env: dict[str, str], scratch: Path
) -> tuple[str, str] | None:
    """The newest tag that is a whole release, and its CHANGELOG.md."""
    for tag in newer_tags(template, current, env, scratch):
        checkout = scratch / tag
        run(["git", "clone", "--quiet", "--depth=1", "--branch", tag, template,
             str(checkout)], scratch, env)  # fmt: skip
        refused = releases.problems(tag, checkout)
        if not refused:  # problems() read CHANGELOG.md as UTF-8 already
            return tag, (checkout / "CHANGELOG.md").read_text(encoding="utf-8")
        print(f"Skipped {tag}, which is not a whole release: {refused[0]}")
    return None


def conflicted(library: Path, env: dict[str, str]) -> list[str]:
    """Files cruft could not merge: conflict markers, or a .rej beside them."""
    unmerged = run(["git", "diff", "--name-only", "--diff-filter=U"], library, env)
    untracked = run(["git", "ls-files", "--others", "--exclude-standard"], library, env)
    rejected = [
        name.removesuffix(".rej")
        for name in untracked.splitlines()
        if name.endswith(".rej")
    ]
    return sorted(set(unmerged.splitlines()) | set(rejected))


def description(current: str, tag: str, changelog: str, conflicts: list[str]) -> str:
    version = tag.removeprefix("v")
    lines = [
        f"This library was made from {TEMPLATE} {current}. This pull request brings"
        f" it to {version} with `cruft update --checkout {tag}`, made by the"
        " template-updates pipeline.",
        "",
    ]
    if conflicts:
        lines += [
            "**Conflicts.** cruft could not merge these files with your changes."
            " Resolve the conflict markers (or apply the `.rej` file, then delete"
            " it), push to this branch, then publish the draft:",
            "",
            *[f"- `{name}`" for name in conflicts],
            "",
        ]
    lines += [f"## What changed in {TEMPLATE}", ""]
    for entry in releases.entries_between(changelog, current, version):
        lines += [f"### {entry.version} ({entry.date})", "", entry.text, ""]
    return "\n".join(lines).rstrip() + "\n"


def others_commits(library: Path, env: dict[str, str]) -> list[str]:
    """Subjects of the commits on the remote branch that this job did not make."""
    remote = run(["git", "ls-remote", "--heads", "origin", BRANCH], library, env)
    if not remote.strip():
        return []
    fetched = f"+refs/heads/{BRANCH}:refs/remotes/origin/{BRANCH}"
    run(["git", "fetch", "--quiet", "origin", fetched], library, env)
    subjects = run(
        ["git", "log", "--format=%s", f"HEAD..refs/remotes/origin/{BRANCH}"],
        library,
        env,
    )
    return [s for s in subjects.splitlines() if not s.startswith(COMMIT_SUBJECT)]


def unsaved_work(library: Path, env: dict[str, str]) -> str | None:
    """Why switching branches here could lose work, or None: uncommitted
    changes, or commits on the local branch that nobody pushed."""
    if run(["git", "status", "--porcelain"], library, env).strip():
        return (
            f"{library} has uncommitted changes: commit or stash them first (cruft"
            " needs a clean tree); nothing was changed"
        )
    local = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}"],
        cwd=library, env=env, capture_output=True,
    )  # fmt: skip
    if local.returncode:
        return None
    unpushed = run(["git", "log", "--format=%s", f"refs/heads/{BRANCH}", "--not",
                    "HEAD", "--remotes"], library, env).splitlines()  # fmt: skip
    theirs = [s for s in unpushed if not s.startswith(COMMIT_SUBJECT)]
    if theirs:
        return (
            f"The local branch {BRANCH} has commits nobody pushed ({theirs[0]!r}):"
            f" push or delete it first; nothing was changed"
        )
    return None


def updated_branch(library: Path, tag: str, env: dict[str, str]) -> list[str]:
    """Commit `cruft update` to the branch; the conflicted files."""
    run(["git", "switch", "--quiet", "--force-create", BRANCH], library, env)
    run([sys.executable, "-m", "cruft", "update", "--skip-apply-ask",
         "--checkout", tag], library, env)  # fmt: skip
    conflicts = conflicted(library, env)
    run(["git", "add", "--all"], library, env)
    identity = [] if git_has_identity(library, env) else AUTHOR
    message = f"{COMMIT_SUBJECT}{tag.removeprefix('v')}"
    run(["git", *identity, "commit", "--quiet", "--no-verify", "-m", message],
        library, env)  # fmt: skip
    return conflicts


def git_has_identity(library: Path, env: dict[str, str]) -> bool:
    found = subprocess.run(
        ["git", "config", "user.email"], cwd=library, env=env, capture_output=True
    )
    return found.returncode == 0 and bool(found.stdout.strip())


def push(library: Path, env: dict[str, str]) -> bool:
    """Push the branch unless the remote one holds the same files; whether pushed."""
    remote = f"refs/remotes/origin/{BRANCH}"
    known = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{remote}^{{tree}}"],
        cwd=library, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if known.returncode == 0:
        tree = run(["git", "rev-parse", "HEAD^{tree}"], library, env)
        if tree.strip() == known.stdout.strip():
            return False
    lease = run(["git", "rev-parse", remote], library, env).strip() if (
        known.returncode == 0) else ""  # fmt: skip
    run(["git", "push", "--quiet", f"--force-with-lease=refs/heads/{BRANCH}:{lease}",
         "origin", f"HEAD:refs/heads/{BRANCH}"], library, env)  # fmt: skip
    return True


def organization_of(env: dict[str, str]) -> str | None:
    """The organization in System.CollectionUri: dev.azure.com/ORG/ or
    ORG.visualstudio.com."""
    parts = urllib.parse.urlsplit(env.get("SYSTEM_COLLECTIONURI", ""))
    if parts.hostname and parts.hostname.endswith(".visualstudio.com"):
        return parts.hostname.split(".")[0]
    segments = [s for s in parts.path.split("/") if s]
    return segments[-1] if segments else None


def parse_arguments(argv: list[str], env: dict[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m azure_pylib template-update",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("library", nargs="?", type=Path, default=Path.cwd())
    parser.add_argument("--organization", default=organization_of(env))
    parser.add_argument("--project", default=env.get("SYSTEM_TEAMPROJECT"))
    parser.add_argument("--repository", default=env.get("BUILD_REPOSITORY_NAME"))
    arguments = parser.parse_args(argv)
    for name in ("organization", "project", "repository"):
        if not getattr(arguments, name):
            parser.error(f"--{name} is needed outside a pipeline")
    return arguments


def update(arguments: argparse.Namespace, env: dict[str, str]) -> None:
    library = arguments.library.resolve()
    template, current = recorded(library)
    env = git_environment(env, template)
    with tempfile.TemporaryDirectory(prefix="template-update-") as scratch:
        release = newest_release(template, current, env, Path(scratch))
    if release is None:
        print(f"Up to date: the library is at {TEMPLATE} {current}, its newest release")
        return
    tag, changelog = release
    if problem := unsaved_work(library, env):
        raise UpdateError(problem)
    if others := others_commits(library, env):
        print(
            f"Left the branch {BRANCH} as it is: it has commits this job did not"
            f" make ({others[0]!r}). Merge or abandon its pull request, and the next"
            f" run brings {tag}"
        )
        return
    conflicts = updated_branch(library, tag, env)
    pushed = push(library, env)
    print(f"{'Pushed' if pushed else 'Unchanged:'} {BRANCH}, {current} to {tag}")

    azure = AzureDevOps(arguments.organization, credential(env), server_url(env))
    pull_requests = PullRequests(azure, arguments.project, arguments.repository)
    who = "the pipeline's build identity, " + build_identities_of(
        arguments.organization, arguments.project
    )
    title = f"Update to {TEMPLATE} {tag.removeprefix('v')}"
    text = description(current, tag, changelog, conflicts)
    existing = pull_requests.active(BRANCH, TARGET)
    if existing:
        number = existing["pullRequestId"]
        pull_requests.update(number, title, text, who)
        print(f"Updated pull request {number}: {title}")
    else:
        opened = pull_requests.create(BRANCH, TARGET, title, text, bool(conflicts), who)
        kind = f"draft, conflicts in {', '.join(conflicts)}" if conflicts else "ready"
        print(f"Opened pull request {opened['pullRequestId']} ({kind}): {title}")


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv, env)
    try:
        update(arguments, env)
    except (UpdateError, AzureDevOpsError) as error:
        print(f"azure_pylib template-update: {error}", file=sys.stderr)
        return 1
    return 0
