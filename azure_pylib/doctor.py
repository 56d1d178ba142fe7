"""python -m azure_pylib doctor [--pipeline]: why pip, uv or twine cannot use
the feed, one line per check, each problem with its fix.

It says which index pip and uv use and where that comes from, which identity
the feed was asked with (a PAT, the keyring, the Azure CLI's account), what the
feed answered, whether PyPI comes through it, whether the library's name is the
feed's own, and how publishing gets a token. Exit status 0 only when everything
a developer (or, with --pipeline, the pipeline after PipAuthenticate@1) needs
works. No token is printed; every question has a deadline.
"""

from __future__ import annotations

import argparse
import configparser
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from azure_pylib.exchange import Answer, masked
from azure_pylib.feed import (
    Login,
    Problem,
    ask,
    index_login,
    keyring_login,
    links,
    login_for,
    project_of,
    public,
    refusal,
    split_url,
    user_info,
)

PUBLIC_PACKAGE = "pip"  # on PyPI for good: whether the upstream answers
PYPI = "https://pypi.org/simple/"
AS_SETUP_SHOWS = "as docs/setup.md shows"
NO_SECOND_INDEX = "unset it: PyPI is the feed's upstream"


@dataclass
class Check:
    ok: bool
    line: str


def ok(line: str) -> Check:
    return Check(True, line)


def fix(line: str) -> Check:
    return Check(False, line)


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
        try:
            config.read(file, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            if config.has_option(section, name):
                found = config.get(section, name).strip(), str(file)
    return found


def uv_index(env: dict[str, str]) -> tuple[str, str] | None:
    """(uv's index, the variable it comes from); nox passes pip's on to uv."""
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if env.get(name):
            return env[name], name
    return None


def signed_in_by_nox(env: dict[str, str]) -> bool:
    """Whether the noxfile gave uv the Azure CLI's token (docs/setup.md)."""
    found = uv_index(env)
    return bool(found) and split_url(found[0])[0] == "azure-cli"


def index_checks(env: dict[str, str], feed: str) -> Iterator[Check]:
    """Which index pip and uv use, and where that comes from."""
    index = pip_setting(env, "index-url")
    if index is None and signed_in_by_nox(env):
        yield ok("pip: not set; nox signs in with the Azure CLI (for pip by hand,"
                 f" set the feed {AS_SETUP_SHOWS})")  # fmt: skip
    elif index is None:
        yield fix(f"pip: uses PyPI: set the feed {AS_SETUP_SHOWS}")
    elif public(index[0]) != feed:
        yield fix(
            f"pip: uses {public(index[0])} (from {index[1]}), not the feed: set the"
            f" feed {AS_SETUP_SHOWS}"
        )
    else:
        yield ok(f"pip: uses the feed (from {index[1]})")
    if index and set(user_info(index[0])[0]) & set("/?#"):
        yield fix(
            f"pip: the token in its index URL (from {index[1]}) holds a raw '/', '?'"
            " or '#', where pip's URL parsing ends the host: write them as %2F, %3F"
            " and %23"
        )
    if extra := pip_setting(env, "extra-index-url"):
        yield fix(
            f"pip: a second index, {public(extra[0])} (from {extra[1]}): pip takes"
            " the highest version from either, so a public package can shadow an"
            f" internal one; {NO_SECOND_INDEX}"
        )
    uv = uv_index(env)
    if uv is None:
        yield fix(
            "uv: no index, so nox's environments use PyPI: set UV_DEFAULT_INDEX"
            f" {AS_SETUP_SHOWS}"
        )
    elif public(uv[0]) != feed:
        yield fix(
            f"uv: uses {public(uv[0])}, not the feed: set UV_DEFAULT_INDEX"
            f" {AS_SETUP_SHOWS}"
        )
    else:
        yield ok(f"uv: uses the feed (from the environment variable {uv[1]})")
    for variable in ("UV_EXTRA_INDEX_URL", "UV_INDEX"):
        if env.get(variable):
            yield fix(f"uv: {variable} adds an index; {NO_SECOND_INDEX}")


def keyring_problem() -> str | None:
    """Why artifacts-keyring cannot sign in from this environment, if it cannot."""
    if importlib.util.find_spec("artifacts_keyring") is not None:
        return None
    python = f"Python {platform.python_version()} on {sys.platform}"
    major, minor = sys.version_info[:2]
    if sys.platform == "linux" and (major, minor) >= (3, 14):
        return f"artifacts-keyring has no release for {python}"
    return "artifacts-keyring is not installed here"


def feed_login(env: dict[str, str], feed: str) -> Login | str:
    """The credential pip or uv sends to the feed, or why there is none."""
    for source, found in (("pip's index URL", pip_setting(env, "index-url")),
                          ("uv's index URL", uv_index(env))):  # fmt: skip
        if found and public(found[0]) == feed:
            user, password, _ = split_url(found[0])
            if password:
                origin = "the Azure CLI's sign-in" if user == "azure-cli" else source
                return Login(user, password, origin)
    if env.get("TWINE_PASSWORD", "").strip():
        return login_for(feed, env, timeout=60)
    if problem := keyring_problem():
        return problem
    return keyring_login(feed, "VssSessionToken", timeout=60)


def identity_check(login: Login | str) -> Check:
    if isinstance(login, Login):
        return ok(f"identity: asks the feed as {login.who}")
    return fix(
        f"identity: none ({login}): sign in with `az login` and run nox again, or"
        f" set a PAT {AS_SETUP_SHOWS}"
    )


def feed_checks(login: Login | str, feed: str, name: str, own: bool) -> Iterator[Check]:
    """Whether the feed answers, serves PyPI's packages and, if `own`, the library."""
    anonymous = ask(f"{feed}{PUBLIC_PACKAGE}/", None)
    if isinstance(anonymous, str):  # out of reach whoever asks
        yield fix(f"feed: {anonymous}: check the network (or the proxy, HTTPS_PROXY)")
        return
    if not isinstance(login, Login):
        yield fix("feed: not asked, for want of a credential (above)")
        return
    answer = ask(f"{feed}{PUBLIC_PACKAGE}/", login)
    if (
        isinstance(answer, Answer)
        and answer.status == 404
        and "The feed with" in answer.text
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
    elif problem := refusal(answer, login):
        yield fix(f"feed: {problem}")
        return
    else:
        upstream = ok("upstream: public packages come through the feed")
    yield ok(f"feed: answers {login.who}")
    yield upstream
    if own:
        yield name_check(login, feed, name)


def name_check(login: Login, feed: str, name: str) -> Check:
    answer = ask(f"{feed}{name}/", login)
    if isinstance(answer, Answer) and (
        answer.status == 404 or 300 <= answer.status < 400
    ):
        return fix(
            f"name: {name} is not on the feed yet, so a public package of that name"
            " would come through the upstream: publish a first version to claim it"
        )
    if problem := refusal(answer, login):
        return fix(f"name: {problem}")
    assert isinstance(answer, Answer)
    pypi = ask(f"{PYPI}{name}/", None)
    theirs = (
        set(links(pypi.text))
        if isinstance(pypi, Answer) and pypi.status == 200
        else set()
    )
    if theirs and set(links(answer.text)) <= theirs:
        return fix(
            f"name: the feed serves only PyPI's {name}, someone else's package:"
            " publish a first version of yours to claim the name (Azure then blocks"
            " theirs)"
        )
    return ok(f"name: {name} is the feed's own")


def publish_check(env: dict[str, str], upload: str) -> Check:
    if env.get("TWINE_PASSWORD") and env.get("TWINE_USERNAME") == "azure-cli":
        return ok("publish: twine gets the Azure CLI's token (from nox)")
    if env.get("TWINE_PASSWORD"):
        return ok("publish: twine gets the token in TWINE_PASSWORD")
    if found := index_login(upload, env):
        return ok(f"publish: twine gets the token of {found.source}, the same feed")
    if problem := keyring_problem():
        return fix(
            f"publish: {problem}: sign in with `az login`, or set TWINE_PASSWORD to"
            " a PAT with Packaging (Read & write)"
        )
    return ok("publish: twine asks artifacts-keyring")


def renovate_check(feed_of_pyproject: str) -> Check:
    """renovate.json cannot read pyproject.toml, so it repeats the feed's URL."""
    try:
        rules = json.loads(Path("renovate.json").read_text(encoding="utf-8"))
        urls = {
            url
            for rule in rules["packageRules"]
            for url in rule.get("registryUrls", [])
        }
    except FileNotFoundError:
        return ok("renovate: no renovate.json, no dependency updates")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return fix(f"renovate: renovate.json unreadable ({type(error).__name__})")
    if urls == {feed_of_pyproject}:
        return ok("renovate: looks packages up in the feed")
    return fix(
        f"renovate: renovate.json's registryUrls are {sorted(urls)}: set them to"
        f" {feed_of_pyproject}, the feed of pyproject.toml"
    )


def checks(pipeline: bool, env: dict[str, str]) -> list[Check]:
    name, address = project_of()
    ours = address.url("simple")
    # In a pipeline, the feed is the one PipAuthenticate named in PIP_INDEX_URL.
    feed = (
        public(env["PIP_INDEX_URL"]) if pipeline and env.get("PIP_INDEX_URL") else ours
    )
    found = list(index_checks(env, feed))
    login = feed_login(env, feed)
    if not pipeline:
        found.append(identity_check(login))
    found += feed_checks(login, feed, name, own=not pipeline)
    if not pipeline:
        found.append(publish_check(env, address.url("upload")))
    found.append(renovate_check(ours))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m azure_pylib doctor")
    parser.add_argument("--pipeline", action="store_true", help="a pipeline's checks")
    arguments = parser.parse_args(argv)
    env = dict(os.environ)
    try:
        found = checks(arguments.pipeline, env)
    except Problem as problem:
        found = [fix(str(problem))]
    secrets = {split_url(v)[1] for v in env.values() if "@" in v} | {
        env.get("TWINE_PASSWORD", "")
    }
    for check in found:
        line = masked(check.line, {s for s in secrets if s})
        if arguments.pipeline and not check.ok:
            print(f"##vso[task.logissue type=error]{line}")
        else:
            print(f"{'ok ' if check.ok else 'FIX'} {line}")
    return 0 if all(check.ok for check in found) else 1
