"""A developer's first hour in a baked project: every failure says where and what
next, in one sentence, with no traceback.

Each test makes the mistake a newcomer makes (an uncovered line, a narrow test
selection, lint findings of both tools, nox before the first commit, a Python
older than the project's minimum, a re-upload to a staging index) and checks
the message the project answers with.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.baking import CHOICES, bake
from tests.index_server import isolated_environment, running_index_server

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"


def add_uncovered_function(project) -> None:
    """A function no test calls: the total drops below the required 90 %."""
    module = project.path / "src" / project.package / "batching.py"
    module.write_text(module.read_text() + '''

def unused(values: list[int]) -> int:
    """Add the values up."""
    total = 0
    for value in values:
        total += value
    return total
''')


@pytest.mark.slow
def test_a_coverage_failure_shows_the_lines_no_test_runs(tmp_path):
    project = bake(tmp_path)
    add_uncovered_function(project)

    result = project.nox("-s", "tests", check=False)

    assert result.returncode != 0
    report = re.search(
        r"^src/\S+/batching\.py +(?:\d+ +){4}\d+% +(\S.*)$", result.stdout, re.M
    )
    assert report, result.stdout
    first_uncovered = project.read(f"src/{project.package}/batching.py").splitlines()
    first_uncovered = first_uncovered.index("    total = 0") + 1
    assert str(first_uncovered) in report.group(1)
    assert "FAIL Required test coverage of 90" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "selection",
    [
        ["-k", "rejects"],
        ["tests/test_batching.py::test_chunked_rejects_a_size_below_one"],
        ["--lf"],
    ],
)
def test_a_run_of_selected_tests_reports_coverage_without_failing_on_the_total(
    tmp_path, selection
):
    project = bake(tmp_path)
    tests = project.read("tests/test_batching.py")
    assert "def test_chunked_rejects_a_size_below_one" in tests

    result = project.nox("-s", "tests", "--", *selection, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Some tests selected: coverage is reported, not enforced" in result.stderr
    assert re.search(r"^TOTAL +.*%", result.stdout, re.M)


@pytest.mark.slow
def test_one_lint_run_reports_both_tools_and_names_the_fix(tmp_path):
    project = bake(tmp_path)
    module = project.path / "src" / project.package / "__init__.py"
    module.write_text("import os\n" + module.read_text() + "x  =  1\n")

    result = project.nox("-s", "lint", check=False)
    output = result.stdout + result.stderr

    assert result.returncode != 0
    assert "F401 'os' imported but unused" in output  # flake8 ran after black failed
    assert "-x  =  1\n+x = 1" in output  # black's diff, shown because it failed
    assert (
        output.rstrip()
        .splitlines()[-1]
        .startswith(
            "nox > Session lint aborted: black and flake8 found problems, shown above;"
            " nox -s format fixes the formatting"
        )
    )


@pytest.mark.slow
def test_a_second_lint_run_skips_the_files_black_checked_before(tmp_path):
    """black's cache marks a checked file by its size and modification time;
    with --diff black reads no cache and checks every file on every run."""
    project = bake(tmp_path / "bake")
    env = {"BLACK_CACHE_DIR": str(tmp_path / "black-cache")}
    project.nox("-s", "lint", env=env)
    module = project.path / "src" / project.package / "__init__.py"
    checked = module.stat()
    text = module.read_text()
    misformatted = text.replace(
        '["__version__", "chunked"]', "['__version__', 'chunked']"
    )
    assert misformatted != text and len(misformatted) == len(text)
    module.write_text(misformatted)
    os.utime(module, ns=(checked.st_atime_ns, checked.st_mtime_ns))

    second = project.nox("-s", "lint", env=env, check=False)

    # Unchanged for the cache, so black skips it: the cache was read.
    assert second.returncode == 0, second.stdout + second.stderr


@pytest.mark.slow
def test_nox_before_the_first_commit_names_the_command_that_makes_it(tmp_path):
    project = bake(tmp_path)
    subprocess.run(["rm", "-rf", str(project.path / ".git")], check=True)

    result = project.nox("-s", "tests", check=False)

    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    assert (
        "Session tests aborted: The version comes from git, which has no commit here"
        " yet: git init --initial-branch=main && git add --all && git commit -m"
        ' "Initial commit".' in result.stderr
    )


NEWER = [
    p
    for p in CHOICES["minimum_python"]
    if tuple(map(int, p.split("."))) > sys.version_info[:2]
]


@pytest.mark.slow
@pytest.mark.skipif(
    not NEWER, reason="no minimum_python choice above the running Python"
)
def test_a_python_older_than_the_minimum_is_told_which_one_to_use(tmp_path):
    minimum = NEWER[0]
    project = bake(tmp_path, minimum_python=minimum)

    result = project.nox("-s", "tests", "typecheck", check=False)

    assert result.returncode != 0
    for session in ("tests", "typecheck"):
        assert (
            f"Session {session} aborted: Python {sys.version.split()[0]} runs this"
            f" session and the project needs >={minimum}: nox --force-python"
            f" {minimum} (uv python install {minimum} gets one)." in result.stderr
        )
    assert "does not satisfy" not in result.stderr


@pytest.mark.slow
def test_publishing_to_a_local_index_to_try_things_out_works_and_runs_again(
    tmp_path,
):
    """Any index the developer names: here pypiserver, which holds the
    template's tools as the feed does; a second run finds the release whole."""
    project = bake(tmp_path / "bake", versioning="static", version="1.0.0")
    with running_index_server(tmp_path / "index") as index:
        env = isolated_environment(
            HOME=str(tmp_path / "home"),
            PIP_INDEX_URL=index.authenticated_simple_url,
            TWINE_REPOSITORY_URL=index.upload_url,
            TWINE_PASSWORD=index.password,
        )
        first = project.nox("-s", "publish", env=env, check=False)
        again = project.nox("-s", "publish", env=env, check=False)
        pyproject = project.path / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('"1.0.0"', '"1.0.1.dev1"'))
        project.git("commit", "--quiet", "-am", "A development version")
        project.nox("-s", "publish", "--", "--dev-only", env=env)
        dev_again = project.nox(
            "-s", "publish", "--", "--dev-only", env=env, check=False
        )

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"Published 1.0.0 to {index.upload_url}" in first.stderr
    assert again.returncode == 0, again.stderr
    assert f"1.0.0 is on {index.upload_url} already, whole" in again.stderr
    assert dev_again.returncode == 0, dev_again.stderr
    assert (
        "1.0.1.dev1 is on" in dev_again.stderr and "already, whole" in dev_again.stderr
    )


@pytest.mark.slow
def test_uncommitted_changes_are_one_sentence_with_one_full_stop(tmp_path):
    project = bake(tmp_path / "bake")
    (project.path / "notes.txt").write_text("draft\n")
    with running_index_server(tmp_path / "index") as index:
        env = isolated_environment(
            HOME=str(tmp_path / "home"),
            PIP_INDEX_URL=index.authenticated_simple_url,
            TWINE_PASSWORD=index.password,
        )
        result = project.nox("-s", "publish", env=env, check=False)

    assert re.search(
        r"Session publish aborted: Uncommitted changes: commit or stash them first"
        r"( \(took [^)]*\))?\.\n",
        result.stderr,
    ), result.stderr
    assert "first.." not in result.stderr


def test_no_session_message_ends_in_a_full_stop_that_nox_doubles(default_project):
    """nox ends `Session X aborted: <reason>` with a full stop of its own."""
    noxfile = default_project.read("noxfile.py")
    calls = re.findall(r"session\.(?:error|skip)\((.*?)\)\n", noxfile, re.S)
    returned = re.findall(r'return (?:\(\s*)?(f?"[^\n]*")', noxfile)
    assert calls
    for text in calls + returned:
        assert not re.search(r'\.["\']\s*$', text.strip()), text
