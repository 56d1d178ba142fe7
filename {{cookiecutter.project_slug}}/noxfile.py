#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox[uv]>=2026.8.17"]
# ///
"""Development tasks: ``nox`` runs tests, typecheck and lint; ``nox -l`` lists all."""

import os
import platform
import re
import subprocess
import sys
from glob import glob
from pathlib import Path
from urllib.parse import quote

import nox
from packaging.specifiers import SpecifierSet

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

PROJECT = nox.project.load_toml()
# Azure DevOps' application id: what the Azure CLI gets a token for.
AZURE_DEVOPS = "499b84ac-1321-427f-aa17-267ca6975798"


def install(session: nox.Session, *arguments: str, **env: str) -> None:
    """Install only into a new environment or when pyproject.toml, which declares
    everything installed, has changed: checking again takes longer than the checks."""
    copy = Path(session.virtualenv.location, "pyproject.toml")
    if not copy.exists() or copy.read_text() != Path("pyproject.toml").read_text():
        if "-e" in arguments:  # the project itself: say why it cannot be, in a line
            project_problem(session)
        session.install(*arguments, env=env)
        copying = "import shutil, sys; shutil.copy(*sys.argv[1:])"  # `nox -R` skips it
        session.run_install("python", "-c", copying, "pyproject.toml", str(copy))


def unsupported_python(session: nox.Session) -> None:
    """Stop with the fix on a Python the project does not support."""
    needs = SpecifierSet(PROJECT["project"]["requires-python"])
    python = session.python or platform.python_version()
    if str(python) not in needs:
        minimum = re.sub(r"[^\d.]", "", str(needs).split(",")[0])
        session.error(
            f"Python {python} runs this session and the project needs {needs}: "
            f"nox --force-python {minimum} (uv python install {minimum} gets one)"
        )


def project_problem(session: nox.Session) -> None:
    """Stop with the fix where installing the project would end in a traceback."""
    unsupported_python(session)
    from_git = PROJECT["tool"].get("hatch", {}).get("version", {}).get("source")
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
    # mypy reads the package from src/: its dependencies are installed, not it
    # (building it takes longer than the check).
    unsupported_python(session)  # mypy checks for the Python that runs it
    project = PROJECT["project"]
    extras = project.get("optional-dependencies", {}).values()
    needs = [*project.get("dependencies", []), *(need for e in extras for need in e)]
    install(session, "--group", "typecheck", *needs)
    # One cache for all your libraries, as uv keeps one: the standard library
    # and pytest are analysed once, not again in every new clone.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "mypy")
    cache = os.environ.get("MYPY_CACHE_DIR") or str(cache)
    session.run("mypy", *session.posargs, env={"MYPY_CACHE_DIR": cache})


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


def built(session: nox.Session) -> list[str]:
    """The wheel and sdist, built afresh into dist/, their metadata checked."""
    if Path("dist").is_symlink():  # a link's own files stay where they are
        Path("dist").unlink()
    for stale in glob("dist/*"):  # dist/ may hold files of other versions
        os.remove(stale)
    session.run("python", "-m", "build", "--installer=uv")
    session.run("twine", "check", "--strict", *glob("dist/*"))
    return glob("dist/*")


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Build the wheel and sdist into dist/ and check their metadata."""
    install(session, "--group", "build")
    built(session)


def feed_url(endpoint: str) -> str:
    """URL of the feed's ``simple`` (install) or ``upload`` (publish) endpoint."""
    feed = PROJECT["tool"]["azure-artifacts"]
    scope = [feed["organization"], feed.get("project"), "_packaging", feed["feed"]]
    path = "/".join(quote(part, safe="") for part in scope if part)
    return f"https://pkgs.dev.azure.com/{path}/pypi/{endpoint}/"


def azure_cli_token() -> str:
    """Your Azure CLI account's token for Azure DevOps (after `az login`), or ""."""
    ask = ["az", "account", "get-access-token", "--resource", AZURE_DEVOPS]
    ask += ["--query", "accessToken", "--output", "tsv"]
    try:
        answer = subprocess.run(ask, capture_output=True, text=True, timeout=60)
    except OSError:  # no Azure CLI here
        return ""
    except subprocess.TimeoutExpired:
        return ""
    token = answer.stdout.strip() if answer.returncode == 0 else ""
    return token if re.fullmatch(r"[\w.-]+", token) else ""


def signed_in() -> dict[str, str]:
    """uv's way to the feed, and twine's, when you set no index: the token in
    TWINE_PASSWORD or else your Azure CLI account's, never written anywhere."""
    if os.environ.get("UV_DEFAULT_INDEX"):
        return {}
    pat = os.environ.get("TWINE_PASSWORD", "").strip()
    token, user = (pat, "build") if pat else (azure_cli_token(), "azure-cli")
    if not token:  # uv asks the feed as nobody, and says what it answered
        return {"UV_DEFAULT_INDEX": feed_url("simple")}
    index = feed_url("simple").replace("//", f"//{user}:{quote(token, safe='')}@")
    return {"UV_DEFAULT_INDEX": index, "TWINE_USERNAME": user, "TWINE_PASSWORD": token}


def tools(session: nox.Session, access: dict[str, str]) -> None:
    """Install the publish group (twine and the template's tools) from the
    feed; if the feed does not answer, say which index uv asked and as whom."""
    try:
        install(session, "--group", "publish", **access)
    except nox.command.CommandFailed:
        index = access.get("UV_DEFAULT_INDEX") or os.environ.get("UV_DEFAULT_INDEX")
        asking = "the credential in its URL" if "@" in (index or "") else "nobody"
        if access.get("TWINE_PASSWORD"):
            asking = "the token in TWINE_PASSWORD"
        if access.get("TWINE_USERNAME") == "azure-cli":
            asking = "the Azure CLI's account"
        shown = re.sub(r"//[^/@]*@", "//", index or "PyPI (no UV_DEFAULT_INDEX)")
        session.error(
            f"uv could not install the template's tools from {shown}, asking as"
            f" {asking}: uv says why above; docs/setup.md says how to reach the feed"
        )


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """Build, check, upload to the feed and read it back: docs/publishing.md."""
    access = signed_in()
    tools(session, access)
    upload = [f"{session.bin}/python", "-m", "azure_pylib", "publish"]
    upload += [*session.posargs, *built(session)]
    done = subprocess.run(upload, env={**os.environ, **access}, stdout=subprocess.PIPE)
    said = done.stdout.decode(errors="replace").strip()  # one sentence
    if done.returncode:
        session.error(said.removesuffix("."))
    session.log(said)


@nox.session(default=False)
def doctor(session: nox.Session) -> None:
    """Say why pip, uv or twine cannot use the feed, and the fix."""
    access = signed_in()
    tools(session, access)
    session.run("python", "-m", "azure_pylib", "doctor", *session.posargs, env=access)


if __name__ == "__main__":
    nox.main()
