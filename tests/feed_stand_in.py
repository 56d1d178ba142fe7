"""An Azure Artifacts Python feed on pkgs.dev.azure.com, in front of pypiserver.

`running_feed(index, folder)` routes https://pkgs.dev.azure.com on a test
network (tests/azure_network.py) to a stand-in that stores and serves files
through a pypiserver (tests/index_server.py) and answers the way Azure
Artifacts does where pypiserver answers otherwise:

- Azure's paths: `/ORG[/PROJECT]/_packaging/FEED/pypi/simple/...` and
  `.../pypi/upload/`; another feed's name is a 404 "The feed with ID 'FEED'
  doesn't exist." (microsoft/azure-pipelines-artifact-caching-tasks#42).
- Credentials: Basic, any user name with a token the feed knows (`tokens`:
  its scopes, None for a token acting with its identity's permissions: the job
  token, an Entra token); "user name: any string" (Microsoft's pip/twine docs).
  An Entra token from the Azure CLI is taken as the Basic password
  (microsoft/artifacts-credprovider#596, which passes it so). A token without
  vso.packaging (reading) or vso.packaging_write (uploading) is refused with
  401 and TF400813, as the REST API refuses scopes.
- No credential: 401 with WWW-Authenticate naming the tenant's authority and
  X-VSS-AuthorizationEndpoint (how microsoft/artifacts-keyring-nofuss finds
  where to sign in: its _backend._discover). A credential it does not take: a
  redirect to the sign-in page (frostming/unearth#20), or 203 and the sign-in
  page (MicrosoftDocs/vsts-rest-api-specs#97) with `signin="203"`; a 401 when
  the request carries X-TFS-FedAuthRedirect: Suppress.
- `forbidden`: 403 as for a user without a role on the feed: "User '<id>'
  lacks permission to complete this action. You need to have 'ReadPackages'."
- Uploading a file the feed holds, or held before it was deleted: HTTP 409
  `Conflict - The feed 'F' already contains file 'X' in package 'N V'`
  (Azure/azure-sdk-for-python#9286). A deleted version leaves /simple/ but its
  number stays reserved for good (Microsoft's "Delete and recover packages").
- Metadata newer than Azure knows: HTTP 400 `Bad Request - Metadata version
  '2.3' is unsupported. Supported versions are: 1.0,1.1,1.2,2.0,2.1.`
  (astral-sh/ruff#10378, astral-sh/uv#2414, PyO3/maturin#1993).
- Uploads that fail, one answer per upload of a file, from `upsets` (file-name
  suffix -> queue): a status answered without storing (429 with Retry-After,
  as Azure DevOps throttles: Microsoft's "Rate and usage limits"), "stored,
  then 502", "reset" (the connection closes without an answer), "sign-in" (a
  token that expired between two files), "200 page" (a proxy's page, nothing
  stored) and "stored, then silence" (no answer for a minute). `listing`
  decides how the project pages answer: "late" lists a new file only seconds
  after its upload, "sign-in" answers the page with the
  sign-in redirect, "203" with the sign-in page, "upper md5" lists hashes as
  MD5 in upper case.

A project pypiserver does not hold is a redirect to PyPI (pypiserver's
fallback), which pip and uv follow there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from tests.azure_network import Answer, Network, Request, azure_network
from tests.azure_spec import granted
from tests.index_server import IndexServer

HOST = "pkgs.dev.azure.com"
SIGNIN = "https://spsprodcca1.vssps.visualstudio.com/_signin?realm=pkgs.dev.azure.com"
SIGNIN_PAGE = (
    b"<html><head><title>Azure DevOps Services | Sign In</title></head></html>"
)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}
AZURE_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1")
AZURE_PATH = re.compile(
    r"^/(?P<scope>[^?]+?)/_packaging/(?P<feed>[^/]+)/pypi"
    r"(?P<rest>/[^?]*)(?P<query>\?.*)?$"
)


@dataclass
class Feed:
    """The feed: its address, what it takes and how it misbehaves."""

    index: IndexServer
    network: Network
    organization: str = "myorg"
    project: str | None = "myproject"
    name: str = "python-internal"
    signin: Literal["redirect", "203"] | None = "redirect"
    tokens: dict[str, frozenset[str] | None] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)
    forbidden: bool = False  # the credential is good, its user has no role
    upsets: dict[str, list[int | str]] = field(default_factory=dict)
    retry_after: str = "1"  # what a planned 429 asks clients to wait
    listing: str = ""  # "", "late", "sign-in", "203", "upper md5"
    listing_since: float = 0.0  # when `listing` was set
    posts: list[str] = field(default_factory=list)  # the file of each upload
    stored_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tokens.setdefault(self.index.password, None)

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name == "listing":
            super().__setattr__("listing_since", time.monotonic())

    def uploaded_since_listing(self) -> bool:
        return any(when > self.listing_since for when in self.stored_at.values())

    @property
    def token(self) -> str:
        """A token that may read and upload: the job token of the pipelines."""
        return self.index.password

    def url(self, endpoint: str = "simple", user: str = "", token: str = "") -> str:
        scope = "/".join(
            quote(p, safe="") for p in (self.organization, self.project) if p
        )
        info = f"{user}:{token}@" if token else ""
        return f"https://{info}{HOST}/{scope}/_packaging/{self.name}/pypi/{endpoint}/"

    @property
    def simple_url(self) -> str:
        return self.url("simple")

    @property
    def upload_url(self) -> str:
        return self.url("upload")

    def env(self) -> dict[str, str]:
        return self.network.env()

    def upset(self, filename: str) -> int | str | None:
        """The next failure planned for uploads of `filename`, if any."""
        for suffix, queue in self.upsets.items():
            if filename.endswith(suffix) and queue:
                return queue.pop(0)
        return None

    def delete(self, filename: str) -> None:
        """Delete a file as the feed's UI does: gone from /simple/, still reserved."""
        (self.index.packages / filename).unlink()
        self.reserved.add(filename)

    def holds(self, filename: str) -> bool:
        return filename in self.reserved or (self.index.packages / filename).exists()

    def files(self) -> list[str]:
        return self.index.files()

    def credential(self, request: Request) -> tuple[str, frozenset[str] | None] | None:
        """(token, its scopes) of a Basic credential the feed takes, or None."""
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header.removeprefix("Basic ")).decode("latin-1")
        except (binascii.Error, ValueError):
            return None
        token = decoded.partition(":")[2]
        return (token, self.tokens[token]) if token in self.tokens else None

    # -- the app --

    def app(self, request: Request) -> Answer | None:
        found = AZURE_PATH.match(request.target)
        scope = "/".join(p for p in (self.organization, self.project) if p)
        if not found or unquote(found["scope"]) != scope:
            return error(404, "The resource cannot be found.", "NotFoundException")
        if "Authorization" not in request.headers:
            return Answer(
                401,
                headers=[
                    ("WWW-Authenticate", f"Bearer authorization_uri=https://login."
                     f"microsoftonline.com/{TENANT}, Basic realm=\"{HOST}\""),
                    ("X-VSS-AuthorizationEndpoint",
                     f"https://vssps.dev.azure.com/{self.organization}/"),
                ],
            )  # fmt: skip
        known = self.credential(request)
        if known is None:
            return self.refuse(request)
        if unquote(found["feed"]) != self.name:
            return error(404, f"The feed with ID '{unquote(found['feed'])}' doesn't"
                         " exist.", "FeedIdNotFoundException")  # fmt: skip
        uploading = request.method == "POST"
        needed = ("vso.packaging_write",) if uploading else ("vso.packaging",)
        if not granted(known[1], needed):
            return error(
                401,
                "TF400813: The user 'c0a8f4e2-1b7d-4f3e-9a6b-2d5e8f1c3b7a' is not"
                " authorized to access this resource.",
                "UnauthorizedRequestException",
            )
        if self.forbidden:
            message = (
                "User 'c0a8f4e2-1b7d-4f3e-9a6b-2d5e8f1c3b7a' lacks permission to"
                " complete this action. You need to have 'ReadPackages'."
            )
            return Answer(403, message.encode(), reason=message)
        rest = found["rest"] + (found["query"] or "")
        if uploading:
            return self.upload(request, rest)
        return self.read(request, rest)

    def refuse(self, request: Request) -> Answer:
        if request.headers.get("X-TFS-FedAuthRedirect") == "Suppress":
            challenge = ("WWW-Authenticate", f'Basic realm="{HOST}"')
            return Answer(401, headers=[challenge])
        if self.signin == "203":
            return Answer(203, SIGNIN_PAGE, [("Content-Type", "text/html")])
        if self.signin == "redirect":
            return Answer(302, headers=[("Location", f"{SIGNIN}&path={request.path}")])
        return Answer(401, headers=[("WWW-Authenticate", f'Basic realm="{HOST}"')])

    def read(self, request: Request, rest: str) -> Answer | None:
        # A listing that turns into the sign-in page once something was uploaded.
        page = re.match(r"/simple/[^/]+/", rest) and self.uploaded_since_listing()
        if page and self.listing == "sign-in":
            return Answer(302, headers=[("Location", f"{SIGNIN}&path={request.path}")])
        if page and self.listing == "203":
            return Answer(203, SIGNIN_PAGE, [("Content-Type", "text/html")])
        if rest.startswith("/download/"):  # where the pages' links lead
            return self.forward(
                request, rest.replace("/download/", "/packages/", 1), b""
            )
        answer = self.forward(request, rest, b"")
        if answer.status == 200 and re.match(r"/simple/[^/]+/", rest):
            base = request.path.split("/pypi/")[0]
            links = answer.body.replace(
                b'href="/packages/', f'href="{base}/pypi/download/'.encode()
            )
            answer.body = self.listed(links)
        return answer

    def listed(self, page: bytes) -> bytes:
        """The page as `listing` shows it."""
        text = page.decode()
        if self.listing == "late":
            now = time.monotonic()
            for name, when in self.stored_at.items():
                if now - when < 3:  # a new file shows after three seconds
                    text = re.sub(rf"<a [^>]*>{re.escape(name)}</a>", "", text)
        if self.listing == "upper md5":
            for name in re.findall(r">([^<]+)</a>", text):
                path = self.index.packages / name
                if path.exists():
                    md5 = hashlib.md5(path.read_bytes()).hexdigest().upper()
                    text = re.sub(rf"#sha256=[0-9a-f]+(\"[^>]*>{re.escape(name)}<)",
                                  rf"#MD5={md5}\1", text)  # fmt: skip
        return text.encode()

    def upload(self, request: Request, rest: str) -> Answer | None:
        body = request.body
        filename = uploaded_file(body)
        if problem := unsupported_metadata(body):
            return problem
        if filename and self.holds(filename):
            form = dict(re.findall(rb'name="(name|version)"\r\n\r\n([^\r]*)', body))
            package = f"{form[b'name'].decode()} {form[b'version'].decode()}"
            # requests and twine show the reason phrase: Azure's message is there.
            reason = (
                f"Conflict - The feed '{self.name}' already contains file"
                f" '{filename}' in package '{package}'"
            )
            return Answer(409, reason.encode(), reason=reason)
        self.posts.append(filename)
        upset = self.upset(filename)
        if upset == "reset":
            request.handler.close_connection = True
            request.handler.connection.shutdown(socket.SHUT_RDWR)
            return None
        if upset == "sign-in":  # the token expired between two files
            return Answer(302, headers=[("Location", f"{SIGNIN}&path=/")])
        if upset == "200 page":
            return Answer(200, b"<html>Please sign in</html>")
        if isinstance(upset, int):
            retry = [("Retry-After", self.retry_after)] if upset == 429 else []
            return Answer(upset, b"busy", retry)
        answer = self.forward(request, "/", body)
        if 200 <= answer.status < 300:
            self.stored_at[filename] = time.monotonic()
        if upset == "stored, then 502":
            return Answer(502, b"Bad Gateway")
        if upset == "stored, then silence":
            hold(request)
            return None
        return answer

    def forward(self, request: Request, path: str, body: bytes) -> Answer:
        """pypiserver's answer, the client's own credential replaced by the index's."""
        upstream = urlsplit(self.index.root)
        pair = f"{self.index.username}:{self.index.password}"
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "authorization", "content-length")
        }
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(
            upstream.hostname, upstream.port, timeout=60
        )
        try:
            connection.request(request.method, path, body or None, headers)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        dropped = HOP_BY_HOP - (
            {"content-length"} if request.method == "HEAD" else set()
        )
        passed = [(k, v) for k, v in response.getheaders() if k.lower() not in dropped]
        return Answer(response.status, content, passed, response.reason)


def error(status: int, message: str, type_key: str) -> Answer:
    """Azure's JSON error body."""
    body = {"$id": "1", "innerException": None, "message": message,
            "typeName": f"Microsoft.VisualStudio.Services.WebApi.{type_key}",
            "typeKey": type_key, "errorCode": 0, "eventId": 3000}  # fmt: skip
    return Answer(
        status,
        json.dumps(body).encode(),
        [("Content-Type", "application/json")],
        f"{message} (DevOps Activity ID: {str(uuid.uuid4()).upper()})",
    )


def uploaded_file(body: bytes) -> str:
    """The file name of the distribution a multipart upload carries."""
    found = re.search(rb'name="content"; filename="([^"]+)"', body)
    return found[1].decode() if found else ""


def unsupported_metadata(body: bytes) -> Answer | None:
    """Azure's 400 for an upload whose metadata is too new, if it is."""
    found = re.search(rb'name="metadata_version"\r\n\r\n([^\r]*)', body)
    version = found.group(1).decode() if found else ""
    if not found or version in AZURE_METADATA_VERSIONS:
        return None
    message = (
        f"Metadata version '{version}' is unsupported. Supported versions "
        f"are: {','.join(AZURE_METADATA_VERSIONS)}."
    )
    return error(400, message, "InvalidPackageException")


@contextmanager
def running_feed(
    index: IndexServer, folder: Path, **settings: object
) -> Iterator[Feed]:
    """The feed on pkgs.dev.azure.com of a network of its own."""
    with azure_network(folder) as network:
        feed = Feed(index, network, **settings)  # type: ignore[arg-type]
        network.route(HOST, feed.app)
        yield feed


def trickle(request: Request, interval: float = 1.0) -> None:
    """Answers one byte every `interval` seconds, so no per-read timeout fires."""
    handler = request.handler
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"." * 100000
    handler.close_connection = True
    for byte in answer:
        try:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(interval)


def hold(request: Request) -> None:
    """Takes the request and answers nothing for a minute."""
    request.handler.close_connection = True
    threading.Event().wait(60)


def answering(status: int, body: bytes = b"", headers: list | None = None):
    """An app that answers every request with `status` and `body`."""

    def app(request: Request) -> Answer:
        return Answer(status, body, list(headers or []))

    return app


def public_index(pages: dict[str, list[str]]):
    """PyPI's stand-in (route it at pypi.org): a simple index whose project
    pages link the given file names."""

    def app(request: Request) -> Answer:
        name = request.path.strip("/").removeprefix("simple/")
        if name not in pages:
            return Answer(404)
        links = "".join(f'<a href="/files/{file}">{file}</a>' for file in pages[name])
        return Answer(200, f"<html><body>{links}</body></html>".encode())

    return app
