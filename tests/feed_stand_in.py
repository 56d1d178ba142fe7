"""Azure Artifacts behaviours that pypiserver does not show, on 127.0.0.1.

`running_feed(index)` is a proxy in front of a pypiserver (tests/index_server.py)
that answers the way pkgs.dev.azure.com does where pypiserver answers otherwise:

- Missing or bad credentials: Azure DevOps redirects to its sign-in page,
  `https://spsprodcca1.vssps.visualstudio.com/_signin?realm=...`
  (frostming/unearth#20), or answers 401 when the request carries
  `X-TFS-FedAuthRedirect: Suppress` (the header Azure DevOps clients send to
  get a status instead of the sign-in flow; reference/azure-facts.md). Some
  endpoints answer HTTP 203 with the HTML sign-in page instead
  (MicrosoftDocs/vsts-rest-api-specs#97). `signin` picks the answer; None
  keeps pypiserver's plain 401/403. Any user name goes with a valid token,
  as on Azure ("user name: any string", Microsoft's pip/twine set-up docs).
- Uploading a file the feed holds, or held before it was deleted: HTTP 409
  `Conflict - The feed 'F' already contains file 'X' in package 'N V'`
  (Azure/azure-sdk-for-python#9286). A deleted version leaves /simple/ but its
  number stays reserved for good (Microsoft's "Delete and recover packages").
  pypiserver answers twine 400 and forgets deleted files.
- Uploading a distribution whose metadata is newer than Azure knows: HTTP 400
  `Bad Request - Metadata version '2.3' is unsupported. Supported versions
  are: 1.0,1.1,1.2,2.0,2.1.` with the same message in a JSON body
  (astral-sh/ruff#10378, astral-sh/uv#2414, PyO3/maturin#1993). No public
  source shows Azure accepting 2.2 or later, so the stand-in refuses them.

- Azure's paths: `/ORG[/PROJECT]/_packaging/FEED/pypi/simple/...` serve the
  index when FEED is the feed's name, and otherwise answer 404 with "The feed
  with ID 'FEED' doesn't exist." (microsoft/azure-pipelines-artifact-caching-tasks#42).
  `forbidden` answers 403 as for a user without a role on the feed: "User
  '<id>' lacks permission to complete this action. You need to have
  'ReadPackages'." (as Azure Artifacts users quote it).

- Uploads that fail, one answer per upload of a file, from `Feed.upsets`
  (file-name suffix -> queue): a status answered without storing (429 comes
  with `Retry-After`, as Azure DevOps throttles: Microsoft's "Rate and usage
  limits" page), "stored, then 502" (the file is kept, the client sees a
  gateway error), "reset" (the connection closes without an answer),
  "sign-in" (the redirect to sign in, for a token that expired between two
  files) and "200 page" (a proxy's HTML page with 200, nothing stored).

`public_index` stands for PyPI: a simple index of the given pages, no password.
`trickling_server` answers one byte every few seconds, so no per-read timeout
ever fires; `silent_server` accepts connections and never answers.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

from tests.index_server import IndexServer

SIGNIN = "https://spsprodcca1.vssps.visualstudio.com/_signin?realm=pkgs.dev.azure.com"
SIGNIN_PAGE = (
    b"<html><head><title>Azure DevOps Services | Sign In</title></head></html>"
)
HOP_BY_HOP = {"connection", "transfer-encoding", "keep-alive", "content-length"}
AZURE_METADATA_VERSIONS = ("1.0", "1.1", "1.2", "2.0", "2.1")
AZURE_PATH = re.compile(r"^/[^?]+?/_packaging/(?P<feed>[^/]+)/pypi(?P<rest>/.*)$")


@dataclass
class Feed:
    """The stand-in: `server` is what clients talk to, `index` stores the files."""

    server: IndexServer  # same credentials as `index`, root on the stand-in
    index: IndexServer
    feed_name: str
    signin: Literal["redirect", "203"] | None
    reserved: set[str] = field(default_factory=set)
    forbidden: bool = False  # the credential is good, its user has no role
    upsets: dict[str, list[int | str]] = field(default_factory=dict)
    retry_after: str = "1"  # what a planned 429 asks clients to wait
    posts: list[str] = field(default_factory=list)  # the file of each upload

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

    def authorised(self, header: str | None) -> bool:
        """Basic auth with the token as password; the user name is ignored."""
        if not header or not header.startswith("Basic "):
            return False
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        return decoded.partition(":")[2] == self.index.password


def uploaded_file(body: bytes) -> str:
    """The file name of the distribution a multipart upload carries."""
    found = re.search(rb'name="content"; filename="([^"]+)"', body)
    return found[1].decode() if found else ""


def handler_for(feed: Feed) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(feed.index.root)
    credentials = f"{feed.index.username}:{feed.index.password}"
    upstream_auth = "Basic " + base64.b64encode(credentials.encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet, like pypiserver here
            pass

        def answer(self, status, reason=None, body=b"", headers=()) -> None:
            self.send_response(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def refuse(self) -> None:
            suppressed = self.headers.get("X-TFS-FedAuthRedirect") == "Suppress"
            if feed.signin == "redirect" and not suppressed:
                self.answer(302, headers=[("Location", f"{SIGNIN}&path={self.path}")])
            elif feed.signin == "203" and not suppressed:
                self.answer(
                    203, body=SIGNIN_PAGE, headers=[("Content-Type", "text/html")]
                )
            else:
                challenge = ("WWW-Authenticate", 'Basic realm="pkgs.dev.azure.com"')
                self.answer(401, headers=[challenge])

        def conflict(self, body: bytes) -> bool:
            """Answer 409 as Azure does if the upload in `body` is a held file."""
            form = dict(re.findall(rb'name="(name|version)"\r\n\r\n([^\r]*)', body))
            filename = uploaded_file(body)
            if not filename or not feed.holds(filename):
                return False
            package = f"{form[b'name'].decode()} {form[b'version'].decode()}"
            # requests and twine show the reason phrase: Azure's message is there.
            self.answer(
                409,
                f"Conflict - The feed '{feed.feed_name}' already contains file "
                f"'{filename}' in package '{package}'",
            )
            return True

        def unsupported_metadata(self, body: bytes) -> bool:
            """Answer 400 as Azure does if the upload's metadata is too new."""
            found = re.search(rb'name="metadata_version"\r\n\r\n([^\r]*)', body)
            version = found.group(1).decode() if found else ""
            if not found or version in AZURE_METADATA_VERSIONS:
                return False
            message = (
                f"Metadata version '{version}' is unsupported. Supported versions "
                f"are: {','.join(AZURE_METADATA_VERSIONS)}."
            )
            exception = "Microsoft.VisualStudio.Services.Packaging.Shared.WebApi"
            body = json.dumps(
                {
                    "$id": "1",
                    "innerException": None,
                    "message": message,
                    "typeName": f"{exception}.Exceptions.InvalidPackageException, "
                    f"{exception}",
                    "typeKey": "InvalidPackageException",
                    "errorCode": 0,
                    "eventId": 3000,
                }
            ).encode()
            activity = "(DevOps Activity ID: 27498FFA-3436-49CE-B4F4-27A5F86057FE)"
            json_type = ("Content-Type", "application/json")
            self.answer(400, f"Bad Request - {message} {activity}", body, [json_type])
            return True

        def azure_path(self) -> str | None:
            """The index's path for one of Azure's, or None after a 404."""
            found = AZURE_PATH.match(self.path)
            if not found:
                return self.path
            if found["feed"] == feed.feed_name:
                return found["rest"]
            message = f"The feed with ID '{found['feed']}' doesn't exist."
            error = {
                "$id": "1",
                "message": message,
                "typeKey": "FeedIdNotFoundException",
            }
            body = json.dumps(error).encode()
            self.answer(404, message, body, [("Content-Type", "application/json")])
            return None

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not feed.authorised(self.headers.get("Authorization")):
                return self.refuse()
            if feed.forbidden:
                message = (
                    "User 'c0a8f4e2-1b7d-4f3e-9a6b-2d5e8f1c3b7a' lacks permission to"
                    " complete this action. You need to have 'ReadPackages'."
                )
                return self.answer(403, message, message.encode())
            path = self.azure_path()
            if path is None:
                return
            self.path = path
            if self.command == "POST" and (
                self.unsupported_metadata(body) or self.conflict(body)
            ):
                return
            if self.command == "POST":
                feed.posts.append(uploaded_file(body))
            upset = feed.upset(uploaded_file(body)) if self.command == "POST" else None
            if upset == "reset":
                self.close_connection = True
                return self.connection.shutdown(socket.SHUT_RDWR)
            if upset == "sign-in":  # the token expired between two files
                return self.answer(302, headers=[("Location", f"{SIGNIN}&path=/")])
            if upset == "200 page":
                return self.answer(200, body=b"<html>Please sign in</html>")
            if isinstance(upset, int):
                retry = [("Retry-After", feed.retry_after)] if upset == 429 else []
                return self.answer(upset, body=b"busy", headers=retry)
            # Header names are case-insensitive: drop the client's own credentials.
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "authorization")
            }
            headers["Authorization"] = upstream_auth
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port)
            try:
                connection.request(self.command, self.path, body, headers)
                response = connection.getresponse()
                content = response.read()
            finally:
                connection.close()
            passed = [
                (k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP
            ]
            if upset == "stored, then 502":
                return self.answer(502, body=b"Bad Gateway")
            self.answer(response.status, response.reason, content, passed)

        do_GET = do_HEAD = do_POST = forward

    return Handler


def answering_uploads(
    answer: Callable[
        [BaseHTTPRequestHandler], tuple[int, list[tuple[str, str]], bytes]
    ],
) -> type[BaseHTTPRequestHandler]:
    """A handler that reads each upload and sends (status, headers, body) that
    `answer` makes of the request."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = answer(self)
            self.send_response(status)
            for name, value in [*headers, ("Content-Length", str(len(body)))]:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """`handler` on a free loopback port, stopped on exit; its root URL
    (http:// also when `tls` wraps it: the caller names the scheme)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def public_index(pages: dict[str, list[str]]) -> Iterator[str]:
    """A simple index whose project pages link the given file names; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.strip("/").removeprefix("simple/")
            if name not in pages:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            links = "".join(
                f'<a href="/files/{file}">{file}</a>' for file in pages[name]
            )
            body = f"<html><body>{links}</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as root:
        yield f"{root}/simple/"


@contextmanager
def running_feed(
    index: IndexServer,
    *,
    feed_name: str = "python-internal",
    signin: Literal["redirect", "203"] | None = "redirect",
) -> Iterator[Feed]:
    """Serve `index` the way Azure Artifacts would, on a free loopback port."""
    feed = Feed(index, index, feed_name, signin)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(feed))
    feed.server = replace(index, root=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feed
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def trickling_server(interval: float = 1.0) -> Iterator[str]:
    """A server that answers any request one byte every `interval` seconds."""
    stopped = threading.Event()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"." * 100000

    def trickle(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            for byte in answer:
                if stopped.wait(interval):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)

        def accept() -> None:
            while not stopped.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(
                    target=trickle, args=(connection,), daemon=True
                ).start()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
        finally:
            stopped.set()
            thread.join()


@contextmanager
def silent_server() -> Iterator[str]:
    """A port that takes connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"


@contextmanager
def failing_server(status: int, body: bytes = b"upstream failed") -> Iterator[str]:
    """A server that answers every request with `status`; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer

    with serving(Handler) as root:
        yield f"{root}/upload/"
