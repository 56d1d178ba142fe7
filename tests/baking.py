"""Bake the template with cookiecutter's API and inspect what it made."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import importlib.util
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config

TEMPLATE = Path(__file__).resolve().parent.parent
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())

# Who commits and tags in tests, whatever git config the machine has.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Release Bot",
    "GIT_AUTHOR_EMAIL": "release@example.com",
    "GIT_COMMITTER_NAME": "Release Bot",
    "GIT_COMMITTER_EMAIL": "release@example.com",
}


def isolated_git_env(home: Path) -> dict[str, str]:
    """An environment where git and cookiecutter ignore the user's own settings."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "COOKIECUTTER_"))
    }
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.com",
    )
    return env


def hosted_template(folder: Path, env: dict[str, str]) -> Path:
    """A bare repository `cookiecutter-azure-pylib.git` holding the template as tested.

    It stands in for the organisation's template repository: one commit with
    every file git would track in the working tree (committed or not, deleted
    files left out), so the tests see the template as it is on disk.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    staging = folder / "staging"
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / name)
    hosted = folder / "cookiecutter-azure-pylib.git"
    for command in (
        ["git", "init", "--quiet", "--initial-branch=main", str(staging)],
        ["git", "-C", str(staging), "add", "--all"],
        ["git", "-C", str(staging), "commit", "--quiet", "-m", "Template as tested"],
        ["git", "clone", "--quiet", "--bare", str(staging), str(hosted)],
    ):
        subprocess.run(command, env=env, check=True, capture_output=True)
    shutil.rmtree(staging)
    return hosted


# Answers with a fixed set of values: every combination of them is baked.
CHOICES = {
    key: value
    for key, value in DEFAULTS.items()
    if not key.startswith("_") and isinstance(value, (list, bool))
}

# Named combinations for the slow tests that run real tools.
EVERYTHING_ON = {
    "project_name": "Acme Data Tools",
    "azure_project": "Data Platform",
    "feed_scope": "organization",
    "license": "MIT",
    "extras": "redis,postgres",
    "include_dockerfile": True,
    "versioning": "git-tags",
}
# With the defaults and EVERYTHING_ON: every other value of every choice.
EVERYTHING_ELSE = {
    "license": "Apache-2.0",
    "include_dockerfile": False,
    "versioning": "static",
    "version": "2.0.0",
    "pipeline": "shared",
}


# Choices that change a single file: spread over the combinations of the others
# instead of multiplying them, so each of their values meets every value of
# every other choice.
SPREAD = {"pipeline"}


def all_combinations() -> list[dict[str, Any]]:
    """Every combination of the choice answers (booleans count as a two-way choice)."""
    options = {
        key: [True, False] if isinstance(value, bool) else value
        for key, value in CHOICES.items()
    }
    crossed = [key for key in options if key not in SPREAD]
    combinations = []
    for indexes in itertools.product(*(range(len(options[k])) for k in crossed)):
        answers = {key: options[key][i] for key, i in zip(crossed, indexes)}
        for key in SPREAD & set(options):
            answers[key] = options[key][sum(indexes) % len(options[key])]
        combinations.append({key: answers[key] for key in options})
    return combinations


def combination_id(answers: dict[str, Any]) -> str:
    """A short test id, e.g. `project-3.11-MIT-include_dockerfile-git-tags`."""
    return "-".join(
        (key if value else f"no_{key}") if isinstance(value, bool) else str(value)
        for key, value in answers.items()
    )


@dataclass
class BakedProject:
    path: Path
    answers: dict[str, Any]

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text(encoding="utf-8")

    def exists(self, relative: str) -> bool:
        return (self.path / relative).exists()

    @property
    def pyproject(self) -> dict[str, Any]:
        return tomllib.loads(self.read("pyproject.toml"))

    @property
    def distribution(self) -> str:
        return self.pyproject["project"]["name"]

    @property
    def package(self) -> str:
        """The import package: the one folder under src/."""
        (init,) = (self.path / "src").glob("*/__init__.py")
        return init.parent.name

    def documentation(self) -> dict[str, str]:
        """README.md and docs/*.md, by relative path: what the project tells users."""
        pages = [self.path / "README.md", *sorted((self.path / "docs").glob("*.md"))]
        return {
            page.relative_to(self.path).as_posix(): page.read_text() for page in pages
        }

    def files(self) -> list[Path]:
        """Every file the template generated (git's own files excluded)."""
        return sorted(
            path
            for path in self.path.rglob("*")
            if path.is_file() and ".git" not in path.relative_to(self.path).parts
        )

    def run(
        self, *command: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            command,
            cwd=self.path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed with exit code {result.returncode}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def git(self, *arguments: str, env: dict[str, str] | None = None) -> str:
        """Run git in the project as the test identity; return its output."""
        return self.run("git", *arguments, env={**GIT_IDENTITY, **(env or {})}).stdout

    def commit(self, message: str) -> None:
        """Commit a change to CHANGELOG.md, as a developer's next commit."""
        changelog = self.path / "CHANGELOG.md"
        changelog.write_text(changelog.read_text() + f"\n- {message}\n")
        self.git("commit", "--quiet", "-am", message)

    def nox(
        self, *arguments: str, env: dict[str, str] | None = None, check: bool = True
    ):
        """Run nox in the project, on the running interpreter."""
        return self.run(sys.executable, "-m", "nox", *arguments, env=env, check=check)


def bake(
    output_dir: Path, *, template: Path = TEMPLATE, **answers: Any
) -> BakedProject:
    """Bake the template (or a changed copy) without prompting; `answers`
    override the defaults."""
    output_dir.mkdir(parents=True, exist_ok=True)
    config = output_dir / "cookiecutter-config.yaml"
    config.write_text(f"replay_dir: {json.dumps(str(output_dir / 'replay'))}\n")
    project = cookiecutter(
        str(template),
        no_input=True,
        extra_context=answers,
        output_dir=str(output_dir),
        config_file=str(config),
    )
    return BakedProject(Path(project), answers)


def bake_once(root: Path, answers: dict[str, Any]) -> BakedProject:
    """The bake of a combination under `root`, made by whichever test process
    asks first: tests that only read a project share it, so each combination is
    baked once per run, however many test processes there are."""
    folder = root / combination_id(answers)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = folder / "project-path"
        if not made.exists():
            made.write_text(str(bake(folder / "output", **answers).path))
        return BakedProject(Path(made.read_text()), answers)


def python_classifiers(project: BakedProject) -> list[str]:
    """The Python versions the trove classifiers name, e.g. ["3.12", "3.13"]."""
    prefix = "Programming Language :: Python :: 3."
    return [
        classifier.rsplit(" ", 1)[1]
        for classifier in project.pyproject["project"]["classifiers"]
        if classifier.startswith(prefix)
    ]


# What cookiecutter and cruft need from the template repository, and what the
# shared pipeline mode reads from it.
TEMPLATE_PARTS = [
    "cookiecutter.json",
    "hooks",
    "pipelines",
    "azure_pylib",
    "pyproject.toml",  # with README.md and LICENSE: the tools' distribution
    "README.md",
    "LICENSE",
    "CHANGELOG.md",
    "{{cookiecutter.project_slug}}",
]


def copy_template(destination: Path) -> Path:
    """A copy of the template's parts that a test may change."""
    destination.mkdir(parents=True)
    for part in TEMPLATE_PARTS:
        source = TEMPLATE / part
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, destination / part, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, destination / part)
    return destination


def default_answers() -> dict[str, Any]:
    """Every answer as `cookiecutter --no-input` computes it without a user config."""
    context = generate_context(context_file=str(TEMPLATE / "cookiecutter.json"))
    sys.path.append(str(TEMPLATE))  # where cookiecutter finds the _extensions
    try:
        return dict(prompt_for_config(context, no_input=True))
    finally:
        sys.path.remove(str(TEMPLATE))


REPORT_HEADER = "cookiecutter-azure-pylib cannot use these answers:"

# (field, bad value, part of the rule the message must give)
BAD_ANSWERS = [
    ("pipeline_templates_repository", "cookiecutter-azure-pylib", "one '/'"),
    ("pipeline_templates_repository", "a/b/c", "one '/'"),
    ("pipeline_templates_repository", "Data/Plat:form", "must not contain :"),
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", " Padded", "spaces"),
    ("project_name", 'The "Best" Lib', 'must not contain "'),
    ("project_name", "C:\\tools", 'must not contain "'),
    ("project_name", ">>> 1/0", "must not contain >>>"),
    ("description", "Run it like this >>> import x", "must not contain >>>"),
    ("project_name", "Two\nlines", "printable"),
    ("project_name", "Tab\there", "printable"),
    ("project_name", "Bell\x07", "printable"),
    ("project_name", "x" * 101, "at most 100"),
    ("description", "", "must not be empty"),
    ("description", "Ends with a full stop.", "must not end with"),
    ("description", "Exciting!", "must not end with"),
    ("description", 'Say "hi"', 'must not contain "'),
    ("description", "Zero\u200bwidth", "printable"),
    ("description", "d" * 201, "at most 200"),
    ("author_name", "", "must not be empty"),
    ("author_name", 'A "nick" name', 'must not contain "'),
    ("author_name", ":;", "must contain a letter or a digit"),
    ("author_name", "Line\u2028separator", "printable"),
    ("project_slug", "", "is empty"),
    ("project_slug", "My_Pkg", "normalised distribution name"),
    ("project_slug", "my.pkg", "normalised distribution name"),
    ("project_slug", "my--pkg", "normalised distribution name"),
    ("project_slug", "-pkg", "normalised distribution name"),
    ("project_slug", "pkg-", "normalised distribution name"),
    ("project_slug", "über", "normalised distribution name"),
    ("project_slug", "x" * 37, "at most 36"),
    ("package_name", "", "identifier"),
    ("package_name", "my-pkg", "identifier"),
    ("package_name", "1pkg", "identifier"),
    ("package_name", "_private", "identifier"),
    ("package_name", "MyPkg", "identifier"),
    ("package_name", "paquet_é", "identifier"),
    ("package_name", "import", "keyword"),
    ("package_name", "async", "keyword"),
    ("package_name", "json", "standard library"),
    ("package_name", "test", "standard library"),
    ("package_name", "distutils", "standard library"),
    ("package_name", "annotationlib", "standard library"),
    ("package_name", "tests", "would shadow a tool"),
    ("package_name", "pytest", "would shadow a tool"),
    ("package_name", "x" * 37, "at most 36"),
    ("author_email", "", "one plain address"),
    ("author_email", "team", "one plain address"),
    ("author_email", "team@localhost", "one plain address"),
    ("author_email", "a@@b.com", "one plain address"),
    ("author_email", "a b@c.com", "one plain address"),
    ("author_email", '"a"@b.com', "one plain address"),
    ("author_email", "a@b.com ", "one plain address"),
    ("author_email", "a..b@c.com", "one plain address"),
    ("author_email", "a@-b.com", "one plain address"),
    ("azure_organization", "", "organization name"),
    ("azure_organization", "my org", "organization name"),
    ("azure_organization", "-org", "organization name"),
    ("azure_organization", "org-", "organization name"),
    ("azure_organization", "org_name", "organization name"),
    ("azure_organization", "örg", "organization name"),
    ("azure_organization", "a" * 51, "organization name"),
    ("azure_project", "", "must not be empty"),
    ("azure_project", " Lead", "spaces"),
    ("azure_project", "_private", "must not start with '_'"),
    ("azure_project", ".hidden", "must not start with '_' or '.'"),
    ("azure_project", "trailing.", "nor end with '.'"),
    ("azure_project", "a/b", "must not contain /"),
    ("azure_project", "C#", "must not contain #"),
    ("azure_project", "it's", "must not contain '"),
    ("azure_project", "a,b", "must not contain ,"),
    ("azure_project", "Web", "reserves"),
    ("azure_project", "com1", "reserves"),
    ("azure_project", "App_Data", "reserves"),
    ("azure_project", "Two\nlines", "printable"),
    ("azure_project", "x" * 65, "at most 64"),
    ("feed_name", "", "feed name"),
    ("feed_name", ".feed", "feed name"),
    ("feed_name", "_feed", "feed name"),
    ("feed_name", "feed.", "feed name"),
    ("feed_name", "my feed", "feed name"),
    ("feed_name", "feed@Release", "feed name"),
    ("feed_name", "a" * 65, "at most 64"),
    ("extras", ",", "empty name"),
    ("extras", "redis,,pg", "empty name"),
    ("extras", "Redis", "not normalised"),
    ("extras", "pg_sql", "not normalised"),
    ("extras", "a.b", "not normalised"),
    ("extras", "redis,redis", "more than once"),
    ("extras", "test", "must not redefine test"),
    ("extras", "redis,dev,lint", "must not redefine dev, lint"),
    ("include_dockerfile", "yes", "yes or no"),
    # A final newline (`$` would match before it) or any control character.
    ("version", "1.0\n", "printable"),
    ("project_slug", "my-lib\n", "printable"),
    ("package_name", "my_lib\n", "printable"),
    ("azure_organization", "myorg\n", "printable"),
    ("feed_name", "python-internal\n", "printable"),
    ("author_email", "a@b.com\n", "printable"),
    ("extras", "redis\n", "printable"),
    ("description", "Shared\x00helpers", "printable"),
    ("azure_project", "Data\x1bPlatform", "printable"),
    ("author_name", "Team\x0b", "printable"),
    # Path segments and names Windows cannot give a folder.
    ("project_slug", "..", "normalised distribution name"),
    ("project_slug", "a/b", "normalised distribution name"),
    ("project_slug", "con", "Windows reserves"),
    ("project_slug", "lpt1", "Windows reserves"),
    ("package_name", "aux", "Windows reserves"),
    ("package_name", "com1", "Windows reserves"),
    ("package_name", "..", "identifier"),
    # Names the project's own test, lint and build environments install.
    ("project_slug", "pytest", "environment installs"),
    ("project_slug", "coverage", "environment installs"),
    ("project_slug", "pluggy", "environment installs"),
    ("project_slug", "iniconfig", "environment installs"),
    ("package_name", "pluggy", "would shadow a tool"),
    ("package_name", "iniconfig", "would shadow a tool"),
    ("package_name", "pygments", "would shadow a tool"),
    ("package_name", "sitecustomize", "at start-up"),
    ("package_name", "usercustomize", "at start-up"),
    # What cookiecutter would read as template code.
    ("project_name", "Costs {{ price }}", "template code"),
    ("description", "{% if x %}", "template code"),
    ("author_name", "{# note #}", "template code"),
    ("version", "", "PEP 440"),
    ("version", "v1.0.0", "PEP 440"),
    ("version", "1.0.0+local", "local segment"),
    ("version", "1.0-beta", "PEP 440"),
    ("version", "01.0", "PEP 440"),
    ("version", "1.0 ", "PEP 440"),
    ("version", "1." + "0." * 64 + "0", "at most 128"),
    ("minimum_python", "3.10", "must be one of 3.11"),
    ("license", "GPL-3.0", "must be one of Proprietary, MIT, Apache-2.0"),
    ("feed_scope", "Project", "must be one of project, organization"),
    ("versioning", "tags", "must be one of git-tags, static"),
]


def cookiecutter_config(folder: Path) -> Path:
    """A user config that keeps replay files inside the test's folder."""
    config = folder / "cookiecutter-config.yaml"
    config.write_text(f"replay_dir: {json.dumps(str(folder / 'replay'))}\n")
    return config


def left_behind(output_dir: Path) -> list[str]:
    """What a bake left in its output folder, besides the test's own config."""
    if not output_dir.exists():
        return []
    ignored = {"cookiecutter-config.yaml", "replay"}
    return sorted(
        path.name for path in output_dir.iterdir() if path.name not in ignored
    )


def run_bake_script(
    folder: Path, *arguments: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python bake.py ...` run in `folder`, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(TEMPLATE / "bake.py"), *arguments,
         "--config-file", str(cookiecutter_config(folder))],
        input=stdin, capture_output=True, text=True, cwd=folder,
        env={**os.environ, "NO_COLOR": "1"}, timeout=120,
    )  # fmt: skip


def run_cookiecutter(
    folder: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`cookiecutter --no-input TEMPLATE ...` run in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE),
         "--config-file", str(cookiecutter_config(folder)), *arguments],
        capture_output=True, text=True, cwd=folder, timeout=120, env=env,
    )  # fmt: skip


def load_module(path: Path, name: str) -> ModuleType:
    """Import a file that is not on sys.path (a hook, bake.py, a baked noxfile)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, as an internal package on the feed would be.

    Its module `name` (underscored) has `VERSION` and `answer()` returning 42,
    and is typed (py.typed), as libraries made from the template are.
    """
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": (
            f'VERSION = "{version}"\n\n\ndef answer() -> int:\n    return 42\n'
        ),
        f"{module}/py.typed": "",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={encoded},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def make_sdist(
    folder: Path, name: str, version: str, metadata_version: str = "2.1"
) -> Path:
    """A minimal sdist: under `name-version/`, the PKG-INFO that twine reads."""
    base = f"{name.replace('-', '_')}-{version}"
    info = f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n"
    sdist = folder / f"{base}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path, text in [("PKG-INFO", info), ("pyproject.toml", "[project]\n")]:
            member = tarfile.TarInfo(f"{base}/{path}")
            member.size = len(text.encode())
            archive.addfile(member, io.BytesIO(text.encode()))
    return sdist
