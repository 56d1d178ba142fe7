"""The feed as pip, uv and twine reach it: its addresses, the credential that
goes with them, what it lists, and what its refusals mean, in words.

A feed's simple index answers with the HTML of PEP 503; a page lists a
project's files with their hashes. Azure Artifacts answers a credential it
does not take with a redirect to its sign-in page (frostming/unearth#20), a 203
and the sign-in page's HTML (MicrosoftDocs/vsts-rest-api-specs#97), or a 401
when asked with X-TFS-FedAuthRedirect: Suppress; a user without a role on the
feed gets a 403; a feed name it does not know a 404 saying "The feed with ID
'<name>' doesn't exist." (microsoft/azure-pipelines-artifact-caching-tasks#42).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from azure_pylib.exchange import Answer, NoAnswer, exchange

AZURE_PACKAGES = "pkgs.dev.azure.com"
ASK_SECONDS = 15  # for one question to the feed, all of it
PAGE_LIMIT = 2_000_000  # bytes of a simple page that are read
# A user name that is a word, not a secret: what the docs tell everyone to use.
PLAIN_USERS = {"", "build", "VssSessionToken", "azure-cli", "__token__"}
HOST = re.compile(r"(\[[\da-fA-F:]+\]|localhost|[\w-]+(\.[\w-]+)+)(:\d+)?(/|$)")


class Problem(Exception):
    """What cannot go on, in one sentence with the fix, holding no secret."""


@dataclass(frozen=True)
class Address:
    """A feed in Azure Artifacts: [tool.azure-artifacts] of pyproject.toml."""

    organization: str
    project: str | None
    name: str

    def url(self, endpoint: str) -> str:
        """The `simple` (install) or `upload` (publish) endpoint."""
        parts = [self.organization, self.project, "_packaging", self.name]
        path = "/".join(quote(part, safe="") for part in parts if part)
        return f"https://{AZURE_PACKAGES}/{path}/pypi/{endpoint}/"


def project_of(pyproject: Path = Path("pyproject.toml")) -> tuple[str, Address]:
    """The distribution's name and its feed, from pyproject.toml."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        table = data["tool"]["azure-artifacts"]
        name = data["project"]["name"]
        address = Address(table["organization"], table.get("project"), table["feed"])
        if not all(
            isinstance(v, str) for v in (name, address.organization, address.name)
        ):
            raise TypeError
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError,
            TypeError) as error:  # fmt: skip
        raise Problem(
            f"{pyproject} names no project and [tool.azure-artifacts] feed"
            f" ({type(error).__name__}): run this in a library made from"
            " cookiecutter-azure-pylib"
        ) from None
    return name, address


def user_info(url: str) -> tuple[str, str]:
    """(the user info as written, the URL without it): a password may hold a
    raw "/" and a path an "@" (FEED@VIEW), so it ends before a host name."""
    scheme, separator, rest = url.partition("://")
    if not separator:  # written without a scheme: build:PAT@pkgs...
        scheme, rest = "", url
    for at in reversed([i for i, c in enumerate(rest) if c == "@"]):
        if HOST.match(rest, at + 1):
            bare = rest[at + 1 :]
            return rest[:at], f"{scheme}://{bare}" if separator else bare
    return "", url


def split_url(url: str) -> tuple[str, str, str]:
    """(user, password, URL without them)."""
    written, bare = user_info(url)
    user, _, password = written.partition(":")
    return unquote(user), unquote(password), bare


def public(url: str) -> str:
    """The URL without its user name and token, as it may be shown."""
    return split_url(url)[2].rstrip("/") + "/"


def on_azure_devops(url: str) -> bool:
    """Whether the URL is Azure Artifacts' own host: where an Entra token may go."""
    host = urlsplit(public(url)).hostname or ""
    return host == AZURE_PACKAGES or host.endswith(".pkgs.visualstudio.com")


def claims(token: str) -> dict[str, object]:
    """The claims of a JSON Web Token (unverified: for naming who it is), or {}."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        found = json.loads(payload)
    except (binascii.Error, ValueError, RecursionError):
        return {}
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Login:
    """A credential for the feed and where it came from, in words."""

    user: str
    password: str
    source: str  # "TWINE_PASSWORD", "pip's index URL", "artifacts-keyring", ...

    @property
    def header(self) -> str:
        pair = f"{self.user}:{self.password}".encode("latin-1")
        return "Basic " + base64.b64encode(pair).decode()

    @property
    def secrets(self) -> set[str]:
        found = {self.password}
        if self.user not in PLAIN_USERS:  # a PAT put in the user name
            found.add(self.user)
        return {secret for secret in found if secret}

    @property
    def who(self) -> str:
        """Whose credential this is, for a sentence."""
        signed = claims(self.password)
        account = signed.get("upn") or signed.get("unique_name") or signed.get("appid")
        if account:
            return f"the Azure CLI's account {account} ({self.source})"
        return f"the token in {self.source}"

    def carriable(self) -> str | None:
        """Why HTTP cannot carry this credential (Basic is Latin-1), if it cannot."""
        for value, what in [(self.password, "The password"), (self.user, "The user")]:
            if any(ord(c) > 255 or c in "\r\n" for c in value):
                return (
                    f"{what} from {self.source} has a character HTTP cannot carry"
                    " (a line break, or one outside Latin-1): an Azure DevOps PAT"
                    " is letters and digits; copy it again"
                )
        return None


def keyring_login(url: str, user: str | None, timeout: float) -> Login | str:
    """The credential the keyring (artifacts-keyring) gives for `url`, or why
    it gives none: asked in a child process, whose tracebacks stay there."""
    code = (
        "import json, sys, keyring\n"
        "found = keyring.get_credential(sys.argv[1], sys.argv[2] or None)\n"
        "print(json.dumps(found and [found.username, found.password]))"
    )
    try:
        asked = subprocess.run(
            [sys.executable, "-c", code, url, user or ""],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "ARTIFACTS_KEYRING_NONINTERACTIVE_MODE": "true"},
        )
    except subprocess.TimeoutExpired:
        return f"the keyring did not answer within {timeout:g} s"
    except OSError as error:
        return f"the keyring could not run ({type(error).__name__})"
    if "No module named 'keyring'" in asked.stderr:
        return "the keyring is not installed with twine here"
    try:
        found = json.loads(asked.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError, RecursionError):
        found = None
    if not found or not found[1]:
        return "the keyring has no token for the feed: sign in once (docs/setup.md)"
    return Login(str(found[0] or "VssSessionToken"), str(found[1]), "artifacts-keyring")


def login_for(url: str, env: dict[str, str], timeout: float) -> Login | str:
    """The credential twine uses for `url`: TWINE_PASSWORD, the URL's own, or
    the keyring's; or why there is none."""
    user, password, _ = split_url(url)
    if env.get("TWINE_PASSWORD", "").strip():
        given = env.get("TWINE_USERNAME") or "build"  # any user goes with a token
        return Login(given, env["TWINE_PASSWORD"].strip(), "TWINE_PASSWORD")
    if password:
        return Login(user or "build", password, "the URL")
    if found := index_login(url, env):
        return found
    return keyring_login(split_url(url)[2], env.get("TWINE_USERNAME"), timeout)


def index_login(url: str, env: dict[str, str]) -> Login | None:
    """The token in uv's or pip's index URL, when that index is the same feed
    as `url` (docs/setup.md exports one: the Azure CLI's, or a PAT)."""
    feed = public(url).partition("/pypi/")[0]
    for name in ("UV_DEFAULT_INDEX", "PIP_INDEX_URL"):
        user, password, bare = split_url(env.get(name, ""))
        if password and public(bare).partition("/pypi/")[0] == feed:
            return Login(user or "build", password, name)
    return None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag: str, attributes: list) -> None:
        if tag != "a":
            return
        href = dict(attributes).get("href") or ""
        address, _, fragment = html.unescape(href).partition("#")
        name = unquote(address.rsplit("/", 1)[-1])
        algorithm, _, digest = fragment.partition("=")
        hashes = {algorithm.lower(): digest.lower()} if digest else {}
        self.found[name] = hashes


def links(page: str) -> dict[str, dict[str, str]]:
    """{file name: {hash algorithm: hex digest}} of a PEP 503 simple page."""
    parser = _Links()
    parser.feed(page)
    return parser.found


def ask(url: str, login: Login | None, seconds: float = ASK_SECONDS) -> Answer | str:
    """The answer to a GET, or why there is none, in words."""
    headers = {"Accept": "text/html"}  # as pip asks: sign-in pages included
    if login:
        headers["Authorization"] = login.header
    try:
        return exchange(
            "GET", url, headers, deadline=time.monotonic() + seconds, limit=PAGE_LIMIT
        )
    except NoAnswer as error:
        host = split_url(url)[2].split("/")[2] if "://" in url else url
        if error.timed_out:
            return f"{host} gave no whole answer within {max(round(seconds), 1)} s"
        if "certificate" in str(error):  # a TLS-inspecting proxy's, often
            return (
                f"cannot reach {host}: {error}; behind a TLS-inspecting proxy, set"
                " REQUESTS_CA_BUNDLE and SSL_CERT_FILE to the system's CA bundle"
            )
        return f"cannot reach {host}: {error}"


def refusal(answer: Answer | str, login: Login | None) -> str | None:
    """What an answer without a listing means, with the fix; None if it is one."""
    if isinstance(answer, str):
        return answer
    if answer.status == 200 and "<a " in answer.text.lower():
        return None
    location = answer.header("Location")
    signed_out = "_signin" in location or "Sign In" in answer.text[:2000]
    if 300 <= answer.status < 400 and not signed_out:
        return None  # another index's answer, which pip follows
    who = login.who if login else "no credential"
    if signed_out or answer.status == 401:
        seen = f"the sign-in page, HTTP {answer.status}" if signed_out else "HTTP 401"
        return (
            f"the feed refused {who} ({seen}): an expired or"
            " revoked PAT, one made for another organization or without Packaging"
            " (Read), or no sign-in; docs/setup.md"
        )
    if answer.status == 403:
        return (
            f"{who} has no role on the feed (HTTP 403): ask its owner for Feed"
            " Reader, or Collaborator to save packages from PyPI"
        )
    if answer.status == 404 and "The feed with ID" in answer.text:
        return "the feed does not exist (HTTP 404): check [tool.azure-artifacts]"
    if answer.status == 200:
        return "HTTP 200 without a listing: a proxy or a sign-in page answered"
    return f"HTTP {answer.status} from the feed"


def canonical(name: str) -> str:
    """A project's name as indexes file it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def page_of(endpoint: str, name: str) -> str:
    """The simple page of `name` on the index whose upload or simple endpoint
    is `endpoint` (Azure's .../pypi/upload/, pypiserver's root)."""
    root = re.sub(r"/(upload|simple)$", "", public(endpoint).rstrip("/"))
    return f"{root}/simple/{canonical(name)}/"
