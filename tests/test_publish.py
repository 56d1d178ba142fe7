"""Publishing a library: `python -m azure_pylib publish`, the template's
machinery, tested here once, and `nox -s publish` of baked libraries end to end.

The machinery runs from the template's checkout with the test environment's
twine, in a baked library (whose pyproject.toml names the feed), against the
feed stand-in at https://pkgs.dev.azure.com (tests/feed_stand_in.py), which
fails chosen uploads and listings the ways Azure Artifacts does. Each test
uploads its own version. No output may hold a credential in any form: raw,
percent-quoted, or in the base64 of a Basic header.
"""

from __future__ import annotations

import base64
import itertools
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.azure_network import Answer, Request
from tests.azure_stand_in import azure_cli, entra_token
from tests.baking import TEMPLATE, BakedProject, bake, make_sdist, make_wheel
from tests.feed_stand_in import HOST, Feed, answering, hold, trickle
from tests.index_server import isolated_environment

NAME = "my-shared-utils"
versions = (f"9.{n}.0" for n in itertools.count())  # one per test, module-wide
USERS = ("build", "azure-cli", "VssSessionToken", "")

# Runs a command; its last line on stderr is the peak memory, in bytes, of the
# largest process it waited for.
PEAK_MEMORY = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(f"peak memory: {peak}", file=sys.stderr)
sys.exit(code)
"""


@pytest.fixture(autouse=True)
def calm_feed(request) -> Iterator[None]:
    yield
    if "feed" in request.fixturenames:
        feed = request.getfixturevalue("feed")
        feed.upsets.clear()
        feed.listing, feed.retry_after = "", "1"
        feed.network.route(HOST, feed.app)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> BakedProject:
    return bake(tmp_path_factory.mktemp("bake"))


def built(folder: Path, version: str) -> list[Path]:
    """A wheel and an sdist of `version`, as `nox -s build` leaves them."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_wheel(folder, NAME, version), make_sdist(folder, NAME, version)]


def forms_of(secret: str) -> set[str]:
    """A secret as a text may show it: raw, quoted, in a Basic header."""
    found = {secret, quote(secret, safe=""), quote(secret)}
    for user in USERS:
        pair = f"{user}:{secret}".encode("utf-8", "replace")
        found.add(base64.b64encode(pair).decode())
    return found


def publish(library, feed, files, *options, timeout=20, secrets=(), **env):
    """`python -m azure_pylib publish` as nox -s publish runs it, in the library;
    its output holds no secret in any form, and no traceback."""
    environment = isolated_environment(
        **feed.env(), PYTHONPATH=str(TEMPLATE), TWINE_PASSWORD=feed.token
    )
    environment.update(env)
    environment = {k: v for k, v in environment.items() if v is not None}
    command = [sys.executable, "-m", "azure_pylib", "publish", f"--timeout={timeout}"]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, *command, *options, *map(str, files)],
        cwd=library.path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout + 120,
    )
    result.took = time.monotonic() - started
    result.stderr, _, peak = result.stderr.rpartition("peak memory: ")
    result.peak_memory = int(peak)
    result.sentence = result.stdout.strip()
    shown = result.stdout + result.stderr
    for secret in (feed.token, *secrets):
        for form in forms_of(secret):
            assert form not in shown, (form, shown)
    assert "Traceback" not in shown, shown
    return result


@contextmanager
def routed(feed: Feed, app) -> Iterator[None]:
    """pkgs.dev.azure.com answered by `app` instead of the feed, for a while."""
    feed.network.route(HOST, app)
    try:
        yield
    finally:
        feed.network.route(HOST, feed.app)


# --- the release, the guards -------------------------------------------------


@pytest.mark.parametrize(
    ("version", "options", "problem"),
    [
        ("1.2.1.dev3", [], "1.2.1.dev3 is a development version: release from a"
         " tag (git tag v1.2.1), or publish it with: nox -s publish -- --allow-dev"),
        ("1.2.0+g1a2b3c", ["--allow-dev"], "1.2.0+g1a2b3c has a local version"
         " segment, which Azure Artifacts rejects"),
        ("1.2.0", ["--tag", "v1.3.0"], "The tag v1.3.0 does not match the built"
         " version 1.2.0"),
        ("2.0.0rc1.dev3", [], "release from a tag (git tag v2.0.0rc1)"),
    ],
)  # fmt: skip
def test_versions_that_must_not_reach_the_feed_are_refused_before_any_request(
    tmp_path, library, feed, version, options, problem
):
    posts = len(feed.posts)

    result = publish(library, feed, built(tmp_path, version), *options)

    assert result.returncode == 1
    assert problem in result.sentence
    assert len(feed.posts) == posts


def test_a_release_on_main_is_passed_over_by_dev_only(tmp_path, library, feed):
    result = publish(library, feed, built(tmp_path, "1.2.0"), "--dev-only")

    assert result.returncode == 0
    assert result.sentence == (
        "1.2.0 is a release: its tag's run publishes it; main publishes development"
        " versions"
    )


def test_the_feeds_install_endpoint_given_for_uploads_is_named_as_such(
    tmp_path, library, feed
):
    result = publish(
        library, feed, built(tmp_path, "1.0.0"), TWINE_REPOSITORY_URL=feed.simple_url
    )

    assert result.returncode == 1
    assert result.sentence == (
        f"{feed.simple_url} is the feed's install endpoint (/simple/): uploads go to"
        " its /upload/ endpoint (TWINE_REPOSITORY_URL)"
    )


# --- uploads, read back -------------------------------------------------------


def test_a_release_goes_to_the_feed_of_pyproject_is_read_back_and_then_is_whole(
    tmp_path, library, feed
):
    version = next(versions)
    files = built(tmp_path, version)

    first = publish(library, feed, files)
    again = publish(library, feed, files)

    assert first.returncode == 0, first.sentence
    assert first.sentence == f"Published {version} to {feed.upload_url}"
    assert {f.name for f in files} <= set(feed.files())
    assert again.returncode == 0, again.sentence
    assert again.sentence == (
        f"{version} is on {feed.upload_url} already, whole: nothing to upload"
    )


def test_other_files_of_a_version_on_the_feed_stop_everything(tmp_path, library, feed):
    version = next(versions)
    publish(library, feed, built(tmp_path / "first", version))
    posts = len(feed.posts)
    rebuilt = built(tmp_path / "second", version)
    rebuilt[0].write_bytes(rebuilt[0].read_bytes() + b"\0")  # another build
    rebuilt[1].write_bytes((tmp_path / "first" / rebuilt[1].name).read_bytes())

    result = publish(library, feed, rebuilt)

    assert result.returncode == 1
    assert result.sentence == (
        f"The feed holds another {rebuilt[0].name} for {version}: versions are"
        " immutable: raise the version"
    )
    assert len(feed.posts) == posts


def test_a_deleted_version_is_named_and_never_uploaded_again(tmp_path, library, feed):
    version = next(versions)
    files = built(tmp_path, version)
    publish(library, feed, files)
    for file in files:
        feed.delete(file.name)

    result = publish(library, feed, files)

    assert result.returncode == 1
    assert result.sentence == (
        f"{files[0].name} and {files[1].name} of {version} was deleted from"
        f" {feed.upload_url}, and versions are immutable: raise the version"
    )


@pytest.mark.slow
@pytest.mark.parametrize("failure", [500, 503, "reset", "sign-in"])
def test_a_release_the_feed_stored_only_part_of_names_what_is_missing_and_completes(
    tmp_path, library, feed, failure
):
    version = next(versions)
    wheel, sdist = built(tmp_path, version)
    feed.upsets[".tar.gz"] = [failure] * 200

    partial = publish(library, feed, [wheel, sdist], timeout=10)
    feed.upsets.clear()
    completed = publish(library, feed, [wheel, sdist])

    assert partial.returncode == 1
    assert (
        f"Only part of {version} is on the feed: {wheel.name}; not {sdist.name}."
        " nox -s publish again, on this commit, uploads the rest" in partial.sentence
    ), partial.sentence
    assert partial.took < 10 + 20  # the deadline, then one read of the feed
    assert completed.returncode == 0, completed.sentence
    assert completed.sentence == f"Published {version} to {feed.upload_url}"
    assert {wheel.name, sdist.name} <= set(feed.files())


@pytest.mark.slow
def test_a_file_stored_before_a_502_counts_as_uploaded_not_as_already_there(
    tmp_path, library, feed
):
    """twine meets the 502 six times (its own tries); the next run meets a 409
    for the file the first stored, which would read as "deleted" if it counted."""
    version = next(versions)
    files = built(tmp_path, version)
    feed.upsets = {".tar.gz": ["stored, then 502"], ".whl": ["stored, then 502"]}

    result = publish(library, feed, files)

    assert result.returncode == 0, result.sentence
    assert result.sentence == f"Published {version} to {feed.upload_url}"


@pytest.mark.slow
def test_a_release_the_feed_stored_whole_is_published_though_an_answer_was_lost(
    tmp_path, library, feed
):
    version = next(versions)
    files = built(tmp_path, version)
    feed.upsets = {".tar.gz": ["stored, then silence"]}

    result = publish(library, feed, files, timeout=8)

    assert result.returncode == 0, result.sentence
    assert result.sentence.startswith(
        f"Published {version} to {feed.upload_url}: the feed lists every file"
    ), result.sentence
    assert result.took < 8 + 20


@pytest.mark.slow
def test_throttled_uploads_wait_longer_each_time_and_then_go_through(
    tmp_path, library, feed
):
    version = next(versions)
    files = built(tmp_path, version)
    # twine tries a 5xx six times at once, a 429 once.
    feed.upsets[".whl"] = [429, 429, *[503] * 6]

    result = publish(library, feed, files)

    assert result.returncode == 0, result.sentence
    assert "429, again in 1 s" in result.stderr
    assert "429, again in 2 s" in result.stderr
    assert "5xx, again in 4 s" in result.stderr
    assert result.took >= 1 + 2 + 4
    assert feed.posts.count(files[0].name) == 1 + 1 + 6 + 1


@pytest.mark.slow
def test_a_feed_that_keeps_throttling_gets_one_sentence_within_the_deadline(
    tmp_path, library, feed
):
    files = built(tmp_path, next(versions))
    feed.upsets[".whl"] = [429] * 50

    result = publish(library, feed, files, timeout=6)

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"{feed.upload_url} throttles uploads (HTTP 429 Too Many Requests, 3 tries"
        " within 6 s)"
    ), result.sentence
    assert result.took < 6 + 20
    assert len(result.sentence.splitlines()) == 1


def test_an_answer_of_200_that_stored_nothing_is_not_published(tmp_path, library, feed):
    files = built(tmp_path, next(versions))
    feed.upsets[".whl"] = ["200 page"]

    result = publish(library, feed, files, timeout=4)

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"{feed.upload_url} answered the upload of {files[0].name} but does not list"
        " it within 4 s"
    ), result.sentence
    assert "Published" not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_feed_that_lists_a_new_file_late_is_waited_for(tmp_path, library, feed):
    version = next(versions)
    feed.listing = "late"

    result = publish(library, feed, built(tmp_path, version))

    assert result.returncode == 0, result.sentence
    assert result.sentence == f"Published {version} to {feed.upload_url}"


@pytest.mark.parametrize("listing", ["sign-in", "203"])
def test_a_listing_that_turns_into_a_sign_in_page_is_not_confirmed_not_unpublished(
    tmp_path, library, feed, listing
):
    version = next(versions)
    files = built(tmp_path, version)
    feed.listing = listing

    result = publish(library, feed, files, timeout=3)

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"Uploaded {version} to {feed.upload_url}, but not confirmed: reading the"
        " feed back, the feed refused"
    ), result.sentence
    assert "nox -s publish again confirms it" in result.sentence
    assert {f.name for f in files} <= set(feed.files())


def test_hashes_are_compared_as_the_simple_api_allows_them(tmp_path, library, feed):
    """PEP 503 lets an index name any hashlib algorithm, in any case."""
    version = next(versions)
    files = built(tmp_path, version)
    feed.listing = "upper md5"

    first = publish(library, feed, files)
    again = publish(library, feed, files)

    assert first.sentence == f"Published {version} to {feed.upload_url}"
    assert again.sentence.endswith("already, whole: nothing to upload")


def test_metadata_newer_than_azure_accepts_is_refused_with_the_setting_to_keep(
    tmp_path, library, feed
):
    sdist = make_sdist(tmp_path, NAME, next(versions), metadata_version="2.2")

    result = publish(library, feed, [sdist])

    assert result.returncode == 1
    assert result.sentence == (
        f"{feed.upload_url} refuses Metadata-Version 2.2: keep core-metadata-version"
        ' = "2.1" in pyproject.toml (wheel, sdist)'
    )


# --- refusals and hostile answers ---------------------------------------------


@pytest.mark.parametrize("signin", ["redirect", "203", None])
def test_a_token_the_feed_does_not_take_is_refused_before_any_upload(
    tmp_path, library, feed, signin
):
    feed.signin = signin
    posts = len(feed.posts)
    try:
        result = publish(
            library, feed, built(tmp_path, next(versions)),
            TWINE_PASSWORD="expired-Pq7rS9tU", secrets=["expired-Pq7rS9tU"],
        )  # fmt: skip
    finally:
        feed.signin = "redirect"

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"Not published to {feed.upload_url}: the feed refused the token in"
        " TWINE_PASSWORD"
    ), result.sentence
    assert len(feed.posts) == posts


def test_a_session_token_that_only_reads_is_refused_the_upload_and_told_why(
    tmp_path, library, feed
):
    """artifacts-keyring-nofuss trades an Entra token for a session token of
    scope vso.packaging (its _session_token.exchange), which reads but may not
    upload: the feed refuses the upload with 401 TF400813."""
    session = "session-reads-Zx8cV6bN"
    feed.tokens[session] = frozenset({"vso.packaging"})
    stored = set(feed.files())

    result = publish(
        library, feed, built(tmp_path, next(versions)),
        TWINE_USERNAME="VssSessionToken", TWINE_PASSWORD=session, secrets=[session],
    )  # fmt: skip

    assert result.returncode == 1
    assert re.match(
        rf"{re.escape(feed.upload_url)} refused the upload \(HTTP 401 [^)]*\) with a"
        " credential that reads the feed: it may not write",
        result.sentence,
    ), result.sentence
    assert "artifacts-keyring-nofuss" in result.sentence
    assert set(feed.files()) == stored


def test_the_azure_cli_token_goes_to_azure_devops_only(tmp_path, library, feed):
    token = entra_token("alice@contoso.com")
    elsewhere = "https://upload.example.org/legacy/"

    result = publish(
        library, feed, built(tmp_path, next(versions)), TWINE_USERNAME="azure-cli",
        TWINE_PASSWORD=token, TWINE_REPOSITORY_URL=elsewhere, secrets=[token],
    )  # fmt: skip

    assert result.returncode == 1
    assert result.sentence == (
        f"The Azure CLI's token goes to Azure DevOps only, not to {elsewhere}: give"
        " that index its own credential in TWINE_PASSWORD"
    )
    assert "upload.example.org" not in feed.network.connects


def test_a_redirect_loop_is_named_as_a_redirect_not_as_refused_credentials(
    tmp_path, library, feed
):
    def loop(request: Request) -> Answer:
        if request.method == "GET":
            return Answer(404)
        return Answer(307, headers=[("Location", request.path)])

    with routed(feed, loop):
        result = publish(library, feed, built(tmp_path, "1.0.0"))

    assert result.returncode == 1
    assert result.sentence.startswith(f"{feed.upload_url} redirects uploads (to ")
    assert "refused the credentials" not in result.sentence


def test_an_untrusted_certificate_is_one_sentence_with_the_fix(tmp_path, library, feed):
    system_only = tmp_path / "system.pem"
    system_only.write_text("")  # trusts nothing: not the test's authority
    bundles = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")

    result = publish(
        library, feed, built(tmp_path, "1.0.0"),
        **dict.fromkeys(bundles, str(system_only)), SSL_CERT_DIR=str(tmp_path),
    )  # fmt: skip

    assert result.returncode == 1
    assert "its certificate is not trusted" in result.sentence, result.sentence
    assert "REQUESTS_CA_BUNDLE" in result.sentence


@pytest.mark.parametrize("status", [400, 503])
def test_a_huge_error_body_ends_in_a_short_sentence_read_to_a_bound(
    tmp_path, library, feed, status
):
    huge = answering(status, b"<html>" + b"x" * 40_000_000)
    with routed(feed, huge):
        result = publish(library, feed, built(tmp_path, "1.0.0"), timeout=8)

    assert result.returncode == 1
    assert len(result.stdout) < 1000 and len(result.stderr) < 1000
    assert result.took < 8 + 20
    assert result.peak_memory < 80_000_000, "the body is never read whole"


@pytest.mark.slow
@pytest.mark.parametrize("server", [trickle, hold])
def test_a_feed_that_does_not_answer_in_time_is_named_within_the_deadline(
    tmp_path, library, feed, server
):
    with routed(feed, server):
        result = publish(library, feed, built(tmp_path, "1.0.0"), timeout=6)

    assert result.returncode == 1
    assert result.sentence == (
        f"Not published to {feed.upload_url}: {HOST} gave no whole answer within 6 s"
    )
    assert result.took < 6 + 10


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    password=st.text(
        st.characters(min_codepoint=0x100, max_codepoint=0x2FFF), min_size=1
    ).map(lambda extra: "pat" + extra)
)
def test_a_password_http_cannot_carry_is_one_sentence_before_any_request(
    tmp_path, library, feed, password
):
    posts = len(feed.posts)

    result = publish(
        library, feed, built(tmp_path, "1.0.0"), TWINE_PASSWORD=password,
        secrets=[password],
    )  # fmt: skip

    assert result.returncode == 1
    assert result.sentence == (
        "The password from TWINE_PASSWORD has a character HTTP cannot carry (a line"
        " break, or one outside Latin-1): an Azure DevOps PAT is letters and digits;"
        " copy it again"
    )
    assert len(feed.posts) == posts


def test_a_token_copied_with_its_line_break_is_used_without_it(tmp_path, library, feed):
    version = next(versions)

    result = publish(
        library, feed, built(tmp_path, version), TWINE_PASSWORD=feed.token + "\r\n"
    )

    assert result.sentence == f"Published {version} to {feed.upload_url}"


# Characters a URL's user info may hold raw ("#" and "?" end it), and "/".
SECRETS = st.text(
    st.sampled_from("abcXYZ0123456789/@:%+-_.~!$&'()*,;="), min_size=3, max_size=16
).map(lambda text: "s3" + text + "Q")
USER_NAMES = st.text(
    st.sampled_from("abcXYZ0123456789%+-_.~!$&'()*,;="), min_size=3, max_size=12
).map(lambda text: "u5" + text + "R")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(user=USER_NAMES, password=SECRETS, token=SECRETS, pat=SECRETS)
def test_no_form_of_a_credential_is_ever_shown_whatever_the_feed_answers(
    tmp_path, library, feed, user, password, token, pat
):
    """In the URL (raw and quoted), in TWINE_USERNAME (a PAT put there), in
    TWINE_PASSWORD; the feed echoes what it got, in every form."""

    def echo(request: Request) -> Answer:
        said = request.headers.get("Authorization", "") + " " + request.target
        return Answer(400, f"bad request from {said}".encode(), reason=said[:200])

    url = f"https://{user}:{password}@{HOST}/myorg/myproject/_packaging/f/pypi/upload/"
    with routed(feed, echo):
        result = publish(
            library, feed, built(tmp_path, "1.0.0"), TWINE_REPOSITORY_URL=url,
            TWINE_USERNAME=token, TWINE_PASSWORD=pat, secrets=[password, token, pat],
        )  # fmt: skip

    assert result.returncode == 1
    assert HOST in result.sentence


KEYRING_BACKEND = """\
import os

from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential


class Keyring(KeyringBackend):
    \"\"\"Answers for one URL, as artifacts-keyring does for an Azure feed.\"\"\"

    priority = 1

    def get_credential(self, service, username):
        if os.environ.get("STAND_IN_KEYRING_FAILS"):
            raise RuntimeError("The .NET credential provider exited with code 1")
        if service == os.environ["STAND_IN_KEYRING_URL"]:
            return SimpleCredential("VssSessionToken", os.environ["STAND_IN_TOKEN"])
        return None

    def get_password(self, service, username):
        credential = self.get_credential(service, username)
        return credential.password if credential else None

    def set_password(self, service, username, password):
        raise NotImplementedError

    def delete_password(self, service, username):
        raise NotImplementedError
"""


def test_the_keyring_route_signs_in_and_its_failures_are_one_sentence(
    tmp_path, library, feed
):
    (tmp_path / "stand_in_keyring.py").write_text(KEYRING_BACKEND)
    keyring = {
        "PYTHONPATH": f"{TEMPLATE}:{tmp_path}",
        "PYTHON_KEYRING_BACKEND": "stand_in_keyring.Keyring",
        "STAND_IN_TOKEN": feed.token,
        "STAND_IN_KEYRING_URL": feed.upload_url,
        "TWINE_PASSWORD": None,
    }
    version = next(versions)

    signed_in = publish(library, feed, built(tmp_path / "a", version), **keyring)
    failing = publish(
        library, feed, built(tmp_path / "b", next(versions)), **keyring,
        STAND_IN_KEYRING_FAILS="1",
    )  # fmt: skip
    with routed(feed, answering(502)):
        unreachable = publish(
            library, feed, built(tmp_path / "c", next(versions)), **keyring,
            STAND_IN_KEYRING_FAILS="1",
        )  # fmt: skip

    assert signed_in.sentence == f"Published {version} to {feed.upload_url}"
    assert failing.returncode == 1
    assert failing.sentence == (
        f"No credential for {feed.upload_url}: the keyring has no token for the feed:"
        " sign in once (docs/setup.md); or set TWINE_PASSWORD"
    )
    assert ".NET" not in failing.stdout + failing.stderr
    assert unreachable.sentence.startswith(f"Cannot reach {feed.upload_url}")


# --- nox -s publish of a baked library, end to end ----------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    """One project for the module: each test releases its own commit."""
    return bake(tmp_path_factory.mktemp("e2e"), extras="redis")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def release(project: BakedProject, version: str) -> None:
    project.commit(f"Release {version}")
    project.git("tag", f"v{version}")


def nox_publish(project, feed, home, *arguments, secrets=(), **env):
    """`nox -v -s publish -- arguments` with nothing configured but `env`;
    no secret may show in its output."""
    environment = isolated_environment(HOME=str(home), **feed.env(), **env)
    result = project.nox(
        "-v", "-s", "publish", "--", *arguments, env=environment, check=False
    )
    output = result.stdout + result.stderr
    for secret in (feed.token, *secrets):
        for form in forms_of(secret):
            assert form not in output, (form, output)
    assert "Traceback" not in output, output
    result.output = output
    return result


def wheel_and_sdist(version: str) -> list[str]:
    return [
        f"my_shared_utils-{version}-py3-none-any.whl",
        f"my_shared_utils-{version}.tar.gz",
    ]


@pytest.mark.slow
def test_a_pat_in_twine_password_alone_publishes_and_a_second_run_finds_it_whole(
    project, feed, home
):
    release(project, "1.0.0")

    first = nox_publish(project, feed, home, TWINE_PASSWORD=feed.token)
    again = nox_publish(project, feed, home, TWINE_PASSWORD=feed.token)

    assert first.returncode == 0, first.output
    assert f"Published 1.0.0 to {feed.upload_url}" in first.output
    assert set(wheel_and_sdist("1.0.0")) <= set(feed.files())
    assert again.returncode == 0, again.output
    assert "1.0.0 is on" in again.output and "already, whole" in again.output
    assert feed.index.files_holding_the_password(project.path, home) == []


@pytest.mark.slow
def test_publish_stops_before_uploading_dirty_trees_and_unasked_dev_versions(
    project, feed, home
):
    release(project, "1.1.0")
    (project.path / "src" / "my_shared_utils" / "__init__.py").write_text("# edit\n")
    dirty = nox_publish(project, feed, home, TWINE_PASSWORD=feed.token)
    project.run("git", "checkout", "--", ".")
    project.commit("After the release")
    dev = nox_publish(project, feed, home, TWINE_PASSWORD=feed.token)

    assert "Uncommitted changes: commit or stash them first" in dirty.output
    assert "is a development version: release from a tag (git tag v1.1.1)" in dev.output
    assert not any("1.1." in name for name in feed.files())


@pytest.mark.slow
def test_nothing_configured_and_no_sign_in_says_which_index_uv_asked_as_whom(
    feed, home, tmp_path
):
    project = bake(tmp_path / "bake")  # no environment of nox's yet
    release(project, "1.0.0")
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"  # no Azure CLI

    result = nox_publish(project, feed, home, PATH=path)

    assert result.returncode != 0
    assert (
        f"uv could not install the template's tools from {feed.simple_url}, asking"
        " as nobody" in result.output
    ), result.output


@pytest.mark.slow
def test_signed_in_with_the_azure_cli_alone_publish_and_doctor_go_through(
    project, feed, home, tmp_path
):
    """No PAT, keyring or index set: nox passes the Azure CLI's token for Azure
    DevOps to uv and twine as a Basic password, as Microsoft's credential
    provider does (microsoft/artifacts-credprovider#596)."""
    token = entra_token("alice@contoso.com")
    feed.tokens[token] = None  # the account's own roles on the feed
    az = azure_cli(tmp_path / "az", token)
    path = f"{az}:{Path(sys.executable).parent}:/usr/bin:/bin"
    release(project, "1.5.0")

    published = nox_publish(project, feed, home, secrets=[token], PATH=path)
    environment = isolated_environment(HOME=str(home), **feed.env(), PATH=path)
    diagnosed = project.nox("-s", "doctor", env=environment, check=False)

    assert published.returncode == 0, published.output
    assert f"Published 1.5.0 to {feed.upload_url}" in published.output
    assert set(wheel_and_sdist("1.5.0")) <= set(feed.files())
    shown = diagnosed.stdout + diagnosed.stderr
    assert diagnosed.returncode == 0, shown
    assert "the Azure CLI's account alice@contoso.com" in shown
    for form in forms_of(token):
        assert form not in shown
    on_disk = [
        path
        for folder in (project.path, home)
        for path in folder.rglob("*")
        if path.is_file() and token.encode() in path.read_bytes()
    ]
    assert on_disk == []


@pytest.mark.slow
def test_a_dist_folder_that_is_a_link_uploads_only_the_files_just_built(
    tmp_path, project, feed, home
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "unrelated-9.9.9.tar.gz").write_text("not ours")
    dist = project.path / "dist"
    if dist.exists():
        subprocess.run(["rm", "-rf", str(dist)], check=True)
    dist.symlink_to(elsewhere)
    release(project, "1.3.0")

    result = nox_publish(project, feed, home, TWINE_PASSWORD=feed.token)

    assert result.returncode == 0, result.output
    assert (elsewhere / "unrelated-9.9.9.tar.gz").exists()
    assert not dist.is_symlink()
    assert not any("unrelated" in name for name in feed.files())


@pytest.mark.slow
def test_uploads_carry_the_metadata_version_azure_accepts(project, feed, home):
    """The pinned hatchling writes 2.1 because pyproject.toml says so: the
    feed's stand-in refuses anything newer, as Azure does."""
    release(project, "1.4.0")

    result = nox_publish(project, feed, home, TWINE_PASSWORD=feed.token)

    assert result.returncode == 0, result.output
    assert set(wheel_and_sdist("1.4.0")) <= set(feed.files())
    assert re.search(r"Published 1\.4\.0", result.output)
