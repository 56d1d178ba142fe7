"""Why pip, uv or twine cannot use the feed: one line per check, with the fix.

    nox -s doctor                              # on your machine
    python tools/feed_doctor.py --pipeline     # in CI, after PipAuthenticate

Exit status 0 only when everything a developer (or the pipeline) needs works.
Standard library only: it must run when the feed does not. It prints no token,
and every request has a deadline. `--feed-url` names the feed's simple index
when it is not the one that [tool.azure-artifacts] in pyproject.toml derives.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import html
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, unquote, urlsplit

DEADLINE = 10  # seconds, for each request
PUBLIC_PACKAGE = "pip"  # on PyPI for good: whether the upstream answers
PYPI = "https://pypi.org/simple/"
LINK = re.compile(r'href="([^"]+)"')
AS_SETUP_SHOWS = "as docs/setup.md shows"
NO_SECOND_INDEX = "unset it: PyPI is the feed's upstream"
HOST = re.compile(r"(\[[\da-fA-F:]+\]|localhost|[\w-]+(\.[\w-]+)+)(:\d+)?(/|$)")


@dataclass
class Check:
    ok: bool
    line: str


def ok(line: str) -> Check:
    return Check(True, line)


def fix(line: str) -> Check:
    return Check(False, line)


def feed_url() -> str:
    """The feed's simple index, from [tool.azure-artifacts] (as the noxfile does)."""
    feed = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["azure-artifacts"]
    scope = [feed["organization"], feed.get("project"), "_packaging", feed["feed"]]
    path = "/".join(quote(part, safe="") for part in scope if part)
    return f"https://pkgs.dev.azure.com/{path}/pypi/simple/"


def user_info(url: str) -> tuple[str, str]:
    """(the user info as written, the URL without it): a password may hold a
    raw "/" and a path an "@" (FEED@VIEW), so it ends before a host name."""
    scheme, _, rest = url.partition("://")
    for at in reversed([i for i, c in enumerate(rest) if c == "@"]):
        if HOST.match(rest, at + 1):
            return rest[:at], f"{scheme}://{rest[at + 1 :]}"
    return "", url


def split_url(url: str) -> tuple[str, str, str]:
    """(user, password, URL without them)."""
    written, bare = user_info(url)
    user, _, password = written.partition(":")
    return unquote(user), unquote(password), bare


def public(url: str) -> str:
    """The URL without its user name and token, as it may be shown."""
    return split_url(url)[2].rstrip("/") + "/"


def pip_config_files(env: dict[str, str]) -> list[Path]:
    """pip's configuration files, lowest priority first (pip's documented order)."""
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        return []
    home = Path(env.get("HOME", "~")).expanduser()
    xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    files = [Path("/etc/xdg/pip/pip.conf"), Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf", xdg / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return [file for file in files if file.is_file()]


def pip_setting(env: dict[str, str], name: str) -> tuple[str, str] | None:
    """(value, where it comes from) of a pip setting, as pip resolves it."""
    variable = "PIP_" + name.upper().replace("-", "_")
    if env.get(variable):
        return env[variable], f"the environment variable {variable}"
    found = None
    for file in pip_config_files(env):
        config = configparser.RawConfigParser()
        config.read(file)
        for section in ("global", "install"):
            if config.has_option(section, name):
                found = config.get(section, name).strip(), str(file)
    return found


def index_url(env: dict[str, str]) -> str:
    found = pip_setting(env, "index-url")
    return found[0] if found else ""


def index_checks(env: dict[str, str], feed: str) -> Iterator[Check]:
    """Which index pip and uv use, and where that comes from."""
    index = pip_setting(env, "index-url")
    if index is None:
        yield fix(f"pip: uses PyPI: set the feed {AS_SETUP_SHOWS}")
    elif public(index[0]) != feed:
        yield fix(
            f"pip: uses {public(index[0])} (from {index[1]}),"
            f" not the feed: set the feed {AS_SETUP_SHOWS}"
        )
    else:
        yield ok(f"pip: uses the feed (from {index[1]})")
    if index and set(user_info(index[0])[0]) & set("/?#"):
        yield fix(
            f"pip: the token in its index URL (from {index[1]}) holds a raw"
            " '/', '?' or '#', where pip's URL parsing ends the host: write"
            " them as %2F, %3F and %23"
        )
    if extra := pip_setting(env, "extra-index-url"):
        yield fix(
            f"pip: a second index, {public(extra[0])} (from"
            f" {extra[1]}): pip takes the highest version from"
            " either, so a public package can shadow an"
            f" internal one; {NO_SECOND_INDEX}"
        )
    # nox passes pip's index on to uv when uv has none of its own.
    names = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")
    setting = next((name for name in names if env.get(name)), None)
    uv = env[setting] if setting else None
    if uv is None:
        yield fix(
            "uv: no index, so nox's environments use PyPI:"
            f" set UV_DEFAULT_INDEX {AS_SETUP_SHOWS}"
        )
    elif public(uv) != feed:
        yield fix(
            f"uv: uses {public(uv)}, not the feed: set"
            f" UV_DEFAULT_INDEX {AS_SETUP_SHOWS}"
        )
    else:
        yield ok(f"uv: uses the feed (from the environment variable {setting})")
    for variable in ("UV_EXTRA_INDEX_URL", "UV_INDEX"):
        if env.get(variable):
            yield fix(f"uv: {variable} adds an index; {NO_SECOND_INDEX}")


def keyring_problem() -> str | None:
    """Why the artifacts-keyring route cannot work here, if it cannot."""
    major, minor = map(int, platform.python_version_tuple()[:2])
    if sys.platform == "linux" and (major, minor) >= (3, 14):
        return f"artifacts-keyring 1.0 has no Linux release for Python {major}.{minor}"
    if not shutil.which("keyring"):
        return "the keyring command is missing: pipx install keyring (docs/setup.md)"
    return None


def keyring_check(env: dict[str, str]) -> Check:
    if (problem := keyring_problem()) is None:
        return ok("keyring: artifacts-keyring can sign you in")
    if split_url(index_url(env))[1]:
        return ok("keyring: not needed, pip's index URL holds a PAT")
    return fix(f"keyring: {problem}; or use a PAT {AS_SETUP_SHOWS}")


def basic(user: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def credential(env: dict[str, str], feed: str) -> tuple[str | None, str]:
    """(the Authorization header pip would send, where its token comes from)."""
    user, password, _ = split_url(index_url(env))
    if password:
        return basic(user, password), "the PAT in pip's index URL"
    if keyring_problem():
        return None, "no PAT in pip's index URL and no keyring"
    asked = subprocess.run(
        ["keyring", "get", feed, "VssSessionToken"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE": "true"},
    )
    if asked.returncode or not asked.stdout.strip():
        return None, "artifacts-keyring has no token yet (one pip install signs in)"
    return basic("VssSessionToken", asked.stdout.strip()), "artifacts-keyring"


@dataclass
class Answer:
    status: int
    body: str
    location: str = ""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer to report: often the sign-in page


def ask(url: str, authorization: str | None) -> Answer | str:
    """The index's answer, or why there is none."""
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=DEADLINE) as got:
            return Answer(got.status, got.read(5_000_000).decode(errors="replace"))
    except urllib.error.HTTPError as error:
        body = error.read(20_000).decode(errors="replace")
        return Answer(error.code, body, error.headers.get("Location", ""))
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        host = urlsplit(url).netloc
        return (
            f"no answer from {host} within {DEADLINE} s ({reason}): check the network"
        )


def refusal(answer: Answer | str, source: str) -> str | None:
    """What an answer without links means, with the fix; None if it has links."""
    if isinstance(answer, str):
        return answer
    if answer.status == 200 and "<a " in answer.body:
        return None
    if 300 <= answer.status < 400 and "_signin" not in answer.location:
        return None  # another index's answer, which pip follows
    if "_signin" in answer.location or "Sign In" in answer.body:
        seen = f"HTTP {answer.status}, the sign-in page"
    elif answer.status == 401:
        seen = "HTTP 401"
    elif answer.status == 403:
        return (
            "the credential's user has no role on the feed (HTTP 403): ask its owner"
            " for Feed Reader, or Collaborator to save packages from PyPI"
        )
    else:
        return f"HTTP {answer.status} from the feed"
    return (
        f"the feed refused {source} ({seen}): the PAT is expired, revoked, made for"
        " another organization or lacks Packaging (Read); make a new one"
    )


def feed_checks(
    env: dict[str, str], feed: str, name: str, own: bool, pypi: str = PYPI
) -> Iterator[Check]:
    """Whether the feed answers, serves PyPI's packages and, if `own`, the library."""
    authorization, source = credential(env, feed)
    if authorization is None:
        yield fix(f"feed: not asked, {source}: set one {AS_SETUP_SHOWS}")
        return
    answer = ask(f"{feed}{PUBLIC_PACKAGE}/", authorization)
    # Azure's 404 for a feed that is not there: "The feed with ID '...' doesn't exist."
    if (
        isinstance(answer, Answer)
        and answer.status == 404
        and "The feed with" in answer.body
    ):
        yield fix(
            f"feed: {feed} does not exist (HTTP 404): check [tool.azure-artifacts]"
        )
        return
    if isinstance(answer, Answer) and answer.status == 404:
        upstream = fix(
            f"upstream: {PUBLIC_PACKAGE} is not on the feed, so PyPI is not its"
            " upstream source: add it (python3 -m azure_pylib setup, in a clone"
            " of the template)"
        )
    elif problem := refusal(answer, source):
        yield fix(f"feed: {problem}")
        return
    else:
        upstream = ok("upstream: public packages come through the feed")
    yield ok(f"feed: answers, with {source}")
    yield upstream
    if not own:
        return
    answer = ask(f"{feed}{name}/", authorization)
    if isinstance(answer, Answer) and (
        answer.status == 404 or 300 <= answer.status < 400
    ):
        yield fix(
            f"name: {name} is not on the feed yet, so a public package of that name"
            " would come through the upstream: publish a first version to claim it"
        )
    elif problem := refusal(answer, source):
        yield fix(f"name: {problem}")
    elif isinstance(answer, Answer) and only_public(answer.body, pypi, name):
        yield fix(
            f"name: the feed serves only PyPI's {name}, someone else's package: publish"
            " a first version of yours to claim the name (Azure then blocks theirs)"
        )
    else:
        yield ok(f"name: {name} is the feed's own")


def only_public(feed_page: str, pypi: str, name: str) -> bool:
    """Whether every file the feed lists for `name` is one of PyPI's."""
    answer = ask(f"{pypi}{name}/", None)
    if not isinstance(answer, Answer) or answer.status != 200:
        return False  # no public package of that name (or PyPI out of reach)
    return files(feed_page) <= files(answer.body)


def links(page: str) -> dict[str, str]:
    """{file name: its hash fragment or ""} for each link of a simple index page."""
    found = {}
    for link in LINK.findall(page):
        address, _, fragment = html.unescape(link).partition("#")
        found[address.rsplit("/", 1)[-1]] = fragment
    return found


def files(page: str) -> set[str]:
    """The file names a simple index page links to."""
    return set(links(page))


def publish_check(env: dict[str, str]) -> Check:
    if env.get("TWINE_PASSWORD"):
        return ok("publish: twine gets the token in TWINE_PASSWORD")
    if problem := keyring_problem():
        return fix(
            f"publish: {problem}; set TWINE_PASSWORD to a PAT with"
            " Packaging (Read & write)"
        )
    return ok("publish: twine asks artifacts-keyring")


def renovate_check() -> Check:
    """renovate.json cannot read pyproject.toml, so it repeats the feed's URL."""
    try:
        rules = json.loads(Path("renovate.json").read_text())["packageRules"]
        urls = {url for rule in rules for url in rule.get("registryUrls", [])}
    except FileNotFoundError:
        return ok("renovate: no renovate.json, no dependency updates")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return fix(f"renovate: renovate.json unreadable ({type(error).__name__})")
    if urls == {feed_url()}:
        return ok("renovate: looks packages up in the feed")
    return fix(
        f"renovate: renovate.json's registryUrls are {sorted(urls)}:"
        f" set them to {feed_url()}, the feed of pyproject.toml"
    )


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="feed_doctor.py")
    parser.add_argument("--pipeline", action="store_true", help="a pipeline's checks")
    parser.add_argument("--feed-url", help="the feed's simple index")
    parser.add_argument("--pypi-url", default=PYPI, help="PyPI's simple index")
    arguments = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    # In a pipeline, the feed is the one PipAuthenticate named in PIP_INDEX_URL.
    pipeline_feed = env.get("PIP_INDEX_URL") if arguments.pipeline else None
    feed = public(arguments.feed_url or pipeline_feed or feed_url())
    name = tomllib.loads(Path("pyproject.toml").read_text())["project"]["name"]
    checks = list(index_checks(env, feed))
    if not arguments.pipeline:
        checks.append(keyring_check(env))
    checks += feed_checks(
        env, feed, name, not arguments.pipeline, public(arguments.pypi_url)
    )
    if not arguments.pipeline:
        checks.append(publish_check(env))
    checks.append(renovate_check())
    for check in checks:
        if arguments.pipeline and not check.ok:
            print(f"##vso[task.logissue type=error]{check.line}")
        else:
            print(f"{'ok ' if check.ok else 'FIX'} {check.line}")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
