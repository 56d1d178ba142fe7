"""`nox -s publish` and the feed wiring, against a real password-protected index.

The end-to-end tests publish through tests/feed_stand_in.py, which answers
like Azure Artifacts (sign-in redirects, 203 sign-in pages, 409 for existing
and deleted versions) in front of pypiserver. Every publish runs with `nox -v`
and its whole output is searched for the passwords it was given.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from pathlib import Path
from types import ModuleType

import nox.registry
import pytest

from tests.baking import EVERYTHING_ON, BakedProject, bake, load_module, make_wheel
from tests.feed_stand_in import (
    failing_server,
    running_feed,
    silent_server,
    trickling_server,
)
from tests.index_server import IndexServer, isolated_environment, running_index_server


def load_noxfile(project: BakedProject, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import the baked noxfile as nox does: from the project folder."""
    monkeypatch.chdir(project.path)
    monkeypatch.setattr(nox.registry, "_REGISTRY", {})  # sessions of this load only
    monkeypatch.setattr(os, "environ", dict(os.environ))  # what it sets stays here
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


def test_feed_coordinates_are_written_once_in_the_project(default_project):
    """renovate.json, which cannot read pyproject.toml, repeats the feed's URL;
    `nox -s doctor` checks the two agree (tests/test_doctor.py)."""
    mentions = [
        path.relative_to(default_project.path).as_posix()
        for path in default_project.files()
        if "python-internal" in path.read_text(errors="replace")
        and path.relative_to(default_project.path).as_posix()
        not in default_project.documentation()
    ]
    assert mentions == ["pyproject.toml", "renovate.json"]


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
    options = noxfile.PUBLISH_OPTIONS.parse_args(arguments)

    found = noxfile.version_problem(noxfile.Version(version), options)

    assert found is None if problem is None else problem in found


@pytest.mark.parametrize(
    ("version", "tag"), [("1.2.1.dev1", "v1.2.1"), ("2.0.0rc1.dev3", "v2.0.0rc1")]
)
def test_the_dev_version_refusal_names_the_tag_of_the_release_it_leads_to(
    noxfile, version, tag
):
    options = noxfile.PUBLISH_OPTIONS.parse_args([])

    problem = noxfile.version_problem(noxfile.Version(version), options)

    assert f"release from a tag (git tag {tag})" in problem


def test_the_dev_version_refusal_ends_with_a_command_that_works_when_pasted(noxfile):
    options = noxfile.PUBLISH_OPTIONS.parse_args([])

    problem = noxfile.version_problem(noxfile.Version("0.1.dev1"), options)

    assert problem.endswith(": nox -s publish -- --allow-dev")


@pytest.mark.parametrize("arguments", [["--force"], ["--tag"], ["--timeout", "x"]])
def test_publish_rejects_unknown_options_with_its_usage(noxfile, capsys, arguments):
    with pytest.raises(SystemExit):
        noxfile.PUBLISH_OPTIONS.parse_args(arguments)

    assert capsys.readouterr().err.startswith("usage: nox -s publish -- ")


# --- What is uploaded ------------------------------------------------------------

AZURE_METADATA_VERSION = "2.1"  # the newest Azure Artifacts is known to accept


def metadata_versions(dist: Path) -> dict[str, str]:
    """Metadata-Version of each built file, from its METADATA or PKG-INFO."""
    versions = {}
    for built in sorted(dist.iterdir()):
        if built.suffix == ".whl":
            with zipfile.ZipFile(built) as wheel:
                (name,) = [
                    n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")
                ]
                text = wheel.read(name).decode()
        else:
            with tarfile.open(built) as sdist:
                (member,) = [
                    m
                    for m in sdist.getnames()
                    if m.count("/") == 1 and m.endswith("/PKG-INFO")
                ]
                text = sdist.extractfile(member).read().decode()
        versions[built.name] = email.parser.Parser().parsestr(text)["Metadata-Version"]
    return versions


@pytest.mark.slow
@pytest.mark.parametrize(
    "answers", [{}, EVERYTHING_ON], ids=["defaults", "everything-on"]
)
def test_uploads_carry_the_metadata_version_azure_accepts_whatever_hatchling_builds(
    tmp_path, answers
):
    project = bake(tmp_path / "bake", **answers)
    # The pinned backend, as `nox -s build` builds ...
    project.run(sys.executable, "-m", "build", "--outdir", "pinned", "--installer=uv")
    # ... and the oldest hatchling that reads the setting, in place of the pin.
    builder = fresh_venv(tmp_path / "hatchling-1.27")
    project.run(
        str(builder),
        "-m",
        "pip",
        "install",
        "--quiet",
        "hatchling==1.27.0",
        "hatch-vcs==0.5.0",
        "build",
        env={"PIP_CONSTRAINT": ""},
    )
    project.run(
        str(builder),
        "-m",
        "build",
        "--no-isolation",
        "--skip-dependency-check",
        "--outdir",
        "other",
    )

    for dist in ("pinned", "other"):
        versions = metadata_versions(project.path / dist)
        assert len(versions) == 2
        assert set(versions.values()) == {AZURE_METADATA_VERSION}, versions


# --- End to end, with real nox, twine, pip, pypiserver and the feed stand-in ----


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    """One project for the module: each test releases its own commit."""
    return bake(tmp_path_factory.mktemp("bake"), extras="redis")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def release(project: BakedProject, version: str) -> None:
    project.commit(f"Release {version}")
    project.git("tag", f"v{version}")


def publishing_environment(index: IndexServer, home: Path, **variables: str):
    """A PAT-style environment: the token in TWINE_PASSWORD, no user name."""
    return isolated_environment(
        HOME=str(home),
        PIP_INDEX_URL=index.authenticated_simple_url,
        **{"TWINE_PASSWORD": index.password, **variables},
    )


def publish(project: BakedProject, env: dict[str, str], *arguments: str, secrets=()):
    """`nox -v -s publish -- arguments`; no secret may show in its output."""
    result = project.nox("-v", "-s", "publish", "--", *arguments, env=env, check=False)
    output = result.stdout + result.stderr
    for secret in [env.get("TWINE_PASSWORD"), *secrets]:
        assert not secret or secret not in output, output
    assert "Traceback" not in output, output
    result.output = output
    return result


def wheel_and_sdist(version: str) -> list[str]:
    return [
        f"my_shared_utils-{version}-py3-none-any.whl",
        f"my_shared_utils-{version}.tar.gz",
    ]


def fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


@pytest.mark.slow
def test_a_pat_alone_publishes_and_a_version_never_uploads_twice_even_deleted(
    tmp_path, project, index, feed, home
):
    release(project, "1.0.0")
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=feed.server.upload_url
    )

    first = publish(project, env)

    assert first.returncode == 0, first.output
    assert f"Published 1.0.0 to {feed.server.upload_url}" in first.output
    assert set(wheel_and_sdist("1.0.0")) <= set(index.files())
    python = fresh_venv(tmp_path / "consumer")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "my-shared-utils[redis]==1.0.0"],
        env=isolated_environment(
            HOME=str(home), PIP_INDEX_URL=index.authenticated_simple_url
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

    again = publish(project, env)
    for name in wheel_and_sdist("1.0.0"):
        feed.delete(name)
    after_deleting = publish(project, env)

    for result in (again, after_deleting):
        assert result.returncode != 0
        assert "1.0.0 is already on" in result.output
        assert "raise the version" in result.output
        assert "Published" not in result.output
    assert not set(wheel_and_sdist("1.0.0")) & set(index.files())
    assert index.files_holding_the_password(project.path, home) == []


@pytest.mark.slow
def test_metadata_newer_than_azure_accepts_is_refused_with_the_setting_to_keep(
    tmp_path, index, feed, home
):
    project = bake(tmp_path)
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('core-metadata-version = "2.1"\n', "")
    )
    project.git("commit", "--quiet", "-am", "Let hatchling choose the metadata")
    release(project, "4.0.0")
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=feed.server.upload_url
    )

    result = publish(project, env)

    assert result.returncode != 0
    assert re.search(
        "aborted: "
        + re.escape(feed.server.upload_url)
        + r' refuses Metadata-Version 2\.[2-9]: keep core-metadata-version = "2\.1"'
        r" in pyproject\.toml \(wheel, sdist\) \(took",
        result.output,
    ), result.output
    assert not any("4.0.0" in name for name in index.files())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signin", "status", "seen"),
    [("redirect", 302, "the sign-in page"), ("203", 203, "HTTP 203, the sign-in page")],
)
def test_a_refused_token_ends_in_the_credentials_message_however_azure_says_it(
    project, index, home, signin, status, seen
):
    """twine stops at a redirect; a 203 sign-in page is a success to twine, and
    only reading the feed back shows that nothing was stored."""
    release(project, f"2.0.{status}")
    with running_feed(index, signin=signin) as feed:
        env = publishing_environment(
            index,
            home,
            TWINE_REPOSITORY_URL=feed.server.upload_url,
            TWINE_PASSWORD="expired-" + index.password[::-1],
        )

        result = publish(project, env, secrets=[index.password])

    assert result.returncode != 0
    assert f"refused the credentials ({seen})" in result.output
    assert "Published" not in result.output
    assert "RedirectDetected" not in result.output
    assert not any(f"2.0.{status}" in name for name in index.files())


@pytest.mark.slow
def test_wrong_credentials_on_a_plain_index_end_in_the_credentials_message(
    project, index, home
):
    release(project, "2.1.0")
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=index.upload_url, TWINE_PASSWORD="wrong"
    )

    result = publish(project, env, secrets=[index.password])

    assert result.returncode != 0
    assert f"{index.upload_url} refused the credentials (HTTP 403)" in result.output


KEYRING_BACKEND = """\
import os

from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential


class Keyring(KeyringBackend):
    \"\"\"Answers for one URL, as artifacts-keyring does for an Azure feed.\"\"\"

    priority = 1

    def get_credential(self, service, username):
        if service == os.environ["STAND_IN_KEYRING_URL"]:
            return SimpleCredential("VssSessionToken", os.environ["STAND_IN_TOKEN"])
        return None

    def get_password(self, service, username):
        credential = self.get_credential(service, username)
        if credential and credential.username == username:
            return credential.password
        return None

    def set_password(self, service, username, password):
        raise NotImplementedError

    def delete_password(self, service, username):
        raise NotImplementedError
"""


@pytest.mark.slow
def test_the_keyring_route_signs_twine_in_and_never_shows_the_token(
    tmp_path, project, index, feed, home
):
    (tmp_path / "stand_in_keyring.py").write_text(KEYRING_BACKEND)
    env = publishing_environment(
        index,
        home,
        TWINE_REPOSITORY_URL=feed.server.upload_url,
        PYTHONPATH=str(tmp_path),
        PYTHON_KEYRING_BACKEND="stand_in_keyring.Keyring",
        STAND_IN_TOKEN=index.password,
    )
    del env["TWINE_PASSWORD"]
    release(project, "3.0.0")

    signed_in = publish(
        project,
        {**env, "STAND_IN_KEYRING_URL": feed.server.upload_url},
        secrets=[index.password],
    )
    release(project, "3.1.0")
    nobody = publish(project, {**env, "STAND_IN_KEYRING_URL": "elsewhere"})

    assert signed_in.returncode == 0, signed_in.output
    assert "Published 3.0.0" in signed_in.output
    assert nobody.returncode != 0
    assert (
        f"{feed.server.upload_url} refused the credentials (none found)"
        in nobody.output
    )
    assert "Published" not in nobody.output


@pytest.mark.slow
def test_a_python_without_a_keyring_release_is_told_to_use_a_pat_before_uploading(
    tmp_path, index, feed, home
):
    """As on Linux with Python 3.14 or 3.15, where artifacts-keyring 1.0 has no
    wheel: here the publish group's marker leaves it out for this Python."""
    project = bake(tmp_path)
    pyproject = project.path / "pyproject.toml"
    text = pyproject.read_text()
    marker = re.search(r'"artifacts-keyring>=[^;]*; ([^"]*)"', text).group(1)
    pyproject.write_text(text.replace(marker, "python_version < '3.0'"))
    project.git("commit", "--quiet", "-am", "No keyring for this Python")
    release(project, "5.0.0")
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=feed.server.upload_url
    )
    del env["TWINE_PASSWORD"]

    result = publish(project, env, secrets=[index.password])

    assert result.returncode != 0
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (
        f"artifacts-keyring has no release for Python {python} on {sys.platform}: "
        "set TWINE_PASSWORD to a PAT (Packaging > Read & write)" in result.output
    )
    assert "Uploading" not in result.output
    assert not any("5.0.0" in name for name in index.files())


@pytest.mark.slow
def test_a_malformed_pypirc_is_never_read_so_it_can_neither_stop_nor_show(
    tmp_path, project, index, feed
):
    home = tmp_path / "home"
    home.mkdir()
    pypirc = home / ".pypirc"  # what twine would read, quoting a broken line
    pypirc.write_text(
        f"[distutils]\nindex-servers = feed\n\npassword {index.password}\n"
    )
    release(project, "6.0.0")
    env = publishing_environment(
        index,
        home,
        TWINE_REPOSITORY_URL=feed.server.upload_url,
        PYPIRC_PATH=str(pypirc),
    )

    result = publish(project, env)

    assert result.returncode == 0, result.output
    assert f"Published 6.0.0 to {feed.server.upload_url}" in result.output


@pytest.mark.slow
def test_an_unreachable_index_is_named_without_its_user_info(project, index, home):
    release(project, "4.0.0")
    with running_index_server(project.path.parent / "stopped") as stopped:
        pass
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=stopped.authenticated_simple_url
    )

    result = publish(project, env, secrets=[stopped.password])

    assert result.returncode != 0
    assert f"@{stopped.root.removeprefix('http://')}" not in result.output
    assert f"Cannot reach {stopped.simple_url}: [Errno 111]" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("server", [trickling_server, silent_server])
def test_an_index_that_does_not_answer_in_time_is_named(project, index, home, server):
    release(project, f"5.0.{server.__name__.startswith('silent'):d}")
    with server() as url:
        env = publishing_environment(index, home, TWINE_REPOSITORY_URL=url)
        start = time.monotonic()

        result = publish(project, env, "--timeout", "4")

    assert result.returncode != 0
    assert f"{url} did not answer within 4 s" in result.output
    # the build takes a few seconds; the upload was stopped at its deadline
    assert time.monotonic() - start < 120


@pytest.mark.slow
def test_publish_stops_before_uploading_dirty_trees_and_dev_versions_it_was_not_told(
    project, index, feed, home
):
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=feed.server.upload_url
    )
    project.commit("Work in progress")
    dev = publish(project, env)
    (project.path / "src" / "my_shared_utils" / "batching.py").write_text(
        "# edited\n", encoding="utf-8"
    )
    dirty = publish(project, env, "--allow-dev")
    project.run("git", "checkout", "--", ".")

    assert dev.returncode != 0 and "is a development version" in dev.output
    assert dirty.returncode != 0 and "Uncommitted changes" in dirty.output
    # The refusal ends with the command that publishes it anyway: paste it.
    pasted = re.search(r"with: (nox -s publish -- --allow-dev) ", dev.output)
    command = pasted.group(1).split()[1:]
    allowed = project.nox("-v", *command, env=env, check=False)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert re.search(r"Published \S+\.dev\d+ to ", allowed.stderr)


@pytest.mark.slow
def test_a_version_only_public_pypi_holds_does_not_stop_publishing(
    tmp_path, index, feed, home
):
    """PyPI has utils 0.1 (= 0.1.0); pypiserver redirects unknown projects there."""
    utils = bake(tmp_path / "bake", project_name="Utils", versioning="static")
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=feed.server.upload_url
    )

    result = publish(utils, env)

    assert result.returncode == 0, result.output
    assert "utils-0.1.0.tar.gz" in index.files()


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
        "def test_the_internal_dependency_is_installed() -> None:\n"
        "    assert answer() == 42\n",
        encoding="utf-8",
    )
    project.git("add", "--all")
    project.git("commit", "-m", "Depend on an internal package")
    env = isolated_environment(PIP_INDEX_URL=index_server.authenticated_simple_url)

    result = project.nox(
        "--default-venv-backend", backend, "-s", "tests", "typecheck", "build", env=env
    )

    output = result.stdout + result.stderr  # pytest's on stdout, nox's on stderr
    assert f"Creating virtual environment ({backend})" in output
    assert "test_internal.py ." in output
    assert "* build: success" in output


@pytest.mark.slow
def test_a_dist_folder_that_is_a_link_uploads_only_the_files_just_built(
    tmp_path, project, index, feed, home
):
    release(project, "8.0.0")
    stale = tmp_path / "old-dist"
    stale.mkdir()
    (stale / "my_shared_utils-0.0.1-py3-none-any.whl").write_bytes(b"stale")
    shutil.rmtree(project.path / "dist", ignore_errors=True)  # earlier tests'
    (project.path / "dist").symlink_to(stale, target_is_directory=True)
    with open(project.path / ".git" / "info" / "exclude", "a") as excluded:
        excluded.write("dist\n")  # a link git would otherwise call untracked
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=feed.server.upload_url
    )

    result = publish(project, env)

    assert result.returncode == 0, result.output
    assert "my_shared_utils-0.0.1-py3-none-any.whl" not in index.files()
    assert set(wheel_and_sdist("8.0.0")) <= set(index.files())
    assert not (project.path / "dist").is_symlink()
    assert [p.name for p in stale.iterdir()] == [
        "my_shared_utils-0.0.1-py3-none-any.whl"
    ]


@pytest.mark.slow
def test_a_token_in_twine_username_is_never_shown(project, index, home):
    """Azure takes any user name with a PAT, so some put the PAT there too;
    twine shows the user name when an upload fails."""
    release(project, "8.1.0")
    token = "user-named-token-Qx7Rv2Lp"
    with failing_server(502) as url:
        env = publishing_environment(
            index, home, TWINE_REPOSITORY_URL=url, TWINE_USERNAME=token
        )

        result = publish(project, env, "--timeout", "60", secrets=[token])

    assert result.returncode != 0
    assert "502" in result.output


@pytest.mark.slow
def test_a_raw_slash_in_the_urls_password_is_never_shown(project, index, home):
    release(project, "8.2.0")
    with running_index_server(project.path.parent / "stopped-again") as stopped:
        pass
    secret = "pa/ss-Zr8Kt3Wq"
    host = stopped.root.removeprefix("http://")
    env = publishing_environment(
        index, home, TWINE_REPOSITORY_URL=f"http://build:{secret}@{host}/simple/"
    )

    result = publish(project, env, secrets=[secret, "ss-Zr8Kt3Wq"])

    assert result.returncode != 0
    assert f"{stopped.root}/simple/" in result.output
