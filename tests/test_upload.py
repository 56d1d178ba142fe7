"""tools/upload.py of a baked project: what `nox -s publish` says after twine.

Each test uploads a wheel and an sdist of its own version through the feed
stand-in (tests/feed_stand_in.py), which can fail chosen uploads the ways an
index does: throttling, 5xx, a file stored and then a 502, a reset, a 200
page that stored nothing. The uploads are made by twine's own code.
"""

from __future__ import annotations

import base64
import http.server
import itertools
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.baking import BakedProject, bake, load_module, make_sdist, make_wheel
from tests.feed_stand_in import answering_uploads, failing_server, serving
from tests.index_server import isolated_environment

NAME = "my-shared-utils"
versions = (f"9.{n}.0" for n in itertools.count())  # one per upload, module-wide


@pytest.fixture(autouse=True)
def calm_feed(request) -> Iterator[None]:
    yield
    if "feed" in request.fixturenames:
        feed = request.getfixturevalue("feed")
        feed.upsets.clear()
        feed.retry_after = "1"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    return bake(tmp_path_factory.mktemp("bake"))


def built(folder: Path, version: str) -> list[Path]:
    """A wheel and an sdist of `version`, as `nox -s build` leaves them."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_wheel(folder, NAME, version), make_sdist(folder, NAME, version)]


# Runs a command; its last line on stderr is the peak memory, in bytes, of the
# command and every process it waited for.
PEAK_MEMORY = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(f"peak memory: {peak}", file=sys.stderr)
sys.exit(code)
"""


def upload(project, url, files, *, timeout=20, **variables):
    """`python tools/upload.py --timeout T FILES` as nox -s publish runs it."""
    variables = {"TWINE_USERNAME": "build", **variables}  # as nox -s publish sets it
    env = isolated_environment(TWINE_REPOSITORY_URL=url, **variables)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, sys.executable, "tools/upload.py"]
        + [f"--timeout={timeout}", *map(str, files)],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    result.took = time.monotonic() - started
    result.stderr, _, peak = result.stderr.rpartition("peak memory: ")
    result.peak_memory = int(peak)
    result.sentence = result.stdout.strip()
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def to_feed(project, feed, index, files, **options):
    return upload(
        project, feed.server.upload_url, files, TWINE_PASSWORD=index.password, **options
    )


@pytest.mark.slow
@pytest.mark.parametrize("failure", [500, 503, "reset", "sign-in"])
def test_a_release_the_feed_stored_only_part_of_names_what_is_missing_and_completes(
    tmp_path, project, feed, index, failure
):
    version = next(versions)
    wheel, sdist = built(tmp_path, version)
    feed.upsets[".tar.gz"] = [failure] * 50

    partial = to_feed(project, feed, index, [wheel, sdist], timeout=5)
    feed.upsets.clear()
    completed = to_feed(project, feed, index, [wheel, sdist])

    assert partial.returncode == 1
    assert (
        f"Only part of {version} is on the feed: {wheel.name}; not {sdist.name}."
        " nox -s publish again, on this commit, uploads the rest" in partial.sentence
    ), partial.sentence
    assert "already on" not in partial.sentence
    assert partial.took < 5 + 12  # the deadline, then one read of the feed
    assert completed.returncode == 0, completed.sentence
    assert completed.sentence == f"Published {version} to {feed.server.upload_url}"
    assert {wheel.name, sdist.name} <= set(index.files())


@pytest.mark.slow
def test_a_file_stored_before_a_502_counts_as_uploaded_not_as_already_there(
    tmp_path, project, feed, index
):
    """The next try meets a 409 for the file the first one stored: for the
    wheel and for the sdist, which would read as "already on" if it counted."""
    version = next(versions)
    files = built(tmp_path, version)
    feed.upsets = {".tar.gz": ["stored, then 502"], ".whl": ["stored, then 502"]}

    result = to_feed(project, feed, index, files)

    assert result.returncode == 0, result.sentence
    assert result.sentence == f"Published {version} to {feed.server.upload_url}"


@pytest.mark.slow
def test_throttled_uploads_wait_longer_each_time_and_then_go_through(
    tmp_path, project, feed, index
):
    version = next(versions)
    files = built(tmp_path, version)
    feed.upsets[".whl"] = [429, 429, 503]  # one request per try

    result = to_feed(project, feed, index, files)

    assert result.returncode == 0, result.sentence
    assert "429, again in 1 s" in result.stderr
    assert "429, again in 2 s" in result.stderr
    assert "503, again in 4 s" in result.stderr
    assert result.took >= 1 + 2 + 4
    assert feed.posts.count(files[0].name) == 4  # a 5xx is not repeated at once


@pytest.mark.slow
def test_the_feeds_retry_after_is_waited_out_before_the_next_try(
    tmp_path, project, feed, index
):
    files = built(tmp_path, next(versions))
    feed.upsets[".whl"], feed.retry_after = [429], "3"

    result = to_feed(project, feed, index, files)

    assert result.returncode == 0, result.sentence
    assert "429, again in 3 s" in result.stderr
    assert result.took >= 3


@pytest.mark.slow
def test_a_feed_that_keeps_throttling_gets_one_sentence_within_the_deadline(
    tmp_path, project, feed, index
):
    files = built(tmp_path, next(versions))
    feed.upsets[".whl"] = [429] * 50

    result = to_feed(project, feed, index, files, timeout=6)

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"{feed.server.upload_url} throttles uploads (HTTP 429, 3 tries within 6 s;"
        " it asks to wait 1 s)"
    ), result.sentence
    assert result.took < 6 + 12
    assert len(result.sentence.splitlines()) == 1


@pytest.mark.slow
def test_an_answer_of_200_that_stored_nothing_is_not_published(
    tmp_path, project, feed, index
):
    files = built(tmp_path, next(versions))
    feed.upsets[".whl"] = ["200 page"]

    result = to_feed(project, feed, index, files)

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"{feed.server.upload_url} answered the upload of {files[0].name} but does"
        " not list it"
    ), result.sentence
    assert "Published" not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_redirect_loop_is_named_as_a_redirect_not_as_refused_credentials(
    tmp_path, project
):
    loop = answering_uploads(lambda request: (307, [("Location", request.path)], b""))
    with serving(loop) as root:
        result = upload(
            project, f"{root}/upload/", built(tmp_path, "1.0.0"), TWINE_PASSWORD="x"
        )

    assert result.returncode == 1
    assert result.sentence.startswith(f"{root}/upload/ redirects uploads (to ")
    assert "refused the credentials" not in result.sentence


@pytest.mark.slow
def test_an_untrusted_certificate_is_one_sentence_with_the_fix(tmp_path, project):
    key, certificate = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", key, "-out", certificate],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    with serving(http.server.BaseHTTPRequestHandler, context) as root:
        url = root.replace("http://", "https://") + "/upload/"
        result = upload(project, url, built(tmp_path, "1.0.0"), TWINE_PASSWORD="x")

    assert result.returncode == 1
    assert result.sentence.startswith(
        f"Cannot reach {url}: its certificate is not trusted (certificate verify"
        " failed"
    ), result.sentence
    assert "set REQUESTS_CA_BUNDLE" in result.sentence


@pytest.mark.slow
@pytest.mark.parametrize("status", [400, 503])
def test_a_huge_error_body_ends_in_a_short_sentence_within_the_deadline(
    tmp_path, project, status
):
    with failing_server(status, b"<html>" + b"x" * 40_000_000) as url:
        result = upload(
            project, url, built(tmp_path, "1.0.0"), TWINE_PASSWORD="x", timeout=8
        )

    assert result.returncode == 1
    assert len(result.stdout) < 4200 and len(result.stderr) < 4200
    assert result.took < 8 + 12
    # Python with twine takes about 50 MB; reading the body whole took 160.
    assert result.peak_memory < 80_000_000, "the body is never read whole"


@pytest.mark.slow
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
    tmp_path, project, password
):
    asked = []

    class Counting(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked.append(self.path)

    with serving(Counting) as root:
        result = upload(
            project,
            f"{root}/upload/",
            built(tmp_path, "1.0.0"),
            TWINE_PASSWORD=password,
        )

    assert result.returncode == 1
    assert result.sentence == (
        "The password from TWINE_PASSWORD has a character HTTP cannot carry (outside"
        " Latin-1): an Azure DevOps PAT is letters and digits; copy it again"
    )
    assert password not in result.stdout + result.stderr
    assert asked == []


# Characters a URL's user info may hold raw ("#" and "?" end it), and "/".
SECRETS = st.text(
    st.sampled_from("abcXYZ0123456789/@:%+-_.~!$&'()*,;="), min_size=3, max_size=16
).map(lambda text: "s3" + text + "Q")
USERS = st.text(
    st.sampled_from("abcXYZ0123456789%+-_.~!$&'()*,;="), min_size=3, max_size=12
).map(lambda text: "u5" + text + "R")


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(user=USERS, password=SECRETS, token=SECRETS, pat=SECRETS)
def test_no_form_of_a_credential_is_ever_shown_whatever_the_index_answers(
    tmp_path, project, user, password, token, pat
):
    """In the URL (raw and quoted), in TWINE_USERNAME (a PAT put there),
    in TWINE_PASSWORD; twine prints the URL it was given when uploads fail."""
    with failing_server(400, b"no") as url:
        host = url.removeprefix("http://")
        result = upload(
            project,
            f"http://{user}:{password}@{host}",
            built(tmp_path, "1.0.0"),
            TWINE_USERNAME=token,
            TWINE_PASSWORD=pat,
        )

    shown = result.stdout + result.stderr
    for secret in (user, password, token, pat):
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            assert form not in shown
    assert result.returncode == 1
    assert f"The upload to {url} failed" in result.sentence


@pytest.mark.slow
def test_an_index_that_echoes_the_authorization_header_does_not_show_it(
    tmp_path, project
):
    echo = answering_uploads(
        lambda request: (
            400,
            [],
            f"Bad request from {request.headers['Authorization']}".encode(),
        )
    )
    password = "pat-é-0123"  # Latin-1: requests encodes the header so
    header = base64.b64encode(f"build:{password}".encode("latin-1")).decode()
    files = built(tmp_path, "1.0.0")
    with serving(echo) as root:
        result = upload(project, f"{root}/upload/", files, TWINE_PASSWORD=password)

    assert result.returncode == 1
    assert "Bad request from Basic ***" in result.sentence
    assert header not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def upload_module(project):
    """tools/upload.py imported as its script runs: beside tools/feed_doctor.py."""
    sys.path.insert(0, str(project.path / "tools"))
    try:
        yield load_module(project.path / "tools" / "upload.py", "baked_upload")
    finally:
        sys.path.remove(str(project.path / "tools"))
        sys.modules.pop("feed_doctor", None)


HOSTS = st.sampled_from(
    ["pkgs.dev.azure.com", "127.0.0.1:8080", "localhost", "[::1]:9000"]
)
PATHS = st.sampled_from(
    ["/", "/upload/", "/myorg/_packaging/libs@Release/pypi/upload/"]
)


@settings(max_examples=300)
@given(user=USERS, password=SECRETS, host=HOSTS, path=PATHS)
def test_the_user_info_of_an_upload_url_is_split_off_whatever_it_holds(
    upload_module, user, password, host, path
):
    for written_user, written_password in [
        (user, password),
        (quote(user, safe=""), quote(password, safe="")),
    ]:
        url = f"https://{written_user}:{written_password}@{host}{path}"

        assert upload_module.split_url(url) == (
            unquote(written_user),
            unquote(written_password),
            f"https://{host}{path}",
        )
    assert upload_module.split_url(f"https://{host}{path}") == (
        "",
        "",
        f"https://{host}{path}",
    )


@pytest.mark.parametrize(
    ("upload_url", "page"),
    [
        (
            "https://pkgs.dev.azure.com/o/p/_packaging/f/pypi/upload/",
            "https://pkgs.dev.azure.com/o/p/_packaging/f/pypi/simple/my-lib/",
        ),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/simple/my-lib/"),
        ("http://127.0.0.1:8080/simple", "http://127.0.0.1:8080/simple/my-lib/"),
    ],
)
def test_the_files_are_read_back_from_the_index_that_took_them(
    upload_module, upload_url, page
):
    assert upload_module.index_page(upload_url, "My_Lib") == page
