"""The ```bash blocks of the docs run as written, the way a user pastes them.

Two sessions, each one terminal that keeps its working directory and
environment from block to block: the template's README.md in a fresh clone of
the template, and the generated project's README.md and docs/*.md in a freshly
baked project. The machine is a fresh one: HOME, git and pip settings of
their own, and on PATH only git, a Python and (for the uv route) uv.

Only what the docs themselves mark as yours to fill in is substituted:
`$TEMPLATE` (the template's git URL) is a bare repository standing in for the
organisation's; `vX.Y.Z` is a release number; a PAT "from your secret store"
is a token the stand-in takes; questions are answered through stdin. Azure
DevOps is its stand-ins at its own host names (tests/azure_stand_in.py,
tests/feed_stand_in.py), and the Azure CLI a program on PATH that answers as az
does once signed in. nox sees only the running Python (NOXFORCEPYTHON), as on
a machine with one interpreter.

Every block is either run or listed in NOT_RUN with the reason; a block that
is neither fails test_every_documented_command_is_run_or_listed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import uv

from tests.baking import (
    DEFAULTS,
    EVERYTHING_ON,
    TEMPLATE,
    BakedProject,
    bake,
    hosted_template,
    isolated_git_env,
)
from tests.azure_stand_in import ADMIN_PAT, SECRETS, azure_cli, entra_token
from tests.index_server import isolated_environment

TEMPLATE_README = "template:README.md"  # the project's own pages keep their names
PROJECT = "my-shared-utils"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
RELEASE = DEFAULTS["_template_version"]  # the template's release, in CHANGELOG.md

# Blocks not run here, by page and how the block starts, and why.
NOT_RUN = {
    (TEMPLATE_README, "nox -s tests\n"): "the template's whole suite, which this "
    "test is part of (.ci/run runs it as written)",
    (TEMPLATE_README, 'nox -s tests -- -m "not slow"'): "the template's own suite "
    "and benchmark, which this test is part of (.ci/run runs nox -s tests, lint)",
    ("docs/setup.md", "pipx install keyring"): "needs Azure DevOps: "
    "artifacts-keyring signs in with an Azure DevOps account",
    ("docs/setup.md", "export UV_DEFAULT_INDEX=https://VssSessionToken"): "needs "
    "Azure DevOps: the token comes from artifacts-keyring",
    ("docs/docker.md", "export PIP_INDEX_URL="): "needs the feed's URL and a "
    "registry: tests/test_docker.py runs this build against a local index, with "
    "--network host and without the # syntax line's frontend from Docker Hub; "
    "the same `az account get-access-token` line runs in docs/setup.md's block",
    ("docs/docker.md", "FEED=https://"): "needs Azure DevOps: the token comes "
    "from artifacts-keyring (and a Docker engine for the build)",
}

# Blocks the two sessions below run, by page and how the block starts.
RUN = {
    (TEMPLATE_README, "python3 -m venv .venv"),
    (TEMPLATE_README, 'release="v$(python3'),
    (TEMPLATE_README, "python bake.py --no-input"),
    (TEMPLATE_README, "python3 -m pip install cruft"),
    (TEMPLATE_README, "cruft check"),
    (TEMPLATE_README, "cruft update --skip-apply-ask"),
    (TEMPLATE_README, "cd my-shared-utils"),
    (TEMPLATE_README, "git tag --annotate vX.Y.Z"),
    (TEMPLATE_README, "cruft update --checkout vX.Y.Z"),
    ("docs/setup.md", "az login"),
    ("docs/setup.md", 'export PIP_INDEX_URL="https://azure-cli:'),
    ("docs/setup.md", "export AZURE_ARTIFACTS_PAT="),
    ("docs/publishing.md", "nox -s publish\n"),
    ("README.md", "python3 -m venv .venv && . .venv/bin/activate"),
    ("README.md", "uv venv"),
    ("README.md", "git tag -a v1.2.0"),
    ("docs/publishing.md", "TWINE_"),
    ("README.md", "pip install "),
}

# The README's feed setup: a session of its own, against the Azure DevOps stand-in.
FEED_SETUP = {
    (TEMPLATE_README, "export AZURE_DEVOPS_EXT_PAT="),
    (TEMPLATE_README, "python3 -m azure_pylib promote"),
    (TEMPLATE_README, "python3 -m azure_pylib setup my-shared-utils"),
}
RUN |= FEED_SETUP

BLOCK = re.compile(r"^( *)```bash\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def bash_blocks(markdown: str) -> list[str]:
    """The ```bash blocks of a page, the indentation of list items removed."""
    return [textwrap.dedent(block) for _, block in BLOCK.findall(markdown)]


def classify(page: str, block: str) -> str:
    """'run', the reason the block is not run, or '' when it is in neither list."""
    for (listed_page, start), reason in NOT_RUN.items():
        if listed_page == page and block.startswith(start):
            return reason
    run = any(page == listed and block.startswith(start) for listed, start in RUN)
    return "run" if run else ""


def documentation(project: BakedProject) -> dict[str, str]:
    """The template's README and the project's pages, by page name."""
    return {TEMPLATE_README: (TEMPLATE / "README.md").read_text()} | (
        project.documentation()
    )


@pytest.mark.parametrize(
    "answers",
    [{}, {"include_dockerfile": False, "versioning": "static"}, EVERYTHING_ON],
    ids=["defaults", "static-no-docker", "everything-on"],
)
def test_every_documented_command_is_run_or_listed(tmp_path: Path, answers):
    pages = documentation(bake(tmp_path, **answers))
    unclassified = [
        f"{page}:\n{block}"
        for page, text in pages.items()
        for block in bash_blocks(text)
        if not classify(page, block)
    ]
    assert unclassified == [], (
        "each ```bash block must be run by a test here or listed in NOT_RUN:\n"
        + "\n".join(unclassified)
    )


@pytest.mark.parametrize("page, start", NOT_RUN, ids=lambda value: value[:24])
def test_listed_command_is_not_run_here(tmp_path: Path, page: str, start: str):
    pages = documentation(bake(tmp_path, **EVERYTHING_ON))
    assert any(block.startswith(start) for block in bash_blocks(pages[page]))
    first_line = start.splitlines()[0]
    pytest.skip(f"{page}: `{first_line} ...` is not run: {NOT_RUN[page, start]}")


# --- the sessions ------------------------------------------------------------


class Terminal:
    """bash, block after block, keeping the working directory and environment."""

    def __init__(self, pages: dict[str, str], cwd: Path, env: dict[str, str]):
        self.pages, self.cwd, self.env = pages, cwd, env
        self.ran: set[tuple[str, str]] = set()

    def block(self, page: str, start: str) -> str:
        (block,) = [b for b in bash_blocks(self.pages[page]) if b.startswith(start)]
        return block

    def paste(
        self,
        page: str,
        start: str,
        stdin: str = "",
        replace: dict[str, str] | None = None,
    ) -> str:
        """Run the block as pasted, with the placeholders the page names filled in."""
        block = written = self.block(page, start)
        for placeholder, value in (replace or {}).items():
            assert placeholder in block, placeholder
            block = block.replace(placeholder, value)
        with tempfile.TemporaryDirectory() as state:
            save = f'\npwd > "{state}/cwd"\nenv -0 > "{state}/env"\n'
            result = subprocess.run(
                ["bash", "-c", "set -eo pipefail\n" + block + save],
                cwd=self.cwd,
                env=self.env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, (
                f"{page}: this block failed with exit code {result.returncode}:\n"
                f"{block}--- stdout ---\n{result.stdout}\n"
                f"--- stderr ---\n{result.stderr}"
            )
            self.cwd = Path(Path(state, "cwd").read_text().strip())
            variables = Path(state, "env").read_text().split("\0")
        self.env = dict(item.split("=", 1) for item in variables if "=" in item)
        self.ran.add((page, written))
        return result.stdout + result.stderr

    def shell(self, command: str, cwd: Path | None = None) -> str:
        """A step of the test's own (not a documented one), in the same environment."""
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd or self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        return result.stdout

    def assert_ran_every_block_to_run(self, session: set[tuple[str, str]]) -> None:
        """Every block of this session's pages that RUN lists for `session`."""
        listed_to_run = {
            (page, block)
            for page, text in self.pages.items()
            for block in bash_blocks(text)
            if any(page == p and block.startswith(start) for p, start in session)
        }
        assert listed_to_run - self.ran == set()


def fresh_machine(home: Path, tools: Path, **variables: str) -> dict[str, str]:
    """HOME, git and pip settings of its own; on PATH git, bash, a Python and uv."""
    tools.mkdir(parents=True)
    python = Path(getattr(sys, "_base_executable", sys.executable))
    for name in ("python3", f"python{PYTHON}"):
        (tools / name).symlink_to(python)
    (tools / "uv").symlink_to(uv.find_uv_bin())
    git = isolated_git_env(home)  # HOME and git settings, in a copy of os.environ
    own = {name: value for name, value in git.items() if name.startswith("GIT_")}
    env = {
        name: value
        for name, value in isolated_environment(HOME=git["HOME"], **own).items()
        if not name.startswith(
            ("VIRTUAL_ENV", "PYTHON", "NOX", "CONDA", "COOKIECUTTER_")
        )
    }
    env.update(PATH=os.pathsep.join([str(tools), "/usr/bin", "/bin"]), **variables)
    return env


@pytest.mark.slow
def test_template_readme_commands_work_as_written(tmp_path: Path):
    home = tmp_path / "home"
    setup = isolated_git_env(tmp_path / "setup-home")
    hosted = hosted_template(tmp_path, setup)  # as shipped: no tags
    env = fresh_machine(
        home,
        tmp_path / "tools",
        TEMPLATE=f"file://{hosted.as_posix()}",
        NOXFORCEPYTHON=PYTHON,
    )
    clone = tmp_path / "tpl"  # named otherwise than the template, as users may
    subprocess.run(["git", "clone", "-q", hosted, clone], env=env, check=True)
    readme = {TEMPLATE_README: (TEMPLATE / "README.md").read_text()}
    terminal = Terminal(readme, clone, env)

    # Quick start, in the clone: bake the defaults, with nothing to warn of,
    # and the first nox is green.
    printed = terminal.paste(TEMPLATE_README, "python3 -m venv .venv")
    assert "Created a git repository on branch main" in printed
    assert " tag" not in printed[printed.index("Created a git repository") :]
    terminal.shell("cd my-shared-utils && nox")

    # The organisation tags the release it imported, and pushes the tag.
    terminal.paste(TEMPLATE_README, 'release="v$(python3')
    assert f"refs/tags/v{RELEASE}" in terminal.shell(f"git ls-remote --tags {hosted}")

    # cruft: create (the questions answered with the defaults), check and diff.
    terminal.cwd = home
    terminal.paste(TEMPLATE_README, "python3 -m pip install cruft", "\n" * 40)
    created = terminal.cwd
    assert created == home / PROJECT
    terminal.paste(TEMPLATE_README, "cruft check")

    def template_commit(ignored: str) -> None:
        """The template moves on: one more line in the generated .gitignore."""
        gitignore = clone / "{{cookiecutter.project_slug}}" / ".gitignore"
        gitignore.write_text(gitignore.read_text() + f"{ignored}\n")
        terminal.shell(f"git commit -qam 'Ignore {ignored}' && git push -q", clone)

    template_commit(".ruff_cache/")
    terminal.paste(TEMPLATE_README, "cruft update --skip-apply-ask")
    assert ".ruff_cache/" in (created / ".gitignore").read_text()
    assert terminal.shell("git status --porcelain", created) == ""

    # Adopting cruft in the project the Quick start baked in the clone.
    terminal.cwd = clone
    terminal.paste(
        TEMPLATE_README, "cd my-shared-utils", replace={"vX.Y.Z": f"v{RELEASE}"}
    )
    assert (clone / PROJECT / ".cruft.json").is_file()

    # bake.py in the clone (after the adoption: its bakes replace the replay
    # file): the given answers, then prompted ones (a new name, other defaults).
    terminal.cwd = clone
    terminal.paste(TEMPLATE_README, "python bake.py", "Prompted Utils\n" + "\n" * 40)
    assert "Data%20Platform" in (home / "src/my-shared-utils/README.md").read_text()
    assert (home / "src/prompted-utils/pyproject.toml").is_file()

    # A release of the template (the entries moved and committed), then follow it.
    template_commit(".mypy_cache/")
    terminal.cwd = clone
    terminal.paste(
        TEMPLATE_README, "git tag --annotate vX.Y.Z", replace={"X.Y.Z": "1.3.0"}
    )
    terminal.cwd = created
    terminal.paste(
        TEMPLATE_README, "cruft update --checkout vX.Y.Z", replace={"X.Y.Z": "1.3.0"}
    )
    assert ".mypy_cache/" in (created / ".gitignore").read_text()

    terminal.assert_ran_every_block_to_run(RUN - FEED_SETUP)


def test_template_readme_feed_setup_commands_work_as_written(tmp_path: Path, azure):
    """Against the Azure DevOps stand-in: "Creating a Python Feed" and "Feed
    Retention and Cleanup" of the user's guide, as the README's commands."""
    org = azure.org
    setup = isolated_git_env(tmp_path / "setup-home")
    hosted = hosted_template(tmp_path, setup)
    env = fresh_machine(tmp_path / "home", tmp_path / "tools", **azure.network.env())
    clone = tmp_path / "tpl"
    subprocess.run(["git", "clone", "-q", hosted, clone], env=env, check=True)
    bake(clone)  # the Quick start's my-shared-utils
    readme = {TEMPLATE_README: (TEMPLATE / "README.md").read_text()}
    terminal = Terminal(readme, clone, env)
    pat = {"AZURE_DEVOPS_EXT_PAT=...": f"AZURE_DEVOPS_EXT_PAT={ADMIN_PAT}"}

    printed = terminal.paste(
        TEMPLATE_README, "export AZURE_DEVOPS_EXT_PAT=", replace=pat
    )

    (feed,) = org.feeds
    assert feed["upstreamSources"][0]["name"] == "PyPI"
    assert org.retention[feed["id"]]["countLimit"] == 20
    # The feed, retention, two roles; the template's two pipelines and policy.
    assert printed.count("Would ") == printed.count("Did ") == 7
    assert [p["name"] for p in org.pipelines["myproject"]] == [
        "cookiecutter-azure-pylib",
        "Renovate",
    ]
    assert org.pipelines["myproject"][1]["configuration"]["path"] == (
        "/pipelines/renovate.yml"
    )

    org.publish("myproject", "python-internal", "my-shared-utils", "0.1.0")
    terminal.paste(TEMPLATE_README, "python3 -m azure_pylib promote")
    assert list(org.versions.values()) == [["Local", "Release"]]

    printed += terminal.paste(
        TEMPLATE_README, "python3 -m azure_pylib setup my-shared-utils"
    )
    assert [p["name"] for p in org.pipelines["myproject"]][2:] == [
        "my-shared-utils",
        "my-shared-utils template updates",
    ]
    assert len(org.policies["myproject"]) == 2
    assert not any(secret in printed for secret in SECRETS)
    terminal.assert_ran_every_block_to_run(FEED_SETUP)


@pytest.mark.slow
def test_generated_docs_commands_work_as_written(tmp_path: Path, feed):
    """Against the feed stand-in at pkgs.dev.azure.com, with a program `az`
    on PATH that answers as the Azure CLI does once signed in."""
    project = bake(tmp_path / "baked")
    pages = project.documentation()
    token = entra_token("dev@contoso.com")
    feed.tokens[token] = None  # the account's own roles on the feed
    env = fresh_machine(
        tmp_path / "home", tmp_path / "tools", NOXFORCEPYTHON=PYTHON, **feed.env()
    )
    azure_cli(tmp_path / "tools", token)
    terminal = Terminal(pages, project.path, env)
    origin = tmp_path / "origin.git"  # Azure Repos' stand-in for the release tag
    terminal.shell(f"git init -q --bare {origin} && git remote add origin {origin}")

    # One-time setup signed in with the Azure CLI; develop with uv, then start
    # over with pip (nox's environments stay), whose virtual environment stays
    # active from here on.
    terminal.paste("docs/setup.md", "az login")
    terminal.paste("docs/setup.md", 'export PIP_INDEX_URL="https://azure-cli:')
    terminal.paste("README.md", "uv venv")
    terminal.shell("rm -r .venv")
    terminal.paste("README.md", "python3 -m venv .venv && . .venv/bin/activate")

    # Release: tag and push, then publish from this machine as the signed-in user.
    terminal.paste("README.md", "git tag -a v1.2.0")
    assert "refs/tags/v1.2.0" in terminal.shell(f"git ls-remote --tags {origin}")
    printed = terminal.paste("docs/publishing.md", "nox -s publish\n")
    assert f"Published 1.2.0 to {feed.upload_url}" in printed
    assert f"{project.package}-1.2.0-py3-none-any.whl" in feed.files()

    # The PAT fallback: publishing again finds the release whole.
    terminal.paste(
        "docs/setup.md",
        "export AZURE_ARTIFACTS_PAT=",
        replace={"AZURE_ARTIFACTS_PAT=...": f"AZURE_ARTIFACTS_PAT={feed.token}"},
    )
    printed = terminal.paste("docs/publishing.md", "TWINE_")
    assert "1.2.0 is on" in printed and "already, whole" in printed

    # Install in another project's fresh virtual environment, and use it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    terminal.shell("python3 -m venv .venv", elsewhere)
    terminal.cwd = elsewhere
    terminal.env["VIRTUAL_ENV"] = str(elsewhere / ".venv")
    terminal.env["PATH"] = f"{elsewhere}/.venv/bin{os.pathsep}{terminal.env['PATH']}"
    terminal.paste("README.md", "pip install ")
    (use,) = re.findall(r"^```python\n(.*?)^```", pages["README.md"], re.M | re.S)
    printed = terminal.shell(f"python -c {shlex.quote(use)}")
    assert printed == "[0, 1, 2, 3]\n[4, 5, 6, 7]\n[8, 9]\n"

    terminal.assert_ran_every_block_to_run(RUN - FEED_SETUP)
    folders = (project.path, elsewhere, tmp_path / "home")
    for secret in (feed.token, token):
        assert [
            path
            for folder in folders
            for path in folder.rglob("*")
            if path.is_file() and secret.encode() in path.read_bytes()
        ] == [], "a token on disk"


def test_every_template_release_the_readme_names_is_the_released_one():
    """A command naming a tag works against the repository as shipped: the
    newest release of CHANGELOG.md, which is `_template_version`."""
    readme = (TEMPLATE / "README.md").read_text()
    changelog = (TEMPLATE / "CHANGELOG.md").read_text()
    releases = re.findall(
        r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d\d-\d\d$", changelog, re.M
    )
    named = set(re.findall(r"(?:--checkout |refs/tags/)v(\d+\.\d+\.\d+)", readme))
    assert releases and releases[0] == RELEASE
    assert named <= set(releases)
