#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox[uv]>=2026.8.17"]
# ///
"""Development tasks: ``nox`` runs tests, typecheck and lint; ``nox -l`` lists all."""

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from glob import glob
from pathlib import Path
from urllib.parse import quote

import nox
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import Version

nox.needs_version = ">=2026.8.17"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
# Sessions run on the Python that runs nox; the pipeline names each supported
# one (--force-python 3.13). A Python that is missing fails, never downloads.
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True

# A bare `nox` runs its checks side by side; any other run is streamed to your
# terminal as it goes (so `nox -s tests -- --pdb` can stop in the debugger).
if len(sys.argv) == 1 and "NOXSESSION" not in os.environ:
    nox.options.parallel = "auto"

# Installs go through the index pip is configured with, the feed: uv ignores
# PIP_INDEX_URL (set by Azure's PipAuthenticate task, or by you with a PAT).
if os.environ.get("PIP_INDEX_URL"):
    os.environ.setdefault("UV_DEFAULT_INDEX", os.environ["PIP_INDEX_URL"])


def install(session: nox.Session, *arguments: str) -> None:
    """Install only into a new environment or when pyproject.toml, which declares
    everything installed, has changed: checking again takes longer than the checks."""
    if "-e" in arguments:  # the project itself: say why it cannot be, in a line
        project_problem(session)
    copy = Path(session.virtualenv.location, "pyproject.toml")
    if not copy.exists() or copy.read_text() != Path("pyproject.toml").read_text():
        session.install(*arguments)
        copying = "import shutil, sys; shutil.copy(*sys.argv[1:])"  # `nox -R` skips it
        session.run_install("python", "-c", copying, "pyproject.toml", str(copy))


def project_problem(session: nox.Session) -> None:
    """Stop with the fix where installing the project would end in a traceback."""
    project = nox.project.load_toml()
    needs = SpecifierSet(project["project"]["requires-python"])
    python = session.python or platform.python_version()
    if str(python) not in needs:
        minimum = re.sub(r"[^\d.]", "", str(needs).split(",")[0])
        session.error(
            f"Python {python} runs this session and the project needs {needs}: "
            f"nox --force-python {minimum} (uv python install {minimum} gets one)"
        )
    from_git = project["tool"].get("hatch", {}).get("version", {}).get("source")
    head = ["git", "rev-parse", "--verify", "--quiet", "HEAD"]
    if from_git == "vcs" and subprocess.run(head, capture_output=True).returncode:
        session.error(
            "The version comes from git, which has no commit here yet: git init "
            '--initial-branch=main && git add --all && git commit -m "Initial commit"'
        )


# Options that run part of the tests, whose coverage is then partial.
SELECTING = {"-k", "-m", "--lf", "--last-failed", "--deselect", "--sw", "--stepwise"}


@nox.session(allow_parallel=True)
def tests(session: nox.Session) -> None:
    """Run the tests and the docstring examples with coverage."""
    install(session, "--group", "test", "-e", ".")
    reports = ["--cov-report=term-missing", "--cov-report=xml:reports/coverage.xml"]
    reports.append("--junitxml=reports/junit.xml")
    if any(a in SELECTING or not a.startswith("-") for a in session.posargs):
        session.log("Some tests selected: coverage is reported, not enforced")
        reports.append("--cov-fail-under=0")
    session.run("pytest", "--cov", *reports, *session.posargs)


@nox.session(allow_parallel=True)
def typecheck(session: nox.Session) -> None:
    """Check the types with mypy, strict (settings in pyproject.toml)."""
    install(session, "--group", "typecheck", "-e", ".")
    session.run("mypy", *session.posargs)


@nox.session(python=False, default=False)
def doctor(session: nox.Session) -> None:
    """Say why pip, uv or twine cannot use the feed, and the fix (installs nothing)."""
    session.run(sys.executable, "tools/feed_doctor.py", *session.posargs)


@nox.session(allow_parallel=True)
def lint(session: nox.Session) -> None:
    """Check formatting with black and style with flake8, both every time."""
    install(session, "--group", "lint")
    failed = []
    for check in (["black", "--check", "."], ["flake8"]):  # --diff skips the cache
        try:
            session.run(*check)
        except nox.command.CommandFailed:
            failed.append(check[0])
    if "black" in failed:
        session.run("black", "--diff", "--quiet", ".")
    if failed:
        fix = "; nox -s format fixes the formatting" if "black" in failed else ""
        session.error(f"{' and '.join(failed)} found problems, shown above{fix}")


@nox.session(default=False)
def format(session: nox.Session) -> None:
    """Reformat the code with black."""
    install(session, "--group", "lint")
    session.run("black", ".")


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Build the wheel and sdist into dist/ and check their metadata."""
    install(session, "--group", "build")
    if Path("dist").is_symlink():  # rmtree keeps a link's files: upload no stale one
        Path("dist").unlink()
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--installer=uv")
    session.run("twine", "check", "--strict", *glob("dist/*"))


def feed_url(endpoint: str) -> str:
    """URL of the feed's ``simple`` (install) or ``upload`` (publish) endpoint."""
    feed = nox.project.load_toml()["tool"]["azure-artifacts"]
    scope = [feed["organization"], feed.get("project"), "_packaging", feed["feed"]]
    path = "/".join(quote(part, safe="") for part in scope if part)
    return f"https://pkgs.dev.azure.com/{path}/pypi/{endpoint}/"


PUBLISH_OPTIONS = argparse.ArgumentParser(prog="nox -s publish --")
PUBLISH_OPTIONS.add_argument("--allow-dev", action="store_true")
PUBLISH_OPTIONS.add_argument("--dev-only", action="store_true")
PUBLISH_OPTIONS.add_argument("--tag", help="vX.Y.Z: fail unless the version is X.Y.Z")
PUBLISH_OPTIONS.add_argument("--timeout", type=float, default=300, metavar="SECONDS")


def version_problem(version: Version, options: argparse.Namespace) -> str | None:
    """Why this version must not be published, or None."""
    if version.local:
        return f"{version} has a local version segment, which Azure Artifacts rejects"
    if options.tag is not None and options.tag.removeprefix("v") != str(version):
        return f"The tag {options.tag} does not match the built version {version}"
    if version.is_devrelease and not (options.allow_dev or options.dev_only):
        return (
            f"{version} is a development version: release from a tag (git tag "
            f"v{str(version).split('.dev')[0]}), or publish it with: "
            "nox -s publish -- --allow-dev"
        )
    return None


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """Build, check and upload to the feed: docs/publishing.md."""
    options = PUBLISH_OPTIONS.parse_args(session.posargs)
    status = ["git", "status", "--porcelain"]
    if Path(".git").exists() and session.run(*status, external=True, silent=True):
        session.error("Uncommitted changes: commit or stash them first")
    build(session)
    version = parse_wheel_filename(next(Path("dist").glob("*.whl")).name)[1]
    if problem := version_problem(version, options):
        session.error(problem)
    if options.dev_only and not version.is_devrelease:
        session.skip(f"{version} is a release: main publishes development versions")
    url = os.environ.get("TWINE_REPOSITORY_URL") or feed_url("upload")
    env = {**os.environ, "TWINE_REPOSITORY_URL": url}  # twine's settings, not argv
    if os.environ.get("TWINE_PASSWORD"):  # a PAT goes with any user
        env.setdefault("TWINE_USERNAME", "build")
    else:  # twine asks artifacts-keyring for your Azure DevOps sign-in, no prompt
        env.setdefault("ARTIFACTS_KEYRING_NONINTERACTIVE_MODE", "true")
        session.install("--group", "publish")
        # artifacts-keyring has no wheel for some Pythons (docs/publishing.md).
        probe = "import importlib.util as u, sys; u.find_spec('artifacts_keyring') or"
        probe += " print(f'Python {sys.version[:4]} on {sys.platform}')"
        if python := session.run("python", "-c", probe, silent=True).strip():
            session.error(
                f"artifacts-keyring has no release for {python}: set "
                "TWINE_PASSWORD to a PAT (Packaging > Read & write)"
            )
    # One file at a time, retried while the feed is busy, then read back.
    upload = [f"{session.bin}/python", "tools/upload.py", *glob("dist/*")]
    upload.append(f"--timeout={options.timeout}")
    run = subprocess.run(upload, env=env, stdout=subprocess.PIPE, text=True)
    said = run.stdout.strip()
    if run.returncode == 2 and options.dev_only:
        session.skip(f"{said}: nothing new to publish")
    if run.returncode == 2:
        session.error(f"{said}; versions are immutable: raise the version")
    if run.returncode:
        session.error(said or f"tools/upload.py failed (exit {run.returncode})")
    session.log(said)


if __name__ == "__main__":
    nox.main()
