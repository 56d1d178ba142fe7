"""Libraries follow the template's releases through pull requests.

The template's repository, its release tags and each library's repository are
local git repositories standing in for Azure Repos; the pull requests are the
Azure DevOps stand-in's. The slow tests run the library's generated
pipelines/template-updates.yml on the local agent, as the schedule would.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from azure_pylib import devops, releases, template_update
from tests.azure_stand_in import (
    JOB_TOKEN,
    SECRETS,
    Azure,
    Organization,
    feed_on,
    run_tool,
)
from tests import renovate
from tests.baking import (
    EVERYTHING_ON,
    TEMPLATE,
    bake,
    copy_template,
    isolated_git_env,
)
from tests.feed_stand_in import running_feed
from tests.index_server import IndexServer, running_index_server
from tests.pipeline_runner import Build, LocalAgent, TemplateSource
from tests.static_checks import azure_pipelines_schema_errors

TEMPLATE_NAME = "myproject/cookiecutter-azure-pylib"
UPDATE_PIPELINE = "pipelines/template-updates.yml"
B_ENTRY = (
    "- `.flake8` allows lines of 100 characters; `.gitignore` ignores `.ruff_cache/`."
)


def git(cwd: Path, env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        ["git", *arguments], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"git {' '.join(arguments)}: {done.stderr}"
    return done.stdout.strip()


class Template:
    """The template's repository in Azure Repos, releases tagged vX.Y.Z."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env = copy_template(path), env
        git(path, env, "init", "--quiet", "--initial-branch=main")
        self.version = json.loads((path / "cookiecutter.json").read_text())[
            "_template_version"
        ]
        self.first_release = f"v{self.version}"
        self.commit(f"Release {self.version}")
        self.tag()

    def commit(self, message: str) -> None:
        git(self.path, self.env, "add", "--all")
        git(self.path, self.env, "commit", "--quiet", "-m", message)

    def tag(self, name: str | None = None) -> None:
        name = name or f"v{self.version}"
        git(self.path, self.env, "tag", "--annotate", name, "-m", name)

    def release(self, version: str, entry: str, *edits: tuple[str, str, str]) -> None:
        """Change generated files, raise `_template_version`, write the
        changelog entry, commit and tag."""
        for relative, old, new in edits:
            path = self.path / "{{cookiecutter.project_slug}}" / relative
            text = path.read_text()
            assert old in text, (relative, old)
            path.write_text(text.replace(old, new))
        context = self.path / "cookiecutter.json"
        text = context.read_text()
        context.write_text(
            text.replace(
                f'"_template_version": "{self.version}"',
                f'"_template_version": "{version}"',
            )
        )
        changelog = self.path / "CHANGELOG.md"
        text = changelog.read_text()
        heading = f"## [{self.version}]"
        changelog.write_text(
            text.replace(
                heading, f"## [{version}] - 2026-12-09\n\n{entry}\n\n{heading}"
            )
        )
        self.version = version
        self.commit(f"Release {version}")
        self.tag()


class Library:
    """A library made with `cruft create`, its repository in Azure Repos."""

    def __init__(self, folder: Path, template: Template, release: str, name: str):
        self.env, self.name = template.env, name
        self.remote = folder / f"{name}.git"
        made = folder / "made"
        made.mkdir(parents=True)
        subprocess.run(
            [sys.executable, "-m", "cruft", "create", "--no-input",
             "--checkout", release, str(template.path)],
            cwd=made, env=self.env, check=True, capture_output=True,
        )  # fmt: skip
        self.path = made / "my-shared-utils"
        git(self.path, self.env, "init", "--quiet", "--initial-branch=main")
        self.commit("Initial commit from cookiecutter-azure-pylib")
        git(folder, self.env, "init", "--quiet", "--bare", "--initial-branch=main",
            str(self.remote))  # fmt: skip
        git(self.path, self.env, "remote", "add", "origin", str(self.remote))
        git(self.path, self.env, "push", "--quiet", "origin", "main")

    def commit(self, message: str) -> None:
        git(self.path, self.env, "add", "--all")
        git(self.path, self.env, "commit", "--quiet", "-m", message)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.path / relative
        path.write_text(path.read_text().replace(old, new))
        self.commit(f"Edit {relative}")
        git(self.path, self.env, "push", "--quiet", "origin", "main")

    def branch_file(self, branch: str, relative: str) -> str:
        return git(self.remote, self.env, "show", f"{branch}:{relative}")

    def branches(self) -> set[str]:
        listed = git(self.remote, self.env, "branch", "--format=%(refname:short)")
        return set(listed.split())


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    return isolated_git_env(tmp_path / "home")


@pytest.fixture
def template(tmp_path: Path, git_env: dict[str, str]) -> Template:
    """Released at the template's own version A, then at B (1.99.0)."""
    template = Template(tmp_path / "template", git_env)
    template.release(
        "1.99.0",
        f"### Changed\n\n{B_ENTRY}",
        (".flake8", "max-line-length = 88", "max-line-length = 100"),
        (
            ".gitignore",
            "\n",
            "\n.ruff_cache/\n",
        ),
    )
    return template


@pytest.fixture
def library_at(tmp_path: Path, template: Template, azure):
    """library_at(release, name): a library made at that release, its repository
    in the stand-in, where the job token may contribute pull requests."""

    def make(release: str, name: str) -> tuple[Library, dict]:
        library = Library(tmp_path / "repos", template, release, name)
        return library, stand_in_repository(azure.org, library, JOB_TOKEN)

    return make


def stand_in_repository(org: Organization, library: Library, token: str) -> dict:
    """The library's repository in the stand-in, the job token's identity
    allowed to contribute pull requests."""
    project = org.projects["myproject"]
    repository = {
        "id": f"id-of-{library.name}",
        "name": library.name,
        "project": {"id": project["id"]},
        "pull_requests": [],
        "pull_request_contributors": set(),
        "git": library.remote,
    }
    project["repositories"][library.name] = repository
    identity = org.add_job_token(token, "myproject")
    repository["pull_request_contributors"].add(identity.descriptor)
    return repository


def checkout(library: Library) -> Path:
    """A fresh clone of the library's main branch."""
    clone = library.remote.parent / "checkout"
    subprocess.run(["rm", "-rf", str(clone)], check=True)
    git(library.remote.parent, library.env, "clone", "--quiet", str(library.remote),
        str(clone))  # fmt: skip
    return clone


def run_update(
    library: Library, azure: Azure, token: str = JOB_TOKEN, fresh: bool = True
):
    """`python3 -m azure_pylib template-update` in a fresh clone of the
    library's main branch (or in the clone as it is), with the variables a
    pipeline gives it; its output holds no secret."""
    clone = checkout(library) if fresh else library.remote.parent / "checkout"
    env = {
        **azure.env(library.env),
        "SYSTEM_ACCESSTOKEN": token,
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/myorg/",
        "SYSTEM_TEAMPROJECT": "myproject",
        "BUILD_REPOSITORY_NAME": library.name,
    }
    return run_tool("template-update", cwd=clone, env=env)


def run_pipeline(library: Library, template: Template, index: IndexServer,
                 azure: Azure, workspace: Path):  # fmt: skip
    """The library's pipelines/template-updates.yml on the local agent, as its
    schedule runs it; no output of it holds a secret."""
    agent = LocalAgent(
        library.remote, feed_on(azure, index), workspace / "work" / "1",
        templates=TemplateSource({TEMPLATE_NAME: template.path}),
        repository_name=library.name,
    )  # fmt: skip
    result = agent.run(
        library.path / UPDATE_PIPELINE, Build("refs/heads/main", reason="Schedule")
    )
    for secret in (*SECRETS, index.password):
        assert secret not in result.output
    return result


def active_pull_requests(repository: dict) -> list[dict]:
    return [pr for pr in repository["pull_requests"] if pr["status"] == "active"]


# --- the generated pipeline and the module, read ----------------------------


@pytest.mark.parametrize("answers", [{}, EVERYTHING_ON], ids=["default", "all-on"])
def test_the_update_pipeline_is_valid_and_needs_nothing_from_the_template(
    baked_combination, answers
) -> None:
    project = baked_combination(answers)
    update = project.path / UPDATE_PIPELINE

    errors = azure_pipelines_schema_errors([update])

    assert errors == {str(update): []}
    pipeline = yaml.safe_load(update.read_text())
    # The template's tools come from the feed, at the version pyproject.toml pins.
    assert "resources" not in pipeline and "extends" not in pipeline
    assert pipeline["trigger"] == "none" and pipeline["pr"] == "none"
    (schedule,) = pipeline["schedules"]
    assert schedule["always"] == "true" and schedule["branches"]["include"] == ["main"]
    groups = project.pyproject["dependency-groups"]
    assert groups["template-update"] == ["cruft==2.16.0"]
    assert "python -m azure_pylib template-update" in update.read_text()


def test_the_job_token_reaches_git_through_the_environment_for_the_template_only():
    module = template_update
    template = "https://dev.azure.com/myorg/myproject/_git/cookiecutter-azure-pylib"

    env = module.git_environment({"SYSTEM_ACCESSTOKEN": JOB_TOKEN}, template)

    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == f"http.{template}.extraheader"
    assert env["GIT_CONFIG_VALUE_0"] == f"AUTHORIZATION: bearer {JOB_TOKEN}"
    # A local or SSH template, or no token: nothing added.
    assert module.git_environment({"SYSTEM_ACCESSTOKEN": JOB_TOKEN}, "/srv/t") == {
        "SYSTEM_ACCESSTOKEN": JOB_TOKEN
    }
    assert "GIT_CONFIG_COUNT" not in module.git_environment({}, template)


def test_a_description_longer_than_azure_takes_is_cut_at_a_line_saying_so():
    module = devops
    long = "\n".join(f"- change {n}" for n in range(1000))

    cut = module.fitted(long)

    assert len(cut) <= module.PULL_REQUEST_DESCRIPTION_LIMIT == 4000
    assert cut.endswith("the rest is in CHANGELOG.md.)")
    kept = cut.split("\n\n(Cut")[0].splitlines()
    assert kept == long.splitlines()[: len(kept)]
    assert module.fitted("short") == "short"


# --- the pipeline, on the local agent ----------------------------------------


@pytest.mark.slow
def test_a_new_release_arrives_as_one_pull_request_that_the_next_run_updates(
    tmp_path: Path, template: Template, azure
) -> None:
    org = azure.org
    library = Library(
        tmp_path / "repos", template, template.first_release, "my-shared-utils"
    )
    with running_index_server(tmp_path / "index") as index:
        repository = stand_in_repository(org, library, index.password)

        first = run_pipeline(library, template, index, azure, tmp_path / "agent")
        assert first.succeeded, first.output
        pushed = git(library.remote, library.env, "rev-parse", "template-update")
        second = run_pipeline(library, template, index, azure, tmp_path / "agent")
        assert second.succeeded, second.output

    (pull_request,) = repository["pull_requests"]
    assert pull_request["status"] == "active" and not pull_request["isDraft"]
    assert pull_request["title"] == "Update to cookiecutter-azure-pylib 1.99.0"
    assert pull_request["sourceRefName"] == "refs/heads/template-update"
    assert pull_request["targetRefName"] == "refs/heads/main"
    description = pull_request["description"]
    assert B_ENTRY in description and "### 1.99.0 (2026-12-09)" in description
    assert (
        f"### {template.first_release[1:]} (" not in description
    )  # the release it was at
    step = "Open or update the pull request"
    assert "Opened pull request 1 (ready)" in first.ran("Job", step).output
    assert "Updated pull request 1" in second.ran("Job", step).output
    # The update itself, on the branch; the second run pushed nothing new.
    assert ".ruff_cache/" in library.branch_file("template-update", ".gitignore")
    cruft = json.loads(library.branch_file("template-update", ".cruft.json"))
    assert cruft["checkout"] == "v1.99.0"
    assert git(library.remote, library.env, "rev-parse", "template-update") == pushed
    assert ".ruff_cache/" not in library.branch_file("main", ".gitignore")


# --- the template update, as the pipeline's step runs it --------------------


@pytest.mark.slow
def test_a_library_at_the_newest_release_gets_no_pull_request(
    template: Template, azure, library_at
) -> None:
    org = azure.org
    library, repository = library_at("v1.99.0", "up-to-date")

    done = run_update(library, azure)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Up to date: the library is at")
    assert repository["pull_requests"] == [] and org.requests == []
    assert library.branches() == {"main"}


@pytest.mark.slow
def test_a_conflicting_edit_gives_a_draft_that_names_the_file(
    template: Template, azure, library_at
) -> None:
    library, repository = library_at(template.first_release, "edited")
    library.edit(".flake8", "max-line-length = 88", "max-line-length = 120")

    done = run_update(library, azure)

    assert done.returncode == 0, done.stderr
    (pull_request,) = active_pull_requests(repository)
    assert pull_request["isDraft"]
    assert "**Conflicts.**" in pull_request["description"]
    assert "- `.flake8`\n" in pull_request["description"]
    assert "Opened pull request 1 (draft, conflicts in .flake8)" in done.stdout
    # The conflict is on the branch for a person to resolve; the rest merged.
    flake8 = library.branch_file("template-update", ".flake8")
    assert "max-line-length = 120" in flake8 and "max-line-length = 100" in flake8
    assert ".ruff_cache/" in library.branch_file("template-update", ".gitignore")


@pytest.mark.slow
def test_a_branch_someone_committed_to_is_left_as_it_is(
    template: Template, azure, library_at
) -> None:
    library, repository = library_at(template.first_release, "resolved")
    assert run_update(library, azure).returncode == 0
    clone = library.remote.parent / "checkout"
    git(clone, library.env, "switch", "--quiet", "template-update")
    (clone / "NOTES.md").write_text("Checked by hand\n")
    git(clone, library.env, "add", "NOTES.md")
    git(clone, library.env, "commit", "--quiet", "-m", "Checked by hand")
    git(clone, library.env, "push", "--quiet", "origin", "template-update")
    by_hand = git(library.remote, library.env, "rev-parse", "template-update")

    done = run_update(library, azure)

    assert done.returncode == 0, done.stderr
    assert "Left the branch template-update as it is" in done.stdout
    assert "'Checked by hand'" in done.stdout
    assert git(library.remote, library.env, "rev-parse", "template-update") == by_hand
    assert len(repository["pull_requests"]) == 1


@pytest.mark.slow
def test_a_tag_that_is_not_a_whole_release_is_not_offered(
    template: Template, azure, library_at
) -> None:
    """A v2.0.0 tag on a commit whose _template_version and CHANGELOG.md say
    1.99.0: the release job refuses it, and libraries get 1.99.0."""
    template.tag("v2.0.0")
    library, repository = library_at(template.first_release, "careful")

    done = run_update(library, azure)

    assert done.returncode == 0, done.stderr
    assert "Skipped v2.0.0, which is not a whole release: cookiecutter.json" in (
        done.stdout
    )
    (pull_request,) = repository["pull_requests"]
    assert pull_request["title"] == "Update to cookiecutter-azure-pylib 1.99.0"


@pytest.mark.slow
def test_uncommitted_changes_are_refused_before_switching_branches(
    template: Template, azure, library_at
) -> None:
    library, repository = library_at(template.first_release, "dirty")
    clone = checkout(library)
    (clone / "NOTES.md").write_text("Work in progress\n")

    done = run_update(library, azure, fresh=False)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"azure_pylib template-update: {clone} has uncommitted changes: commit or"
        " stash them first (cruft needs a clean tree); nothing was changed"
    ]
    assert git(clone, library.env, "branch", "--show-current").strip() == "main"
    assert (clone / "NOTES.md").read_text() == "Work in progress\n"
    assert library.branches() == {"main"} and repository["pull_requests"] == []


@pytest.mark.slow
def test_a_local_branch_holding_unpushed_commits_is_never_reset(
    template: Template, azure, library_at
) -> None:
    library, repository = library_at(template.first_release, "unpushed")
    clone = checkout(library)
    git(clone, library.env, "switch", "--quiet", "--create", "template-update")
    (clone / "NOTES.md").write_text("Mine\n")
    git(clone, library.env, "add", "NOTES.md")
    git(clone, library.env, "commit", "--quiet", "-m", "My own work")
    mine = git(clone, library.env, "rev-parse", "HEAD")
    git(clone, library.env, "switch", "--quiet", "main")

    done = run_update(library, azure, fresh=False)

    assert done.returncode == 1
    assert "commits nobody pushed ('My own work')" in done.stderr
    assert git(clone, library.env, "rev-parse", "template-update") == mine
    assert library.branches() == {"main"} and repository["pull_requests"] == []


@pytest.mark.parametrize("recorded", ["1.0.0-dev", "v1.0.0", "", 1, None, ["1.0.0"]])
def test_a_release_cruft_json_records_wrongly_is_one_sentence(
    tmp_path: Path, recorded
) -> None:
    (tmp_path / ".cruft.json").write_text(json.dumps({
        "template": "https://dev.azure.com/myorg/myproject/_git/tpl",
        "context": {"cookiecutter": {"_template_version": recorded}},
    }))  # fmt: skip

    with pytest.raises(template_update.UpdateError) as refused:
        template_update.recorded(tmp_path)

    assert str(refused.value) == (
        f"{tmp_path / '.cruft.json'} records _template_version {recorded!r}, not a"
        " release X.Y.Z such as '1.0.0': set it to the release the library was"
        " made from"
    )


@pytest.mark.parametrize(
    "cookiecutter_json, changelog, expected",
    [
        ('["not", "an", "object"]', "## [1.2.0] - 2026-12-01\n", "unreadable"),
        ('{"_template_version": "1.2.0"}', "## [1.2.0] \u2013 caf\xe9\n", "missing"),
    ],
    ids=["cookiecutter.json a list", "CHANGELOG.md not UTF-8"],
)
def test_a_release_whose_files_cannot_be_read_is_refused_in_words(
    tmp_path: Path, cookiecutter_json: str, changelog: str, expected: str
) -> None:
    (tmp_path / "cookiecutter.json").write_text(cookiecutter_json)
    (tmp_path / "CHANGELOG.md").write_bytes(changelog.encode("latin-1", "replace"))

    refused = releases.problems("v1.2.0", tmp_path)

    assert len(refused) == 1 and expected in refused[0], refused


@pytest.mark.slow
def test_without_the_repository_permissions_the_job_names_them(
    template: Template, azure, library_at
) -> None:
    library, repository = library_at(template.first_release, "locked")
    repository["pull_request_contributors"].clear()

    done = run_update(library, azure)

    assert done.returncode == 1
    (sentence,) = done.stderr.splitlines()
    assert sentence.startswith(
        "azure_pylib template-update: Not allowed to open a pull request"
    )
    assert "needs Contribute, Create branch and Contribute to pull requests" in sentence
    assert "Project Collection Build Service (myorg) or myproject Build Service" in (
        sentence
    )
    assert "TF401027" in sentence


# --- Renovate: the generated configuration, validated and run ----------------

PINNED_UPDATES = {
    # (manager, dependency type, package, current) -> the update Renovate finds
    ("pep621", "dependency-groups", "nox", "==2026.10.20"): "==2099.1.1",
    ("pep621", "dependency-groups", "uv", "==0.13.9"): "==0.99.0",
    ("pep621", "build-system.requires", "hatchling", "==1.33.0"): "==1.40.0",
    ("pep621", "dependency-groups", "black", "==26.10.1"): "==26.11.0",
    ("pre-commit", "pre-commit-python", "nox", "==2026.10.20"): "==2099.1.1",
}
FEED_FILES = [
    "nox-2026.10.20-py3-none-any.whl", "nox-2099.1.1-py3-none-any.whl",
    "uv-0.13.9-py3-none-any.whl", "uv-0.99.0-py3-none-any.whl",
    "hatchling-1.33.0-py3-none-any.whl", "hatchling-1.40.0-py3-none-any.whl",
    "black-26.10.1-py3-none-any.whl", "black-26.11.0-py3-none-any.whl",
    "cookiecutter_azure_pylib-9.0.0-py3-none-any.whl",
]  # fmt: skip
NO_DOCKER_HUB = {"matchHost": "index.docker.io", "enabled": False}
PIPELINE_ENV = {  # what pipelines/renovate.yml maps into Renovate's step
    "SYSTEM_COLLECTIONURI": "https://dev.azure.com/myorg/",
    "SYSTEM_ACCESSTOKEN": JOB_TOKEN,
}


def plain_env(home: Path, **variables: str) -> dict[str, str]:
    """No proxy, no npm or Renovate settings of the machine: only these."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), **variables}


@pytest.mark.slow
@pytest.mark.parametrize("answers", [{}, EVERYTHING_ON], ids=["default", "all-on"])
def test_renovates_validator_accepts_the_generated_configuration(
    baked_combination, answers, tmp_path: Path
) -> None:
    project = baked_combination(answers)

    done = renovate.run(
        "config-validator.js", "--strict", cwd=project.path, env=plain_env(tmp_path)
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validating renovate.json" in done.stdout
    assert "Config validated successfully" in done.stdout


@pytest.mark.slow
def test_renovates_validator_accepts_the_organisation_pipelines_configuration(
    tmp_path: Path,
) -> None:
    config = TEMPLATE / "pipelines" / "renovate-config.js"

    done = renovate.run(
        "config-validator.js", "--strict", str(config), cwd=tmp_path,
        env=plain_env(tmp_path, **PIPELINE_ENV),
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "as global config" in done.stdout and JOB_TOKEN not in done.stdout


@pytest.mark.slow
def test_a_renovate_dry_run_lists_the_pinned_tools_it_would_update_from_the_feed(
    tmp_path: Path,
) -> None:
    """Renovate on the local platform, the feed stand-in at pkgs.dev.azure.com
    as the only network (Renovate honours HTTPS_PROXY), Docker Hub lookups off."""
    project = bake(tmp_path / "bake")
    with running_index_server(tmp_path / "index", fallback_to_pypi=False) as index:
        for name in FEED_FILES:
            (index.packages / name).write_bytes(b"listed, never downloaded")
        with running_feed(index, tmp_path / "network") as feed:
            report = tmp_path / "report.json"
            env = plain_env(
                tmp_path / "home",
                RENOVATE_CONFIG_FILE=str(TEMPLATE / "pipelines" / "renovate-config.js"),
                RENOVATE_BASE_DIR=str(tmp_path / "renovate"),
                RENOVATE_HOST_RULES=json.dumps([NO_DOCKER_HUB]),
                LOG_LEVEL="debug",
                **{**PIPELINE_ENV, "SYSTEM_ACCESSTOKEN": index.password},
                **feed.env(),
            )
            done = renovate.run(
                "renovate.js", "--platform=local", "--autodiscover=false",
                "--dry-run=lookup", "--report-type=file", f"--report-path={report}",
                cwd=project.path, env=env,
            )  # fmt: skip

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert index.password not in done.stdout + done.stderr  # debug output too
    found = {}
    (repository,) = json.loads(report.read_text())["repositories"].values()
    for manager, files in repository["packageFiles"].items():
        for package_file in files:
            for dep in package_file["deps"]:
                key = (manager, dep["depType"], dep["depName"], dep["currentValue"])
                found[key] = [update["newValue"] for update in dep.get("updates", [])]
    for key, update in PINNED_UPDATES.items():
        assert found.get(key) == [update], key
    assert ("dockerfile", "final", "python", "3.11-slim-trixie") in found
    # The library's own decisions stay its own; the template's tools arrive
    # with the template's releases.
    assert found[("pep621", "requires-python", "python", ">=3.11")] == []
    (tools,) = [k for k in found if k[2] == "cookiecutter-azure-pylib"]
    assert found[tools] == []


def renovate_pipeline_steps(temporary: Path) -> dict[str, str]:
    """The scripts of pipelines/renovate.yml by display name, with the agent's
    temporary folder filled in."""
    steps = yaml.safe_load((TEMPLATE / "pipelines" / "renovate.yml").read_text())
    return {
        step["displayName"]: step["script"].replace(
            "$(Agent.TempDirectory)", str(temporary)
        )
        for step in steps["steps"]
        if "script" in step
    }


@pytest.mark.slow
@pytest.mark.parametrize("found", ["some", "none", "renovate failed"])
def test_the_renovate_pipeline_fails_in_one_sentence_when_it_can_read_no_repository(
    tmp_path: Path, found: str
) -> None:
    """Renovate's own --write-discovered-repos lists what autodiscovery found
    (on the local platform: the one repository here); with the job token
    limited to the pipeline's own repository, Azure lists none, or Renovate
    ends before writing the list: the next step fails, naming the setting."""
    steps = renovate_pipeline_steps(tmp_path)
    listing = tmp_path / "repositories.json"
    if found == "some":
        npx, yes, package, *arguments = shlex.split(
            steps["Find the repositories Renovate can read"]
        )
        assert (npx, yes, package) == ("npx", "--yes", f"renovate@{renovate.RENOVATE}")
        env = plain_env(tmp_path, RENOVATE_PLATFORM="local", **PIPELINE_ENV,
                        RENOVATE_CONFIG_FILE=str(TEMPLATE / "pipelines" /
                                                 "renovate-config.js"))  # fmt: skip
        done = renovate.run("renovate.js", *arguments, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    elif found == "none":
        listing.write_text("[]")

    check = subprocess.run(
        ["bash", "-c", steps["Fail unless Renovate can read a repository"]],
        capture_output=True, text=True,
    )  # fmt: skip

    if found == "some":
        assert json.loads(listing.read_text()) == ["local"]
        assert (check.returncode, check.stdout) == (0, "")
    else:
        assert check.returncode == 1
        assert check.stdout.startswith(
            "##vso[task.logissue type=error]Renovate can read no repository"
        )
        assert "Limit job authorization scope to referenced" in check.stdout
