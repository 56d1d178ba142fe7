"""Development tasks.

``nox`` runs the tests on every supported Python, the linters and the build.
``nox -s format`` reformats the code with black, ``nox -s publish`` uploads a
release to the Azure Artifacts feed. ``nox -l`` lists all sessions.
"""

from __future__ import annotations

import base64
import configparser
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nox
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

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


@nox.session(default=False)
def coverage(session: nox.Session) -> None:
    """Combine the coverage data of every Python into reports/coverage.xml."""
    install(session, *EXTRAS["test"])
    data = sorted(map(str, REPORTS.glob(".coverage.*")))
    combined = {"COVERAGE_FILE": str(REPORTS / ".coverage")}
    session.run("coverage", "combine", "--keep", *data, env=combined)
    session.run("coverage", "xml", "-o", str(REPORTS / "coverage.xml"), env=combined)


@nox.session(name="azure-feed", python=False, default=False)
def azure_feed(session: nox.Session) -> None:
    """Set the pipeline variables artifactFeed and feedName from pyproject.toml."""
    print(f"##vso[task.setvariable variable=artifactFeed]{artifact_feed()}")
    print(f"##vso[task.setvariable variable=feedName]{FEED['feed']}")


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """Build, check and upload to the feed.

    Options after ``--``: ``--allow-dev`` publishes a development version,
    ``--dev-only`` publishes only a development version (the pipeline on
    main), ``--tag vX.Y.Z`` fails unless the built version is X.Y.Z.
    TWINE_REPOSITORY_URL overrides the upload URL; TWINE_USERNAME and
    TWINE_PASSWORD (a PAT) or the PYPIRC_PATH of Azure's TwineAuthenticate
    task provide credentials, artifacts-keyring otherwise.
    """
    options = PublishOptions.parse(session.posargs)
    if uncommitted := uncommitted_changes(session):
        session.error(
            "The git tree has uncommitted changes; commit or stash them so the "
            f"published files match a commit:\n{uncommitted}"
        )
    build(session)
    version = built_version(DIST)
    if problem := version_problem(version, options):
        session.error(problem)
    if options.dev_only and not version.is_devrelease:
        session.skip(
            f"{version} is a release version: main publishes development "
            "versions only, releases are published from their tag."
        )

    repository = Repository.from_environment()
    if repository.username is None and repository.pypirc is None:
        install(session, KEYRING)
        repository = repository.with_keyring_credentials(session)
    try:
        already_there = repository.files_of(PYPROJECT["project"]["name"], version)
    except PublishError as error:
        session.error(str(error))
    if already_there:
        session.error(
            f"{version} is already on {repository.simple_url} "
            f"({', '.join(already_there)}). Versions on Azure Artifacts are "
            "immutable: raise the version to publish again."
        )
    session.run("twine", "upload", "--non-interactive", *repository.twine_options())
    session.log(f"Published {version} to {repository.upload_url}")


@dataclass(frozen=True)
class PublishOptions:
    allow_dev: bool = False
    dev_only: bool = False
    tag: str | None = None

    @classmethod
    def parse(cls, arguments: list[str]) -> PublishOptions:
        remaining = list(arguments)
        tag = None
        if "--tag" in remaining:
            position = remaining.index("--tag")
            tag = remaining[position + 1] if position + 1 < len(remaining) else ""
            del remaining[position : position + 2]
        unknown = set(remaining) - {"--allow-dev", "--dev-only"}
        if unknown or tag == "":
            raise SystemExit(
                "usage: nox -s publish -- [--allow-dev | --dev-only] [--tag vX.Y.Z]"
            )
        return cls("--allow-dev" in remaining, "--dev-only" in remaining, tag)


def version_problem(version: Version, options: PublishOptions) -> str | None:
    """Why this version must not be published, or None."""
    if version.local:
        return (
            f"{version} has a local version segment, which Azure Artifacts "
            "rejects: build from a clean checkout."
        )
    if options.tag is not None and version != tag_version(options.tag):
        return (
            f"The tag {options.tag} does not match the built version {version}: "
            "tag the commit the version comes from."
        )
    if version.is_devrelease and not (options.allow_dev or options.dev_only):
        return (
            f"{version} is a development version: release from a tag "
            "(git tag v1.2.0), or pass --allow-dev to publish it anyway."
        )
    return None


def tag_version(tag: str) -> Version | None:
    try:
        return Version(tag.removeprefix("v"))
    except InvalidVersion:
        return None


def uncommitted_changes(session: nox.Session) -> str:
    """`git status` of a dirty work tree; empty when clean or not a repository."""
    if shutil.which("git") is None or not Path(".git").exists():
        return ""
    return session.run(
        "git", "status", "--porcelain", external=True, silent=True
    ).strip()


def built_version(dist: Path) -> Version:
    (wheel,) = dist.glob("*.whl")
    return parse_wheel_filename(wheel.name)[1]


class PublishError(Exception):
    """The index cannot be asked or refuses us: a message for the user."""


@dataclass(frozen=True)
class Repository:
    upload_url: str
    username: str | None = None
    password: str | None = None
    pypirc: str | None = None

    @classmethod
    def from_environment(cls) -> Repository:
        """The feed or TWINE_REPOSITORY_URL, with credentials from the environment."""
        if pypirc := os.environ.get("PYPIRC_PATH"):
            section = read_pypirc(pypirc, FEED["feed"])
            return cls(
                section["repository"],
                section.get("username"),
                section.get("password"),
                pypirc,
            )
        password = os.environ.get("TWINE_PASSWORD")
        return cls(
            os.environ.get("TWINE_REPOSITORY_URL") or feed_url("upload"),
            os.environ.get("TWINE_USERNAME", "build") if password else None,
            password,
        )

    def with_keyring_credentials(self, session: nox.Session) -> Repository:
        """Ask keyring, as twine will, so the pre-upload check can sign in too."""
        answer = session.run(
            "python",
            "-c",
            "import keyring, sys; c = keyring.get_credential(sys.argv[1], None); "
            "print(c.username if c else ''); print(c.password if c else '')",
            self.upload_url,
            silent=True,
            success_codes=[0, 1],
        )
        username, _, password = (answer or "").strip().partition("\n")
        if not (username and password):
            return self
        return Repository(self.upload_url, username, password.strip())

    @property
    def simple_url(self) -> str:
        """The index page next to the upload URL (Azure: .../pypi/simple/)."""
        if re.search(r"/upload/?$", self.upload_url):
            return re.sub(r"/upload/?$", "/simple/", self.upload_url)
        return self.upload_url.rstrip("/") + "/simple/"

    def twine_options(self) -> list[str]:
        if self.pypirc:
            return ["--config-file", self.pypirc, "-r", FEED["feed"], *dist_files()]
        return ["--repository-url", self.upload_url, *dist_files()]

    def files_of(self, project: str, version: Version) -> list[str]:
        """Files of this project version the index already holds."""
        url = f"{self.simple_url}{canonicalize_name(project)}/"
        request = urllib.request.Request(url)
        if self.username and self.password:
            token = base64.b64encode(f"{self.username}:{self.password}".encode())
            # Unredirected: the credentials never follow a redirect to another host.
            request.add_unredirected_header("Authorization", f"Basic {token.decode()}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                page = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            if error.code in (401, 403):
                raise PublishError(
                    f"{self.simple_url} refused the credentials (HTTP {error.code}): "
                    "check the PAT (scope Packaging > Read & write) or sign in again."
                ) from None
            raise PublishError(f"{url} answered HTTP {error.code}.") from None
        except (urllib.error.URLError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            raise PublishError(f"Cannot reach {self.simple_url}: {reason}.") from None
        return [name for name in file_names(page) if file_version(name) == version]


def read_pypirc(path: str, section: str) -> dict[str, str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(path)
    if not config.has_section(section):
        raise SystemExit(f"{path} has no [{section}] section for the feed.")
    return dict(config[section])


def dist_files() -> list[str]:
    return sorted(map(str, DIST.glob("*")))


def file_names(simple_page: str) -> list[str]:
    """Link texts of a PEP 503 project page: the distribution file names."""
    return re.findall(r"<a\b[^>]*>\s*([^<]+?)\s*</a>", simple_page)


def file_version(name: str) -> Version | None:
    try:
        if name.endswith(".whl"):
            return parse_wheel_filename(name)[1]
        return parse_sdist_filename(name)[1]
    except ValueError:
        return None
