"""The feed doctor: `python -m azure_pylib doctor`, the template's machinery,
tested here once against the feed stand-in at https://pkgs.dev.azure.com, and
PyPI's stand-in at https://pypi.org; `nox -s doctor` of a baked library when
the feed does not answer.

Each cause of trouble is named alone, with its fix, one line each; the exit
status is 0 only when nothing needs fixing; no line holds a credential.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from azure_pylib import doctor as doctor_module
from tests.azure_stand_in import entra_token
from tests.baking import TEMPLATE, BakedProject, bake, make_wheel
from tests.feed_stand_in import HOST, Feed, answering, hold, public_index, running_feed
from tests.index_server import running_index_server

THEIRS = "my_shared_utils-9.0.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    return bake(tmp_path_factory.mktemp("doctor"))


@pytest.fixture(scope="module")
def served(tmp_path_factory, project: BakedProject) -> Iterator[Feed]:
    """The feed with PyPI as its upstream, holding a first version of the library;
    PyPI's stand-in knows no package of the library's name."""
    folder = tmp_path_factory.mktemp("index")
    with running_index_server(folder) as index:
        with running_feed(index, folder / "network") as feed:
            make_wheel(index.packages, project.distribution, "0.1.0")
            feed.network.route("pypi.org", public_index({}))
            yield feed


@pytest.fixture
def feed(served: Feed) -> Iterator[Feed]:
    """That feed, as it was, after each test."""
    yield served
    served.forbidden, served.signin = False, "redirect"
    served.network.route(HOST, served.app)


def doctor(project: BakedProject, feed: Feed, *arguments: str, **env: str):
    """Exit status and problem lines of `python -m azure_pylib doctor`, on a
    machine whose pip settings are these variables only (no keyring route)."""
    environment = {
        "HOME": str(project.path.parent / "home"),
        "PATH": os.pathsep.join(["/usr/bin", "/bin"]),
        "PIP_CONFIG_FILE": os.devnull,
        "PYTHONPATH": str(TEMPLATE),
        **feed.env(),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "azure_pylib", "doctor", *arguments],
        cwd=project.path, env=environment, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    printed = result.stdout + result.stderr
    for secret in {feed.token, *(v for v in env.values() if "pat" in v.lower())}:
        assert secret not in printed
    assert "Traceback" not in printed, printed
    problems = ("FIX", "##vso[task.logissue type=error]")
    result.problems = [ln for ln in printed.splitlines() if ln.startswith(problems)]
    result.lines = printed.splitlines()
    return result


def pat_index(feed: Feed, password: str | None = None, name: str = "") -> str:
    url = feed.url("simple", "build", password or feed.token)
    return url.replace("/python-internal/", f"/{name}/") if name else url


def everything_right(feed: Feed) -> dict[str, str]:
    return {"PIP_INDEX_URL": pat_index(feed), "TWINE_PASSWORD": feed.token}


def test_with_everything_right_the_doctor_exits_0_and_says_who_it_asked_as(
    project, feed
):
    result = doctor(project, feed, **everything_right(feed))

    assert (result.returncode, result.problems) == (0, [])
    assert "ok  identity: asks the feed as the token in pip's index URL" in result.lines
    assert "ok  feed: answers the token in pip's index URL" in result.lines


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ("no index", ["pip: uses PyPI", "uv: no index"]),
        ("an extra index", ["pip: a second index, https://pypi.org/simple/"]),
        ("uv's own other index", ["uv: uses https://pypi.org/simple/, not the feed"]),
        ("an expired PAT", ["feed: the feed refused the token in pip's index URL"
                            " (the sign-in page, HTTP 302)"]),  # fmt: skip
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
        env["PIP_INDEX_URL"] = pat_index(feed, password="expired-pat-Pq7rS9tU")

    result = doctor(project, feed, **env)

    assert result.returncode == 1
    assert len(result.problems) == len(expected), result.problems
    for fix, start in zip(result.problems, expected):
        assert fix.startswith(f"FIX {start}"), result.problems


def test_a_sign_in_page_with_203_is_a_refused_credential(project, feed):
    feed.signin = "203"
    env = {"PIP_INDEX_URL": pat_index(feed, "expired-pat-Pq7rS9tU")}

    result = doctor(project, feed, TWINE_PASSWORD="x", **env)

    assert [fix.split(" (")[0] for fix in result.problems] == [
        "FIX feed: the feed refused the token in pip's index URL"
    ]
    assert "(the sign-in page, HTTP 203)" in result.problems[0]


def test_a_user_without_a_role_is_told_which_role_to_ask_for(project, feed):
    feed.forbidden = True

    result = doctor(project, feed, **everything_right(feed))

    assert result.problems == [
        "FIX feed: the token in pip's index URL has no role on the feed (HTTP 403):"
        " ask its owner for Feed Reader, or Collaborator to save packages from PyPI"
    ]


def test_a_wrong_feed_name_in_pyproject_is_named(feed, tmp_path):
    project = bake(tmp_path, feed_name="python")
    wrong = feed.simple_url.replace("/python-internal/", "/python/")

    result = doctor(project, feed, PIP_INDEX_URL=pat_index(feed, name="python"),
                    TWINE_PASSWORD=feed.token)  # fmt: skip

    assert result.problems == [
        f"FIX feed: {wrong} does not exist (HTTP 404): check [tool.azure-artifacts]"
    ]


def test_a_feed_without_pypi_as_upstream_is_named(project, tmp_path):
    with running_index_server(tmp_path / "index", fallback_to_pypi=False) as index:
        make_wheel(index.packages, project.distribution, "0.1.0")
        with running_feed(index, tmp_path / "network") as feed:
            result = doctor(project, feed, **everything_right(feed))

    assert [fix.split(",")[0] for fix in result.problems] == [
        "FIX upstream: pip is not on the feed"
    ]


def test_a_library_not_yet_on_the_feed_is_told_to_claim_its_name(project, tmp_path):
    with running_index_server(tmp_path / "index") as index:
        with running_feed(index, tmp_path / "network") as feed:
            result = doctor(project, feed, **everything_right(feed))

    assert [fix.split(",")[0] for fix in result.problems] == [
        f"FIX name: {project.distribution} is not on the feed yet"
    ]


def test_a_public_package_of_the_librarys_name_before_its_first_publish_is_named(
    project, tmp_path
):
    with running_index_server(tmp_path / "index") as index:
        make_wheel(index.packages, project.distribution, "9.0.0")  # saved from PyPI
        with running_feed(index, tmp_path / "network") as feed:
            feed.network.route(
                "pypi.org", public_index({project.distribution: [THEIRS]})
            )
            before = doctor(project, feed, **everything_right(feed))
            make_wheel(index.packages, project.distribution, "0.1.0")  # ours
            after = doctor(project, feed, **everything_right(feed))

    assert [fix.split(",")[0] for fix in before.problems] == [
        f"FIX name: the feed serves only PyPI's {project.distribution}"
    ]
    assert after.problems == []


KEYRING = """\
from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential
import os


class Keyring(KeyringBackend):
    priority = 1

    def get_credential(self, service, username):
        return SimpleCredential("VssSessionToken", os.environ["STAND_IN_TOKEN"])

    def get_password(self, service, username):
        return os.environ["STAND_IN_TOKEN"]

    def set_password(self, *args):
        raise NotImplementedError

    def delete_password(self, *args):
        raise NotImplementedError
"""


def test_the_keyring_route_is_used_when_no_url_holds_a_token(project, feed, tmp_path):
    (tmp_path / "stand_in_keyring.py").write_text(KEYRING)
    (tmp_path / "artifacts_keyring").mkdir()  # what publish's group installs
    (tmp_path / "artifacts_keyring" / "__init__.py").write_text("")
    index = feed.url("simple", "VssSessionToken", "").replace(
        "https://", "https://VssSessionToken@"
    )

    result = doctor(
        project, feed, PIP_INDEX_URL=index, PYTHONPATH=f"{TEMPLATE}:{tmp_path}",
        PYTHON_KEYRING_BACKEND="stand_in_keyring.Keyring", STAND_IN_TOKEN=feed.token,
    )  # fmt: skip

    assert (result.returncode, result.problems) == (0, [])
    assert (
        "ok  identity: asks the feed as the token in artifacts-keyring" in result.lines
    )


def test_the_azure_cli_sign_in_nox_passes_on_is_enough(project, feed):
    """What the noxfile gives the doctor after `az login`, with nothing else set."""
    token = entra_token("alice@contoso.com")
    feed.tokens[token] = None
    index = feed.url("simple", "azure-cli", token)

    result = doctor(project, feed, UV_DEFAULT_INDEX=index, TWINE_USERNAME="azure-cli",
                    TWINE_PASSWORD=token)  # fmt: skip

    assert (result.returncode, result.problems) == (0, []), result.lines
    assert (
        "ok  identity: asks the feed as the Azure CLI's account alice@contoso.com"
        " (the Azure CLI's sign-in)" in result.lines
    )
    assert token not in "\n".join(result.lines)


def test_publishing_takes_the_token_of_the_index_of_the_same_feed_only(
    monkeypatch,
):
    monkeypatch.setattr(doctor_module.importlib.util, "find_spec", lambda name: None)
    upload = "https://pkgs.dev.azure.com/myorg/myproject/_packaging/libs/pypi/upload/"
    same = "https://azure-cli:tok@pkgs.dev.azure.com/myorg/myproject/_packaging/libs"
    other = "https://build:tok@pkgs.dev.azure.com/myorg/myproject/_packaging/other"

    found = [
        (check.ok, check.line)
        for env in ({"PIP_INDEX_URL": f"{same}/pypi/simple/"},
                    {"UV_DEFAULT_INDEX": f"{other}/pypi/simple/"}, {})
        for check in [doctor_module.publish_check(env, upload)]
    ]  # fmt: skip

    keyring = (
        "publish: artifacts-keyring is not installed here: sign in with `az login`,"
        " or set TWINE_PASSWORD to a PAT with Packaging (Read & write)"
    )
    assert found == [
        (True, "publish: twine gets the token of PIP_INDEX_URL, the same feed"),
        (False, keyring),
        (False, keyring),
    ]


def test_the_pipeline_checks_the_feed_pip_authenticate_named(project, feed):
    result = doctor(project, feed, "--pipeline",
                    PIP_INDEX_URL=pat_index(feed, name="python"))  # fmt: skip

    wrong = feed.simple_url.replace("/python-internal/", "/python/")
    # Errors as Azure shows them on the run's summary, naming the feed pip was given.
    assert (result.returncode, result.problems) == (1, [
        f"##vso[task.logissue type=error]feed: {wrong} does not exist (HTTP 404):"
        " check [tool.azure-artifacts]"
    ])  # fmt: skip


@pytest.mark.slow  # waits for the deadline
def test_a_feed_that_does_not_answer_is_named_within_the_deadline(project, feed):
    feed.network.route(HOST, hold)

    result = doctor(project, feed, **everything_right(feed))

    assert result.problems[-1:] == [
        f"FIX feed: {HOST} gave no whole answer within 15 s: check the network (or"
        " the proxy, HTTPS_PROXY)"
    ]


def test_a_raw_slash_in_the_index_urls_token_is_named_without_showing_it(project, feed):
    """pip's URL parsing ends the host at a raw '/': `build:tok/en@host` reads
    as host `build`, port `tok`."""
    env = {**everything_right(feed), "PIP_INDEX_URL": pat_index(feed, "Pq7r/sT9uV")}

    result = doctor(project, feed, **env)

    assert result.returncode == 1
    assert any(
        fix.startswith("FIX pip: the token in its index URL (from the environment")
        and "holds a raw '/', '?' or '#'" in fix
        for fix in result.problems
    ), result.problems
    assert not [line for line in result.lines if "Pq7r" in line or "sT9uV" in line]


def test_no_keyring_route_on_linux_for_python_3_14(monkeypatch):
    monkeypatch.setattr(doctor_module.sys, "platform", "linux")
    monkeypatch.setattr(doctor_module.sys, "version_info", (3, 14, 0))
    monkeypatch.setattr(doctor_module.platform, "python_version", lambda: "3.14.0")
    monkeypatch.setattr(doctor_module.importlib.util, "find_spec", lambda name: None)

    assert doctor_module.keyring_problem() == (
        "artifacts-keyring has no release for Python 3.14.0 on linux"
    )


def test_a_renovate_json_that_names_another_feed_is_named_with_the_fix(
    tmp_path, monkeypatch
):
    project = bake(tmp_path)
    monkeypatch.chdir(project.path)
    ours = doctor_module.project_of()[1].url("simple")
    settings = project.path / "renovate.json"
    assert doctor_module.renovate_check(ours).line == (
        "renovate: looks packages up in the feed"
    )

    settings.write_text(settings.read_text().replace("python-internal", "python"))
    moved = doctor_module.renovate_check(ours)
    settings.unlink()
    removed = doctor_module.renovate_check(ours)

    assert not moved.ok
    assert moved.line.endswith(
        " set them to https://pkgs.dev.azure.com/myorg/myproject/_packaging/"
        "python-internal/pypi/simple/, the feed of pyproject.toml"
    )
    assert removed.ok and "no renovate.json" in removed.line


@pytest.mark.slow
def test_nox_s_doctor_names_index_and_identity_when_the_feed_does_not_answer(
    tmp_path, feed
):
    project = bake(tmp_path)
    feed.network.route(HOST, answering(503))
    path = f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"  # no Azure CLI
    env = {**feed.env(), "HOME": str(tmp_path), "PATH": path,
           "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": pat_index(feed)}  # fmt: skip

    result = project.nox("-s", "doctor", env=env, check=False)

    printed = result.stdout + result.stderr
    assert result.returncode == 1
    assert (
        f"uv could not install the template's tools from {feed.simple_url}, asking as"
        " the credential in its URL: uv says why above" in printed
    ), printed
    assert "503" in printed
    assert feed.token not in printed
