"""Azure's own host names, answered on this machine.

A client reaches the stand-ins the way a user's machine reaches Azure: at
https://dev.azure.com, feeds.dev.azure.com, pkgs.dev.azure.com and
vssps.dev.azure.com. The test's network is

- an HTTPS proxy on 127.0.0.1, named by HTTPS_PROXY, which urllib, requests
  (twine), pip, uv, git and Node all honour: a CONNECT to a routed name is
  tunnelled to the TLS server below, a CONNECT to any other name to that host
  as it is (PyPI stays PyPI), except Microsoft's other hosts (refused and
  recorded: the code under test must not reach for a host it should not);
- one TLS server on 127.0.0.1 whose certificate, for every routed name, comes
  from a test certificate authority (trustme); the clients trust it through
  the CA-bundle variables each of them reads (SSL_CERT_FILE, REQUESTS_CA_BUNDLE,
  PIP_CERT, ...), in a bundle that also holds the system's own authorities;
- apps: for each routed name, a function from a Request to an Answer (or None
  when it wrote the answer itself, as a hostile server does).
"""

from __future__ import annotations

import email.message
import functools
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme

AZURE_HOSTS = (
    "dev.azure.com",
    "feeds.dev.azure.com",
    "pkgs.dev.azure.com",
    "vssps.dev.azure.com",
)
# Where Azure DevOps sends a client it does not take: its sign-in page, which
# every network here answers (a client that follows the redirect gets HTML).
SIGN_IN_HOSTS = (
    "spsprodcca1.vssps.visualstudio.com",
    "spsprodweu5.vssps.visualstudio.com",
)
SIGN_IN_PAGE = (
    b"<html><head><title>Azure DevOps Services | Sign In</title></head></html>"
)
# Other names a test may answer: PyPI, and an Azure DevOps Server's.
OTHER_NAMES = ("pypi.org", "devops.contoso.test", *SIGN_IN_HOSTS)
# Microsoft's hosts that no test answers: a CONNECT to one is a finding.
NEVER_REACHED = (".azure.com", ".visualstudio.com", ".microsoftonline.com",
                 ".microsoft.com", "azure.com", ".windows.net",
                 ".contoso.test")  # fmt: skip
# The variables through which clients trust certificate authorities.
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO")  # fmt: skip
IDLE_SECONDS = 120  # a tunnel with no traffic for this long is closed


@functools.cache
def authority() -> tuple[trustme.CA, trustme.LeafCert]:
    """The test's certificate authority and the certificate of every name."""
    ca = trustme.CA(organization_name="cookiecutter-azure-pylib tests")
    return ca, ca.issue_cert(*AZURE_HOSTS, *OTHER_NAMES)


def system_authorities() -> bytes:
    """The system's CA bundle, which trusts PyPI (and this machine's proxy)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    import certifi  # pip's and requests' own, where the system has none

    return Path(certifi.where()).read_bytes()


@dataclass
class Request:
    method: str
    host: str
    target: str  # the path and query, as sent
    headers: email.message.Message
    body: bytes
    handler: BaseHTTPRequestHandler  # for an app that answers by itself

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.target).query).items()}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reason: str | None = None

    @classmethod
    def json(cls, status: int, text: str, *headers: tuple[str, str]) -> Answer:
        content = [("Content-Type", "application/json; charset=utf-8")]
        return cls(status, text.encode(), [*content, *headers])


App = Callable[[Request], "Answer | None"]


class Dispatcher(BaseHTTPRequestHandler):
    server: TLSServer

    def log_message(self, *args: object) -> None:
        pass

    def dispatch(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away in the middle
            self.close_connection = True
            return
        app = self.server.apps.get(host)
        if app is None:
            answer: Answer | None = Answer(421, b"no app answers this host here")
        else:
            answer = app(
                Request(self.command, host, self.path, self.headers, body, self)
            )
        if answer is not None:
            self.send(answer)

    def send(self, answer: Answer) -> None:
        self.send_response(answer.status, answer.reason)
        for name, value in answer.headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in answer.headers):
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch


class TLSServer(ThreadingHTTPServer):
    """Answers every routed name; the TLS handshake happens in the request's thread."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, apps: dict[str, App]) -> None:
        super().__init__(("127.0.0.1", 0), Dispatcher)
        self.context, self.apps = context, apps

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        request.settimeout(IDLE_SECONDS)
        try:
            secured = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(secured, client_address, self)
        except OSError:  # the client went away
            pass


def pump(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until a side closes, or nothing moves for a while."""
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], IDLE_SECONDS)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                (other if source is one else one).sendall(data)
            except OSError:
                return


class Tunnel(socketserver.BaseRequestHandler):
    server: Proxy

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(IDLE_SECONDS)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            try:
                chunk = client.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            head += chunk
        method, _, rest = head.decode("latin-1").partition(" ")
        target = rest.split(" ", 1)[0]
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        host = host.strip("[]").lower()
        self.server.connects.append(host)
        if host in self.server.network.apps:
            destination = ("127.0.0.1", self.server.network.tls_port)
        elif host.endswith(NEVER_REACHED) or host in NEVER_REACHED:
            self.server.refused.append(host)
            client.sendall(b"HTTP/1.1 502 Not routed in this test\r\n\r\n")
            return
        else:
            destination = (host, int(port or 443))
        try:
            upstream = socket.create_connection(destination, timeout=30)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Unreachable\r\n\r\n")
            return
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            pump(client, upstream)


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, network: Network) -> None:
        super().__init__(("127.0.0.1", 0), Tunnel)
        self.network = network
        self.connects: list[str] = []
        self.refused: list[str] = []


@dataclass
class Network:
    """The routed names of one test, the proxy and the TLS server."""

    folder: Path
    apps: dict[str, App] = field(default_factory=dict)
    tls_port: int = 0
    proxy: Proxy | None = None

    def route(self, host: str, app: App) -> None:
        self.apps[host] = app

    @property
    def bundle(self) -> Path:
        return self.folder / "ca-bundle.pem"

    @property
    def connects(self) -> list[str]:
        assert self.proxy
        return self.proxy.connects

    @property
    def refused(self) -> list[str]:
        assert self.proxy
        return self.proxy.refused

    def env(self) -> dict[str, str]:
        """What a client's environment needs to reach the routed names."""
        assert self.proxy
        proxy = f"http://127.0.0.1:{self.proxy.server_address[1]}"
        local = "127.0.0.1,localhost"
        return {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": local,
            "no_proxy": local,
            **{name: str(self.bundle) for name in CA_VARIABLES},
        }


def without_network_settings(env: dict[str, str]) -> dict[str, str]:
    """`env` without proxies or CA bundles, which Network.env() provides."""
    names = {n.lower() for n in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")}
    return {
        k: v for k, v in env.items() if k.lower() not in names and k not in CA_VARIABLES
    }


def serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


@contextmanager
def azure_network(folder: Path) -> Iterator[Network]:
    """A network for one test: route names with `route`, give clients `env()`."""
    ca, leaf = authority()
    folder.mkdir(parents=True, exist_ok=True)
    network = Network(folder)
    network.bundle.write_bytes(system_authorities() + b"\n" + ca.cert_pem.bytes())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    tls = TLSServer(context, network.apps)
    network.tls_port = tls.server_address[1]
    network.proxy = Proxy(network)
    for host in SIGN_IN_HOSTS:
        network.route(host, lambda request: Answer(200, SIGN_IN_PAGE))
    threads = [serve(tls), serve(network.proxy)]
    try:
        yield network
    finally:
        for server in (network.proxy, tls):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=10)
