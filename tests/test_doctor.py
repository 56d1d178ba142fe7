"""`nox -s doctor` (tools/feed_doctor.py of a baked project) against the feed
stand-in: each cause of "pip cannot use the feed" is named, alone, with its
fix; with everything right the doctor exits 0. The password is never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.baking import BakedProject, bake, load_module, make_wheel
from tests.feed_stand_in import Feed, public_index, running_feed, silent_server
from tests.index_server import running_index_server

FEED_PATH = "myorg/myproject/_packaging/python-internal/pypi"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    return bake(tmp_path_factory.mktemp("doctor"))


@pytest.fixture(scope="module")
def served(tmp_path_factory, project: BakedProject) -> Iterator[Feed]:
    """The feed with PyPI as its upstream, holding a first version of the library."""
    folder = tmp_path_factory.mktemp("index")
    with running_index_server(folder) as index, running_feed(index) as feed:
        make_wheel(index.packages, project.distribution, "0.1.0")
        yield feed


@pytest.fixture
def feed(served: Feed) -> Iterator[Feed]:
    """That feed, its user's role restored after each test."""
    yield served
    served.forbidden = False


def simple_url(feed: Feed, name: str = "python-internal") -> str:
    return f"{feed.server.root}/{FEED_PATH.replace('python-internal', name)}/simple/"


def doctor(
    project: BakedProject, feed: Feed, *arguments: str, pypi: str = "", **env: str
) -> tuple[int, list[str]]:
    """Exit status and problem lines of `python tools/feed_doctor.py`, on a
    machine whose pip settings are these variables only (no keyring on PATH)."""
    environment = {
        "HOME": str(project.path.parent / "home"),
        "PATH": os.pathsep.join(["/usr/bin", "/bin"]),
        "PIP_CONFIG_FILE": os.devnull,
        **env,
    }
    if "--feed-url" not in arguments and "--pipeline" not in arguments:
        arguments += ("--feed-url", simple_url(feed))  # else PipAuthenticate's
    with public_index({}) as no_public_package:  # PyPI's stand-in
        arguments += ("--pypi-url", pypi or no_public_package)
        result = subprocess.run(
            [sys.executable, "tools/feed_doctor.py", *arguments],
            cwd=project.path, env=environment, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    printed = result.stdout + result.stderr
    assert feed.index.password not in printed
    assert "Traceback" not in printed
    problems = ("FIX", "##vso[task.logissue type=error]")
    return result.returncode, [
        line for line in printed.splitlines() if line.startswith(problems)
    ]


def pat_index(feed: Feed, password: str | None = None, name: str = "python-internal"):
    host = simple_url(feed, name).removeprefix("http://")
    return f"http://build:{password or feed.index.password}@{host}"


def everything_right(feed: Feed) -> dict[str, str]:
    return {"PIP_INDEX_URL": pat_index(feed), "TWINE_PASSWORD": feed.index.password}


def test_with_everything_right_the_doctor_exits_0(project, feed):
    assert doctor(project, feed, **everything_right(feed)) == (0, [])


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        # No index means no PAT either: the keyring would be the only route.
        (
            "no index",
            [
                "pip: uses PyPI",
                "uv: no index",
                "keyring: the keyring command is missing",
                "feed: not asked",
            ],
        ),
        ("an extra index", ["pip: a second index, https://pypi.org/simple/"]),
        ("uv's own other index", ["uv: uses https://pypi.org/simple/, not the feed"]),
        ("an expired PAT", ["feed: the feed refused the PAT in pip's index URL"
                            " (HTTP 302, the sign-in page)"]),  # fmt: skip
        ("no publishing token", ["publish: the keyring command is missing"]),
    ],
)
def test_each_cause_is_named_alone_with_its_fix(project, feed, cause, expected):
    env = everything_right(feed)
    if cause == "no index":
        del env["PIP_INDEX_URL"]
    elif cause == "an extra index":
        env["PIP_EXTRA_INDEX_URL"] = "https://pypi.org/simple/"
    elif cause == "uv's own other index":
        env["UV_DEFAULT_INDEX"] = "https://pypi.org/simple/"
    elif cause == "an expired PAT":
        env["PIP_INDEX_URL"] = pat_index(feed, password="expired-token-Pq7rS9tU")
    elif cause == "no publishing token":
        del env["TWINE_PASSWORD"]

    status, fixes = doctor(project, feed, **env)

    assert status == 1
    assert len(fixes) == len(expected), fixes
    for fix, start in zip(fixes, expected):
        assert fix.startswith(f"FIX {start}"), fixes


def test_a_sign_in_page_with_203_is_a_refused_credential(project, tmp_path):
    with running_index_server(tmp_path / "index") as index:
        with running_feed(index, signin="203") as feed:
            env = {"PIP_INDEX_URL": pat_index(feed, "expired-token-Pq7rS9tU")}
            _, fixes = doctor(project, feed, TWINE_PASSWORD="x", **env)

    assert [fix.split(" (")[0] for fix in fixes] == [
        "FIX feed: the feed refused the PAT in pip's index URL"
    ]
    assert "(HTTP 203, the sign-in page)" in fixes[0]


def test_a_user_without_a_role_is_told_which_role_to_ask_for(project, feed):
    feed.forbidden = True

    _, fixes = doctor(project, feed, **everything_right(feed))

    assert fixes == [
        "FIX feed: the credential's user has no role on the feed (HTTP 403): ask its"
        " owner for Feed Reader, or Collaborator to save packages from PyPI"
    ]


def test_a_wrong_feed_name_is_named(project, feed):
    env = {**everything_right(feed), "PIP_INDEX_URL": pat_index(feed, name="python")}
    wrong = simple_url(feed, "python")

    _, fixes = doctor(project, feed, "--feed-url", wrong, **env)

    assert fixes == [
        f"FIX feed: {wrong} does not exist (HTTP 404): check [tool.azure-artifacts]"
    ]


def test_a_feed_without_pypi_as_upstream_is_named(project, tmp_path):
    with running_index_server(tmp_path / "index", fallback_to_pypi=False) as index:
        make_wheel(index.packages, project.distribution, "0.1.0")
        with running_feed(index) as feed:
            _, fixes = doctor(project, feed, **everything_right(feed))

    assert [fix.split(",")[0] for fix in fixes] == [
        "FIX upstream: pip is not on the feed"
    ]


def test_a_library_not_yet_on_the_feed_is_told_to_claim_its_name(project, tmp_path):
    with running_index_server(tmp_path / "index") as index:
        with running_feed(index) as feed:
            _, fixes = doctor(project, feed, **everything_right(feed))

    assert [fix.split(",")[0] for fix in fixes] == [
        f"FIX name: {project.distribution} is not on the feed yet"
    ]


def test_the_keyring_route_is_used_when_the_index_url_holds_no_token(
    project, feed, tmp_path
):
    keyring = tmp_path / "bin" / "keyring"
    keyring.parent.mkdir()
    # Stands for artifacts-keyring's `keyring get URL VssSessionToken`.
    keyring.write_text(f"#!/bin/sh\necho {feed.index.password}\n")
    keyring.chmod(0o755)
    index = simple_url(feed).replace("http://", "http://VssSessionToken@")
    path = os.pathsep.join([str(keyring.parent), "/usr/bin", "/bin"])

    status, fixes = doctor(project, feed, PIP_INDEX_URL=index, PATH=path)

    assert (status, fixes) == (0, [])


def test_the_pipeline_checks_the_feed_pip_authenticate_named(project, feed):
    env = {"PIP_INDEX_URL": pat_index(feed, name="python")}

    status, errors = doctor(project, feed, "--pipeline", **env)

    # Errors as Azure shows them on the run's summary, naming the feed pip was given.
    assert (status, errors) == (1, [
        f"##vso[task.logissue type=error]feed: {simple_url(feed, 'python')} does not"
        " exist (HTTP 404): check [tool.azure-artifacts]"
    ])  # fmt: skip


def test_a_public_package_of_the_librarys_name_before_its_first_publish_is_named(
    project, tmp_path
):
    theirs = "my_shared_utils-9.0.0-py3-none-any.whl"
    with running_index_server(tmp_path / "index") as index:
        make_wheel(index.packages, project.distribution, "9.0.0")  # saved from PyPI
        with running_feed(index) as feed, public_index(
            {project.distribution: [theirs]}
        ) as pypi:
            _, fixes = doctor(project, feed, pypi=pypi, **everything_right(feed))
            make_wheel(index.packages, project.distribution, "0.1.0")  # ours
            _, once_published = doctor(
                project, feed, pypi=pypi, **everything_right(feed)
            )

    assert [fix.split(",")[0] for fix in fixes] == [
        f"FIX name: the feed serves only PyPI's {project.distribution}"
    ]
    assert once_published == []


@pytest.mark.slow  # waits for the deadline
def test_a_feed_that_does_not_answer_is_named_within_the_deadline(project, feed):
    with silent_server() as silent:
        url = f"{silent}{FEED_PATH}/simple/"
        with_token = url.replace("http://", f"http://build:{feed.index.password}@")
        env = {**everything_right(feed), "PIP_INDEX_URL": with_token}
        _, fixes = doctor(project, feed, "--feed-url", url, **env)

    (fix,) = fixes
    assert (
        fix.startswith("FIX feed: no answer from 127.0.0.1:") and "within 10 s" in fix
    )


def test_no_keyring_route_on_linux_for_python_3_14(project, monkeypatch):
    module = load_module(project.path / "tools" / "feed_doctor.py", "feed_doctor")
    monkeypatch.setattr(
        module.platform, "python_version_tuple", lambda: ("3", "14", "0")
    )
    monkeypatch.setattr(module.sys, "platform", "linux")

    assert module.keyring_problem() == (
        "artifacts-keyring 1.0 has no Linux release for Python 3.14"
    )


def test_a_renovate_json_that_names_another_feed_is_named_with_the_fix(
    tmp_path, monkeypatch
):
    project = bake(tmp_path)
    monkeypatch.chdir(project.path)
    doctor_module = load_module(project.path / "tools" / "feed_doctor.py", "doctor")
    settings = project.path / "renovate.json"
    assert doctor_module.renovate_check().line == (
        "renovate: looks packages up in the feed"
    )

    settings.write_text(settings.read_text().replace("python-internal", "python"))
    moved = doctor_module.renovate_check()
    settings.unlink()
    removed = doctor_module.renovate_check()

    assert not moved.ok
    assert moved.line.endswith(
        " set them to https://pkgs.dev.azure.com/myorg/myproject/_packaging/"
        "python-internal/pypi/simple/, the feed of pyproject.toml"
    )
    assert removed.ok and "no renovate.json" in removed.line


def test_a_raw_slash_in_the_index_urls_token_is_named_without_showing_the_token(
    project, feed
):
    """pip's URL parsing ends the host at a raw '/': `build:tok/en@host` reads
    as host `build`, port `tok`. The doctor used to crash there, printing `tok`."""
    env = {**everything_right(feed), "PIP_INDEX_URL": pat_index(feed, "Pq7r/sT9uV")}

    status, fixes = doctor(project, feed, **env)

    assert status == 1
    assert any(
        fix.startswith("FIX pip: the token in its index URL (from the environment")
        and "holds a raw '/', '?' or '#'" in fix
        for fix in fixes
    ), fixes
    assert not [fix for fix in fixes if "Pq7r" in fix or "sT9uV" in fix]
