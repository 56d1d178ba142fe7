"""`nox -s publish` and the feed wiring, against a real password-protected index."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path
from types import ModuleType

import nox.registry
import pytest

from tests.baking import BakedProject, bake, load_module, make_wheel
from tests.index_server import IndexServer, isolated_environment, running_index_server


def load_noxfile(project: BakedProject, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import the baked noxfile as nox does: from the project folder."""
    monkeypatch.chdir(project.path)
    monkeypatch.setattr(nox.registry, "_REGISTRY", {})  # sessions of this load only
    monkeypatch.delitem(sys.modules, "baked_noxfile", raising=False)
    return load_module(project.path / "noxfile.py", "baked_noxfile")


@pytest.mark.parametrize(
    ("answers", "simple", "artifact_feed"),
    [
        (
            {},
            "https://pkgs.dev.azure.com/myorg/myproject/_packaging/python-internal"
            "/pypi/simple/",
            "myproject/python-internal",
        ),
        (
            {"feed_scope": "organization"},
            "https://pkgs.dev.azure.com/myorg/_packaging/python-internal/pypi/simple/",
            "python-internal",
        ),
        (
            {"azure_project": "Data Platform", "feed_name": "libs"},
            "https://pkgs.dev.azure.com/myorg/Data%20Platform/_packaging/libs"
            "/pypi/simple/",
            "Data Platform/libs",
        ),
    ],
    ids=["project-scoped", "organization-scoped", "project-with-a-space"],
)
def test_feed_urls_derive_from_the_coordinates_in_pyproject(
    tmp_path, monkeypatch, answers, simple, artifact_feed
):
    noxfile = load_noxfile(bake(tmp_path, **answers), monkeypatch)

    assert noxfile.feed_url("simple") == simple
    assert noxfile.feed_url("upload") == simple.replace("/simple/", "/upload/")
    assert noxfile.artifact_feed() == artifact_feed


def test_feed_coordinates_are_written_once_in_the_project(default_project):
    mentions = [
        path.relative_to(default_project.path).as_posix()
        for path in default_project.files()
        if "python-internal" in path.read_text(errors="replace")
        and path.relative_to(default_project.path).as_posix()
        not in default_project.documentation()
    ]
    assert mentions == ["pyproject.toml"]


@pytest.fixture
def noxfile(default_project, monkeypatch) -> ModuleType:
    return load_noxfile(default_project, monkeypatch)


@pytest.mark.parametrize(
    ("version", "arguments", "problem"),
    [
        ("1.2.0", [], None),
        ("1.2.1.dev3", [], "is a development version"),
        ("1.2.1.dev3", ["--allow-dev"], None),
        ("1.2.1.dev3", ["--dev-only"], None),
        ("1.2.0+g1a2b3c", ["--allow-dev"], "local version segment"),
        ("1.2.0", ["--tag", "v1.2.0"], None),
        ("1.2.0", ["--tag", "v1.3.0"], "does not match the built version 1.2.0"),
        ("1.2.0", ["--tag", "release-candidate"], "does not match"),
    ],
)
def test_publish_refuses_versions_that_must_not_reach_the_feed(
    noxfile, version, arguments, problem
):
    options = noxfile.PublishOptions.parse(arguments)

    found = noxfile.version_problem(noxfile.Version(version), options)

    assert found is None if problem is None else problem in found


@pytest.mark.parametrize("arguments", [["--force"], ["--tag"]])
def test_publish_rejects_unknown_options_with_its_usage(noxfile, arguments):
    with pytest.raises(SystemExit, match="usage: nox -s publish"):
        noxfile.PublishOptions.parse(arguments)


@pytest.mark.parametrize(
    ("upload", "simple"),
    [
        (
            "https://pkgs.dev.azure.com/o/p/_packaging/f/pypi/upload/",
            "https://pkgs.dev.azure.com/o/p/_packaging/f/pypi/simple/",
        ),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/simple/"),
    ],
)
def test_the_pre_upload_check_reads_the_index_next_to_the_upload_url(
    noxfile, upload, simple
):
    assert noxfile.Repository(upload).simple_url == simple


def test_files_on_a_simple_page_are_matched_by_version(noxfile):
    page = (
        '<a href="/p/acme_tools-1.2.0.tar.gz#sha256=1">acme_tools-1.2.0.tar.gz</a>\n'
        '<a href="/p/acme_tools-1.2.0-py3-none-any.whl">'
        "acme_tools-1.2.0-py3-none-any.whl</a>\n"
        '<a href="/p/acme-tools-1.10.0.tar.gz">acme-tools-1.10.0.tar.gz</a>'
    )
    names = noxfile.file_names(page)

    assert [noxfile.file_version(name) for name in names] == [
        noxfile.Version("1.2.0"),
        noxfile.Version("1.2.0"),
        noxfile.Version("1.10.0"),
    ]


# --- End to end, with real nox, twine, pip and pypiserver ---------------------


def publishing_environment(server: IndexServer, home: Path) -> dict[str, str]:
    """A PAT-style environment: credentials in TWINE_* variables only."""
    return isolated_environment(
        HOME=str(home),
        TWINE_REPOSITORY_URL=server.upload_url,
        TWINE_USERNAME=server.username,
        TWINE_PASSWORD=server.password,
        PIP_INDEX_URL=server.authenticated_simple_url,
    )


def fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


@pytest.mark.slow
def test_published_release_installs_with_its_extra_and_cannot_be_published_twice(
    tmp_path, index_server
):
    project = bake(tmp_path / "bake", extras="redis")
    project.run("git", "tag", "v1.0.0")
    home = tmp_path / "home"
    home.mkdir()
    env = publishing_environment(index_server, home)

    first = project.nox("-s", "publish", env=env)

    assert index_server.files() == [
        "my_shared_utils-1.0.0-py3-none-any.whl",
        "my_shared_utils-1.0.0.tar.gz",
    ]
    python = fresh_venv(tmp_path / "consumer")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "my-shared-utils[redis]==1.0.0"],
        env=isolated_environment(
            HOME=str(home), PIP_INDEX_URL=index_server.authenticated_simple_url
        ),
        check=True,
    )
    used = subprocess.run(
        [
            python,
            "-c",
            "import my_shared_utils as m;"
            "print(m.__version__, list(m.chunked('abc', 2)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert used == "1.0.0 [['a', 'b'], ['c']]\n"

    second = project.nox("-s", "publish", env=env, check=False)

    assert second.returncode != 0
    assert "1.0.0 is already on" in second.stderr
    assert "immutable" in second.stderr
    assert index_server.files() == [
        "my_shared_utils-1.0.0-py3-none-any.whl",
        "my_shared_utils-1.0.0.tar.gz",
    ]
    assert index_server.files_holding_the_password(project.path, home) == []
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert index_server.password not in output


@pytest.mark.slow
def test_publish_stops_before_uploading_on_bad_credentials_dirty_trees_and_dev_versions(
    tmp_path, index_server
):
    project = bake(tmp_path / "bake")
    home = tmp_path / "home"
    home.mkdir()
    env = publishing_environment(index_server, home)

    dev = project.nox("-s", "publish", env=env, check=False)
    project.run("git", "tag", "v2.0.0")
    wrong = project.nox(
        "-s", "publish", env={**env, "TWINE_PASSWORD": "wrong"}, check=False
    )
    (project.path / "src" / "my_shared_utils" / "batching.py").write_text(
        "# edited\n", encoding="utf-8"
    )
    dirty = project.nox("-s", "publish", env=env, check=False)

    assert dev.returncode != 0 and "0.1.dev1 is a development version" in dev.stderr
    assert (
        wrong.returncode != 0 and "refused the credentials (HTTP 403)" in wrong.stderr
    )
    assert dirty.returncode != 0 and "uncommitted changes" in dirty.stderr
    assert index_server.files() == []


@pytest.mark.slow
def test_publish_to_an_unreachable_index_says_so(tmp_path):
    project = bake(tmp_path / "bake", versioning="static", version="1.0.0")
    home = tmp_path / "home"
    home.mkdir()
    with running_index_server(tmp_path / "index") as stopped:
        pass

    env = publishing_environment(stopped, home)
    del env["PIP_INDEX_URL"]  # the build's own installs still need an index

    result = project.nox("-s", "publish", env=env, check=False)

    assert result.returncode != 0
    assert f"Cannot reach {stopped.simple_url}" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["uv", "virtualenv"])
def test_internal_dependencies_resolve_through_the_configured_index(
    tmp_path, index_server, backend
):
    make_wheel(index_server.packages, "acme-internal-helper", "1.0.0")
    project = bake(tmp_path / "bake")
    pyproject = project.read("pyproject.toml").replace(
        "dependencies = []", 'dependencies = ["acme-internal-helper>=1.0"]'
    )
    (project.path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (project.path / "tests" / "test_internal.py").write_text(
        "from acme_internal_helper import answer\n\n\n"
        "def test_the_internal_dependency_is_installed():\n"
        "    assert answer() == 42\n",
        encoding="utf-8",
    )
    project.git("add", "--all")
    project.git("commit", "-m", "Depend on an internal package")
    env = isolated_environment(PIP_INDEX_URL=index_server.authenticated_simple_url)

    result = project.nox("--default-venv-backend", backend, env=env)

    assert f"Creating virtual environment ({backend})" in result.stderr
    assert "test_internal.py ." in result.stdout + result.stderr
    assert re.search(r"\* build-[\d.]+: success", result.stderr)
