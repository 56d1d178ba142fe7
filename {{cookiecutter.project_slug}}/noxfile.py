"""Development tasks.

``nox`` runs the tests on every supported Python, the linters and the build.
``nox -s format`` reformats the code with black, ``nox -s publish`` uploads a
release to the Azure Artifacts feed. ``nox -l`` lists all sessions.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit

import nox
from packaging.utils import parse_wheel_filename
from packaging.version import Version

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON_VERSIONS = nox.project.python_versions(PYPROJECT)
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
BUILD_TOOLS = ["build>=1.2", "twine>=6.1"]
# Lets twine sign in to the feed with your Azure DevOps account on a laptop.
KEYRING = "artifacts-keyring>=1.0"

# The feed this library is published to: [tool.azure-artifacts] in pyproject.toml.
FEED = PYPROJECT["tool"]["azure-artifacts"]

# Test, coverage and JUnit reports land here; the pipeline publishes them.
REPORTS = Path("reports")
DIST = Path("dist")


def feed_url(endpoint: str) -> str:
    """URL of the feed's ``simple`` (install) or ``upload`` (publish) endpoint."""
    scope = [FEED["organization"]]
    if "project" in FEED:  # a project-scoped feed
        scope.append(quote(FEED["project"], safe=""))
    scope.append(f"_packaging/{quote(FEED['feed'], safe='')}/pypi/{endpoint}/")
    return "https://pkgs.dev.azure.com/" + "/".join(scope)


def artifact_feed() -> str:
    """The feed as the Azure Pipelines authentication tasks name it."""
    if "project" in FEED:
        return f"{FEED['project']}/{FEED['feed']}"
    return FEED["feed"]


def install(session: nox.Session, *args: str) -> None:
    """Install through the index pip is configured with.

    pip honours pip.conf and PIP_INDEX_URL (the PAT route, and Azure's
    PipAuthenticate task); uv ignores both, so it is told explicitly.
    """
    session.install(*args, env=uv_index_environment(session))


def uv_index_environment(session: nox.Session) -> dict[str, str]:
    index = os.environ.get("PIP_INDEX_URL")
    if session.venv_backend == "uv" and index:
        return {"UV_DEFAULT_INDEX": index}
    return {}


@nox.session(python=PYTHON_VERSIONS)
def tests(session: nox.Session) -> None:
    """Run the test suite with coverage."""
    install(session, "-e", ".[test]")
    name = f"py{session.python}"
    session.run(
        "pytest",
        "--cov",
        "--cov-report=term",
        f"--cov-report=xml:{REPORTS / f'coverage-{name}.xml'}",
        f"--junitxml={REPORTS / f'junit-{name}.xml'}",
        *session.posargs,
        env={"COVERAGE_FILE": str(REPORTS / f".coverage.{name}")},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting with black and style with flake8."""
    install(session, *EXTRAS["lint"])
    session.run("black", "--check", "--diff", ".")
    session.run("flake8")


@nox.session(default=False)
def format(session: nox.Session) -> None:
    """Reformat the code with black."""
    install(session, *EXTRAS["lint"])
    session.run("black", ".")


@nox.session
def build(session: nox.Session) -> None:
    """Build the wheel and sdist into dist/ and check their metadata."""
    # uv builds the isolated build environment in a fraction of pip's time.
    installer = "uv" if session.venv_backend == "uv" else "pip"
    install(session, *BUILD_TOOLS, *(["uv"] if installer == "uv" else []))
    shutil.rmtree(DIST, ignore_errors=True)
    session.run(
        "python",
        "-m",
        "build",
        f"--installer={installer}",
        env=uv_index_environment(session),
    )
    session.run("twine", "check", "--strict", *map(str, DIST.glob("*")))


@nox.session(name="azure-feed", python=False, default=False)
def azure_feed(session: nox.Session) -> None:
    """Set the pipeline variables artifactFeed and feedName from pyproject.toml."""
    print(f"##vso[task.setvariable variable=artifactFeed]{artifact_feed()}")
    print(f"##vso[task.setvariable variable=feedName]{FEED['feed']}")


PUBLISH_OPTIONS = argparse.ArgumentParser(prog="nox -s publish --")
PUBLISH_OPTIONS.add_argument("--allow-dev", action="store_true")
PUBLISH_OPTIONS.add_argument("--dev-only", action="store_true")
PUBLISH_OPTIONS.add_argument("--tag", help="vX.Y.Z: fail unless the version is X.Y.Z")
PUBLISH_OPTIONS.add_argument("--timeout", type=float, default=300, metavar="SECONDS")


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """Build, check and upload to the feed: docs/publishing.md."""
    options = PUBLISH_OPTIONS.parse_args(session.posargs)
    git_status = ["git", "status", "--porcelain"]
    if Path(".git").exists() and session.run(*git_status, external=True, silent=True):
        session.error("Uncommitted changes: commit or stash them first.")
    url, username, password = upload_target(session)
    build(session)
    version = parse_wheel_filename(next(DIST.glob("*.whl")).name)[1]
    if problem := version_problem(version, options):
        session.error(problem)
    if options.dev_only and not version.is_devrelease:
        session.skip(f"{version} is a release: main publishes development versions.")
    # Twine reads its settings from the environment, never from the command line.
    env = {"TWINE_REPOSITORY_URL": url, "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE": "true"}
    if password:  # a PAT goes with any user name
        env |= {"TWINE_USERNAME": username or "build", "TWINE_PASSWORD": password}
    else:  # twine asks artifacts-keyring for your Azure DevOps sign-in
        install(session, KEYRING)
    twine = [f"{session.bin}/twine", "--no-color", "upload", "--non-interactive"]
    twine += ["--verbose", "--disable-progress-bar", *map(str, DIST.glob("*"))]
    shown = re.sub(r"//[^/]*@", "//", url)  # no user-info
    try:
        run = subprocess.run(
            twine,
            env={**os.environ, **env},
            timeout=options.timeout,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    except subprocess.TimeoutExpired:
        session.error(f"{shown} did not answer within {options.timeout:g} s.")
    output = run.stdout
    for secret in filter(None, [password, urlsplit(url).password]):
        output = output.replace(secret, "***")
    statuses = re.findall(r"Response from .*?:\s+(\d\d\d) ", output, re.S)
    refused = [s for s in statuses if s[0] == "3" or s in ("203", "401", "403")]
    advice = "set TWINE_PASSWORD to a PAT (Packaging > Read & write) or sign in again"
    if "409" in statuses:
        there = f"{version} is already on {shown} or was deleted from it"
        if options.dev_only:
            session.skip(f"{there}: nothing new to publish.")
        session.error(f"{there}; versions are immutable: raise the version.")
    if refused or "NonInteractive" in output:  # no credential found at all
        answer = f"HTTP {refused[0]}" if refused else "none found"
        session.error(f"{shown} refused the credentials ({answer}): {advice}.")
    if reason := re.findall(r"ConnectionError: .*?(\[Errno [^'\"]*)", output):
        session.error(f"Cannot reach {shown}: {reason[-1]}")
    if run.returncode or not statuses:
        session.error(f"twine upload to {shown} failed:\n{output}")
    session.log(f"Published {version} to {shown}")


def version_problem(version: Version, options: argparse.Namespace) -> str | None:
    """Why this version must not be published, or None."""
    if version.local:
        return f"{version} has a local version segment, which Azure Artifacts rejects."
    if options.tag is not None and options.tag.removeprefix("v") != str(version):
        return f"The tag {options.tag} does not match the built version {version}."
    if version.is_devrelease and not (options.allow_dev or options.dev_only):
        return (
            f"{version} is a development version: release from a tag (git tag "
            "v1.2.0), or publish it with: nox -s publish -- --allow-dev"
        )
    return None


def upload_target(session: nox.Session) -> tuple[str, str | None, str | None]:
    """URL, user name and password: the .pypirc at PYPIRC_PATH, or TWINE_*."""
    if not (path := os.environ.get("PYPIRC_PATH")):
        url = os.environ.get("TWINE_REPOSITORY_URL") or feed_url("upload")
        return url, os.environ.get("TWINE_USERNAME"), os.environ.get("TWINE_PASSWORD")
    pypirc = configparser.ConfigParser(interpolation=None)
    try:
        pypirc.read_string(Path(path).read_text(encoding="utf-8"))
        section = pypirc[FEED["feed"]]
        return section["repository"], section.get("username"), section.get("password")
    except (OSError, configparser.Error, KeyError) as error:  # never print `error`:
        session.error(  # configparser's messages quote the password line
            f"PYPIRC_PATH must name a .pypirc with a [{FEED['feed']}] section and "
            f"its repository URL: {path} ({type(error).__name__})."
        )
