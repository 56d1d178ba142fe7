"""Generated projects follow the template with cruft: create, check, update.

The slow tests run the real cruft CLI against a throwaway git copy of the
template, the way an organisation hosts the template in its own repository.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.baking import (
    DEFAULTS,
    TEMPLATE,
    bake,
    hosted_template,
    isolated_git_env,
    load_module,
)

# What `cruft create` needs from the template repository.
TEMPLATE_PARTS = ["cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}"]
PROJECT_SLUG = "my-shared-utils"

# The first commit of a project made with `cruft create`, as README.md shows it.
FIRST_COMMIT = [
    ["git", "init", "--quiet", "--initial-branch=main"],
    ["git", "add", "--all"],
    ["git", "commit", "--quiet", "-m", "Initial commit from cookiecutter-azure-pylib"],
]


def load_post_gen_hook():
    """The hook module; its Jinja lives only in the `__main__` block."""
    return load_module(TEMPLATE / "hooks" / "post_gen_project.py", "post_gen_project")


def run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed with exit code {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


class TemplateRepository:
    """A git copy of the template that tests can change and commit."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env
        path.mkdir()
        for part in TEMPLATE_PARTS:
            source = TEMPLATE / part
            if source.is_dir():
                shutil.copytree(
                    source, path / part, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(source, path / part)
        self.git("init", "--quiet", "--initial-branch=main")
        self.commit("Template as tested")

    def git(self, *args: str) -> str:
        return run(["git", *args], self.path, self.env).stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.head

    def tag(self, name: str) -> None:
        self.git("tag", "--annotate", name, "-m", f"cookiecutter-azure-pylib {name}")

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def edit_generated(self, relative: str, change: Callable[[str], str]) -> None:
        path = self.path / "{{cookiecutter.project_slug}}" / relative
        before = path.read_text(encoding="utf-8")
        after = change(before)
        assert after != before, f"the change to {relative} changed nothing"
        path.write_text(after, encoding="utf-8")


class Project:
    """A project created with `cruft create` and committed as README.md says."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def cruft(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([sys.executable, "-m", "cruft", *args], self.path, self.env, check)

    def git(self, *args: str) -> str:
        return run(["git", *args], self.path, self.env).stdout

    def commit_all(self, message: str) -> None:
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def write(self, relative: str, text: str) -> None:
        (self.path / relative).write_text(text, encoding="utf-8")

    @property
    def changed_files(self) -> set[str]:
        """Paths `git status` reports, untracked ones included."""
        return {line[3:] for line in self.git("status", "--porcelain").splitlines()}

    @property
    def recorded_commit(self) -> str:
        return json.loads(self.read(".cruft.json"))["commit"]

    def rejected_hunks(self) -> list[Path]:
        return sorted(self.path.rglob("*.rej"))


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    return isolated_git_env(tmp_path / "home")


@pytest.fixture
def template(tmp_path: Path, git_env: dict[str, str]) -> TemplateRepository:
    return TemplateRepository(tmp_path / "template", git_env)


def create_project(
    template: TemplateRepository, projects: Path, *options: str
) -> Project:
    """`cruft create` from the template repository, then the documented first commit."""
    projects.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "cruft", "create", "--no-input", *options]
    run([*command, str(template.path)], projects, template.env)
    path = projects / PROJECT_SLUG
    for command in FIRST_COMMIT:
        run(command, path, template.env)
    return Project(path, template.env)


@pytest.fixture
def project(tmp_path: Path, template: TemplateRepository) -> Project:
    return create_project(template, tmp_path / "projects")


# The hook, called directly


def test_hook_under_cruft_leaves_git_to_the_user_and_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = load_post_gen_hook()
    project = tmp_path / "projects" / PROJECT_SLUG
    project.mkdir(parents=True)
    # cruft update and cruft diff render in the temporary folder: quiet there.
    scratch = hook.post_generate(
        project, "Platform Team", "platform@example.com", "0" * 40
    )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "elsewhere"))

    created = hook.post_generate(
        project, "Platform Team", "platform@example.com", "0" * 40
    )

    assert scratch == ""
    (command,) = re.findall(r": (git init .*)$", created)
    assert created.startswith("Once cruft has written .cruft.json")
    assert command == hook.FIRST_COMMIT
    assert not (project / ".git").exists()


def template_checkout(folder: Path, *tags: str) -> Path:
    """A git clone of the template as tested, with `tags` on its commit."""
    env = isolated_git_env(folder / "home")
    checkout = folder / "template"
    hosted = hosted_template(folder, env)
    run(["git", "clone", "--quiet", str(hosted), str(checkout)], folder, env)
    for tag in tags:
        run(["git", "tag", "-a", tag, "-m", tag], checkout, env)
    return checkout


@pytest.mark.parametrize(
    ("tags", "pipeline", "told"),
    [
        ([], "shared", True),
        (["v1.0.0"], "shared", False),
        (["v0.9.0"], "shared", True),
        ([], "self-contained", False),  # it pins nothing
    ],
)
def test_a_shared_pipeline_pinned_to_a_missing_tag_names_the_tag_to_create(
    tmp_path: Path, tags: list[str], pipeline: str, told: bool
) -> None:
    checkout = template_checkout(tmp_path, *tags)

    message = load_post_gen_hook().missing_release_tag(
        checkout, "1.0.0", pipeline, "Platform/cookiecutter-azure-pylib"
    )

    assert message == (
        "The shared pipeline pins refs/tags/v1.0.0 of"
        " Platform/cookiecutter-azure-pylib, a tag this template checkout does not"
        " have: tag the release there (git tag --annotate v1.0.0 -m"
        ' "cookiecutter-azure-pylib 1.0.0" && git push origin v1.0.0), as the'
        ' template\'s README says under "Importing the template".'
        if told
        else ""
    )


def test_a_template_folder_without_git_history_is_not_told_about_tags(tmp_path):
    (tmp_path / "template").mkdir()
    hook = load_post_gen_hook()

    assert (
        hook.missing_release_tag(tmp_path / "template", "1.0.0", "shared", "p/r") == ""
    )


@pytest.mark.parametrize("pipeline", ["self-contained", "shared"])
def test_a_bake_from_an_untagged_clone_warns_only_of_a_shared_pipelines_tag(
    tmp_path: Path, pipeline: str
) -> None:
    """The quick start's route: a fresh clone carries no tags."""
    checkout = template_checkout(tmp_path)
    env = isolated_git_env(tmp_path / "home")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(checkout)]

    baked = run([*command, f"pipeline={pipeline}", "-o", str(out)], tmp_path, env)

    told = baked.stderr.strip().splitlines()
    assert told[0].startswith("Created a git repository on branch main")
    tag = f"v{DEFAULTS['_template_version']}"
    if pipeline == "shared":
        assert f"git tag --annotate {tag} " in told[1]
        assert f"git push origin {tag}" in told[1] and len(told) == 2
    else:
        assert len(told) == 1, told
    assert (out / PROJECT_SLUG / "azure-pipelines.yml").is_file()


def test_hook_under_plain_cookiecutter_makes_the_first_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in isolated_git_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# Project\n")
    hook = load_post_gen_hook()

    message = hook.post_generate(
        project, "Platform Team", "platform@example.com", cruft_template_commit=""
    )

    assert "first commit" in message
    log = subprocess.run(
        ["git", "log", "--format=%s", "--name-only"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # One commit, subject and files.
    assert log == "Initial commit from cookiecutter-azure-pylib\n\nREADME.md\n"


def test_hook_without_git_suggests_a_first_commit_that_works_when_pasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# Project\n")
    hook = load_post_gen_hook()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))

    message = hook.post_generate(
        project, "Platform Team", "platform@example.com", cruft_template_commit=""
    )
    monkeypatch.undo()

    assert not (project / ".git").exists()
    (command,) = re.findall(r"`([^`]+)`", message)
    assert str(project) in message
    env = isolated_git_env(tmp_path / "home")
    subprocess.run(["bash", "-c", command], cwd=project, env=env, check=True)
    log = subprocess.run(
        ["git", "log", "--format=%s %D"], cwd=project, env=env, capture_output=True
    )
    assert log.stdout.decode() == (
        "Initial commit from cookiecutter-azure-pylib HEAD -> main\n"
    )


def test_a_commit_git_refuses_leaves_the_bake_whole_and_a_command_to_paste(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = isolated_git_env(tmp_path / "home")
    signing = tmp_path / "gitconfig"  # signing is required, and cannot work
    signing.write_text("[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n")
    for key, value in {**env, "GIT_CONFIG_GLOBAL": str(signing)}.items():
        monkeypatch.setenv(key, value)
    output = tmp_path / "out"
    output.mkdir()

    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE)],
        cwd=output,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "git could not make the first commit (" in result.stderr
    project = output / "my-shared-utils"
    assert (project / "noxfile.py").exists()
    (command,) = re.findall(r"`([^`]+)`", result.stderr)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", env["GIT_CONFIG_GLOBAL"])  # fixed
    subprocess.run(["bash", "-c", command], cwd=project, check=True)
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True
    )
    assert log.stdout == "Initial commit from cookiecutter-azure-pylib\n"


def test_plain_cookiecutter_bake_is_committed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in isolated_git_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)

    baked = bake(tmp_path)

    assert baked.run("git", "status", "--porcelain").stdout == ""
    assert baked.run("git", "rev-list", "--count", "HEAD").stdout.strip() == "1"
    assert not baked.exists(".cruft.json")


# The real cruft CLI


@pytest.mark.slow
def test_cruft_create_records_the_template_source_and_commit(
    project: Project, template: TemplateRepository
) -> None:
    state = json.loads(project.read(".cruft.json"))

    assert state["template"] == str(template.path)
    assert state["commit"] == template.head
    tracked = project.git("ls-files").split()
    assert ".cruft.json" in tracked and "pyproject.toml" in tracked
    assert project.git("rev-list", "--count", "HEAD").strip() == "1"
    assert project.changed_files == set()
    project.cruft("check")
    project.cruft("diff", "--exit-code")


@pytest.mark.slow
def test_cruft_routes_refuse_answers_of_the_wrong_type_or_name(
    tmp_path: Path, project: Project, template: TemplateRepository
) -> None:
    """cookiecutter would bake a list's first item and an integer as text,
    cruft update would ignore an unknown name and cruft link record any value:
    each is refused, naming the answer, and nothing changes."""
    create = [sys.executable, "-m", "cruft", "create", "--no-input"]
    given = json.dumps({"extras": ["redis", "pg"], "project_name": 7})
    created = run([*create, "--extra-context", given, str(template.path)],
                  tmp_path, template.env, check=False)  # fmt: skip
    updated = project.cruft("update", "--skip-apply-ask", "--variables-to-update",
                            '{"minimum_pyton": "3.12"}', check=False)  # fmt: skip
    (project.path / ".cruft.json").unlink()
    linked = project.cruft("link", str(template.path), "--no-input", "--extra-context",
                           '{"project_slug": "../x"}', check=False)  # fmt: skip

    assert created.returncode != 0 and not (tmp_path / PROJECT_SLUG).exists()
    said = " ".join(created.stdout.split() + created.stderr.split())
    assert "extras ['redis', 'pg'] must be text" in said
    assert "project_name 7 must be text" in said
    assert updated.returncode != 0
    said = " ".join(updated.stdout.split() + updated.stderr.split())
    assert "'minimum_pyton' is not an answer of this template" in said
    assert linked.returncode != 0 and not (project.path / ".cruft.json").exists()
    said = " ".join(linked.stdout.split() + linked.stderr.split())
    assert "project_slug '../x' must be" in said
    assert project.changed_files == {".cruft.json"}  # deleted here, not by cruft
    for result in (created, updated, linked):
        assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_update_without_template_change_leaves_the_project_untouched(
    project: Project,
) -> None:
    result = project.cruft("update", "--skip-apply-ask")

    assert "Nothing to do" in result.stdout
    assert project.git("diff") == ""
    assert project.changed_files == set()


@pytest.mark.slow
def test_update_brings_the_template_change_and_keeps_the_user_edits(
    project: Project, template: TemplateRepository
) -> None:
    # The team's own edits: one in a file the template will change, one elsewhere.
    project.write(".gitignore", "/notebooks/\n" + project.read(".gitignore"))
    project.write(
        "README.md", project.read("README.md") + "\nOwned by the data team.\n"
    )
    project.commit_all("Team edits")
    # The template improves in a later commit.
    template.edit_generated(".gitignore", lambda text: text + "\n.ruff_cache/\n")
    new_commit = template.commit("Ignore the ruff cache")
    assert project.cruft("check", check=False).returncode != 0

    project.cruft("update", "--skip-apply-ask")

    gitignore = project.read(".gitignore")
    assert gitignore.startswith("/notebooks/\n")
    assert gitignore.rstrip().endswith(".ruff_cache/")
    assert project.read("README.md").endswith("\nOwned by the data team.\n")
    assert project.recorded_commit == new_commit
    # Only the template change and the new state: nothing from the scratch renders.
    assert project.changed_files == {".gitignore", ".cruft.json"}
    assert project.rejected_hunks() == []

    project.commit_all("Update from the template")
    project.cruft("check")
    again = project.cruft("update", "--skip-apply-ask")
    assert "Nothing to do" in again.stdout
    assert project.changed_files == set()


@pytest.mark.slow
def test_update_touching_a_line_the_user_changed_leaves_conflict_markers(
    project: Project, template: TemplateRepository
) -> None:
    def set_line_length(length: int) -> Callable[[str], str]:
        return lambda text: text.replace(
            "max-line-length = 88", f"max-line-length = {length}"
        )

    project.write(".flake8", set_line_length(120)(project.read(".flake8")))
    project.commit_all("Longer lines")
    template.edit_generated(".flake8", set_line_length(100))
    template.edit_generated(".gitignore", lambda text: text + "\n.ruff_cache/\n")
    template.commit("Line length 100, ignore the ruff cache")

    project.cruft("update", "--skip-apply-ask")

    assert (
        project.read(".flake8").count(
            "<<<<<<< ours\nmax-line-length = 120\n"
            "=======\nmax-line-length = 100\n"
            ">>>>>>> theirs\n"
        )
        == 1
    )
    assert "UU .flake8" in project.git("status", "--porcelain").splitlines()
    # The rest of the update arrived all the same.
    assert project.read(".gitignore").rstrip().endswith(".ruff_cache/")


@pytest.mark.slow
def test_project_pinned_to_a_release_tag_updates_to_the_next_tag_only(
    tmp_path: Path, template: TemplateRepository
) -> None:
    template.tag("v1.0.0")
    template.edit_generated(".gitignore", lambda text: text + "\n.ruff_cache/\n")
    template.commit("Ignore the ruff cache")
    template.tag("v1.1.0")
    template.edit_generated(".gitignore", lambda text: text + "\n.hypothesis/\n")
    template.commit("Ignore the hypothesis cache, not released yet")
    project = create_project(template, tmp_path / "projects", "--checkout", "v1.0.0")
    assert ".ruff_cache/" not in project.read(".gitignore")

    project.cruft("update", "--skip-apply-ask", "--checkout", "v1.1.0")

    gitignore = project.read(".gitignore")
    assert ".ruff_cache/" in gitignore and ".hypothesis/" not in gitignore
    project.commit_all("Update to cookiecutter-azure-pylib 1.1.0")
    project.cruft("check", "--checkout", "v1.1.0")
    # The default branch has moved on since the tag.
    assert project.cruft("check", check=False).returncode != 0


@pytest.mark.slow
def test_project_baked_with_cookiecutter_adopts_cruft_with_link(
    tmp_path: Path, template: TemplateRepository, git_env: dict[str, str]
) -> None:
    baked_at = template.head
    projects = tmp_path / "projects"
    projects.mkdir()
    run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            str(template.path),
            "feed_scope=organization",
            "license=MIT",
        ],
        projects,
        git_env,
    )
    project = Project(projects / PROJECT_SLUG, git_env)
    template.edit_generated(".gitignore", lambda text: text + "\n.ruff_cache/\n")
    template.commit("Ignore the ruff cache")
    # The answers of the bake, from cookiecutter's replay file, as README.md shows.
    replay = (
        Path(git_env["HOME"]) / ".cookiecutter_replay" / f"{template.path.name}.json"
    )
    answers = {
        key: value
        for key, value in json.loads(replay.read_text())["cookiecutter"].items()
        if not key.startswith("_")
    }

    project.cruft(
        "link",
        str(template.path),
        "--checkout",
        baked_at,
        "--no-input",
        "--extra-context",
        json.dumps(answers),
    )
    assert project.changed_files == {".cruft.json"}
    # Linked to the right commit with the right answers: no difference at all.
    project.cruft("diff", "--exit-code")
    project.commit_all("Link to the template with cruft")
    project.cruft("update", "--skip-apply-ask")

    assert project.changed_files == {".gitignore", ".cruft.json"}
    assert project.read(".gitignore").rstrip().endswith(".ruff_cache/")


@pytest.mark.slow
def test_update_to_the_next_release_moves_only_the_shared_pipelines_ref(
    tmp_path: Path, template: TemplateRepository
) -> None:
    current = DEFAULTS["_template_version"]
    major, minor, _ = current.split(".")
    following = f"{major}.{int(minor) + 1}.0"
    template.tag(f"v{current}")
    context = template.path / "cookiecutter.json"
    text = context.read_text(encoding="utf-8")
    raised = text.replace(
        f'"_template_version": "{current}"', f'"_template_version": "{following}"'
    )
    assert raised != text
    context.write_text(raised, encoding="utf-8")
    template.edit_generated(".gitignore", lambda text: text + "\n.ruff_cache/\n")
    template.commit(f"Release {following}")
    template.tag(f"v{following}")
    shared = json.dumps({"pipeline": "shared"})
    project = create_project(
        template,
        tmp_path / "projects",
        "--checkout",
        f"v{current}",
        "--extra-context",
        shared,
    )
    before = project.read("azure-pipelines.yml").splitlines()

    project.cruft("update", "--skip-apply-ask", "--checkout", f"v{following}")

    after = project.read("azure-pipelines.yml").splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [
        (f"    ref: refs/tags/v{current}", f"    ref: refs/tags/v{following}")
    ]
    assert ".ruff_cache/" in project.read(".gitignore")  # the rest of the release
