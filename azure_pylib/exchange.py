"""One HTTP exchange with a deadline on all of it, and masks for secrets.

`exchange()` sends a request and reads its answer within one deadline, whatever
the server does: connecting, sending, the status line, the headers and the body
all count, and a watchdog closes the connection when the time is up (a server
that sends one byte a second never trips a per-read timeout). At most `limit`
bytes of the body are read. It goes through the proxy that HTTPS_PROXY /
HTTP_PROXY name (NO_PROXY honoured), as urllib, pip and twine do, and trusts
the certificate authorities that SSL_CERT_FILE / SSL_CERT_DIR or the system
name.

`masked()` hides every form a secret takes in a text: as typed, percent-quoted
as URLs and requests quote it, JSON- and HTML-escaped, and inside the base64 of
a Basic Authorization header, whatever precedes it there.
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

ANSWER_LIMIT = 1_000_000  # bytes of an answer's body that are read, at most
URL_SAFE = "!#$&'()*+,/:;=?@[]~"  # what requests leaves unquoted in a URL
SHORTEST_SECRET = 4  # shorter strings are not masked: they are not credentials


class NoAnswer(Exception):
    """No answer: the reason, in words fit for a sentence (no secret in them)."""

    def __init__(self, reason: str, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def proxy_for(scheme: str, host: str) -> urllib.parse.SplitResult | None:
    """The proxy the environment names for `host`, if any (as urllib finds it)."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    return urllib.parse.urlsplit(proxy)


def proxy_authorization(proxy: urllib.parse.SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def connection(
    url: urllib.parse.SplitResult, timeout: float
) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """The connection for `url` (through its proxy), the request target, and
    headers for the proxy."""
    host = url.hostname or ""
    secure = url.scheme == "https"
    port = url.port or (443 if secure else 80)
    target = url.path or "/"
    if url.query:
        target += "?" + url.query
    proxy = proxy_for(url.scheme, host)
    if secure:
        context = ssl.create_default_context()
        if proxy is None:
            return (
                http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=context
                ),
                target,
                {},
            )
        tunnel = http.client.HTTPSConnection(
            proxy.hostname or "", proxy.port or 80, timeout=timeout, context=context
        )
        tunnel.set_tunnel(host, port, headers=proxy_authorization(proxy))
        return tunnel, target, {}
    if proxy is None:
        return http.client.HTTPConnection(host, port, timeout=timeout), target, {}
    absolute = urllib.parse.urlunsplit(("http", f"{host}:{port}", target, "", ""))
    plain = http.client.HTTPConnection(
        proxy.hostname or "", proxy.port or 80, timeout=timeout
    )
    return plain, absolute, proxy_authorization(proxy)


def abort(connection: http.client.HTTPConnection) -> None:
    """Close the connection under whatever is reading it (the deadline passed)."""
    sock = connection.sock
    if sock is not None:
        try:  # the plain socket's shutdown: a TLS one would touch its state
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


def exchange(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    *,
    deadline: float,
    limit: int = ANSWER_LIMIT,
) -> Answer:
    """Send one request; its answer, all read by `deadline` (time.monotonic()).

    Redirects are answers (a sign-in page is one): nothing is followed.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NoAnswer("the address is not an http or https URL")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise NoAnswer("no time was left to ask", timed_out=True)
    link, target, proxy_headers = connection(parts, remaining)
    watchdog = threading.Timer(remaining, abort, [link])
    watchdog.daemon = True
    watchdog.start()
    try:
        link.request(method, target, body, {**proxy_headers, **(headers or {})})
        response = link.getresponse()
        content = response.read(limit)
        return Answer(
            response.status,
            response.reason,
            {name.lower(): value for name, value in response.getheaders()},
            content,
        )
    except (OSError, http.client.HTTPException, ValueError) as error:
        if time.monotonic() >= deadline - 0.05:
            raise NoAnswer("no whole answer in time", timed_out=True) from None
        raise NoAnswer(reason_of(error)) from None
    finally:
        watchdog.cancel()
        link.close()


def reason_of(error: BaseException) -> str:
    """Why a connection failed, in a few words without any of the request."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({error.verify_message})"
    if isinstance(error, socket.gaierror):
        return "its name does not resolve (no network, or a typo in the host)"
    if isinstance(error, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(error, (ConnectionResetError, http.client.RemoteDisconnected)):
        return "the connection was closed before an answer"
    if isinstance(error, OSError) and "Tunnel connection failed" in str(error):
        return f"the proxy refused to connect ({str(error).split(':', 1)[-1].strip()})"
    if isinstance(error, TimeoutError):
        return "it did not answer in time"
    return type(error).__name__


def base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that encode `secret` and nothing else, at each of
    the three alignments it can have inside a longer base64 text."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret + b"\0\0").decode()
        start = -(-offset * 4 // 3)  # characters that hold a leading filler bit
        end = (offset + len(secret)) * 4 // 3  # ... and that hold none after it
        cores.add(encoded[start:end])
    return cores


def forms(secret: str) -> set[str]:
    """Every way `secret` can appear in a text a client or server prints."""
    found = {secret, secret.strip(), unquote(secret), quote(secret, safe="")}
    found |= {quote(secret, safe=URL_SAFE), quote(secret, safe=URL_SAFE + "%")}
    found |= {json.dumps(secret)[1:-1], html.escape(secret)}
    for text in list(found):
        try:
            found |= base64_cores(text.encode("latin-1"))
        except UnicodeEncodeError:
            pass
        found |= base64_cores(text.encode("utf-8"))
    return {form for form in found if len(form) >= SHORTEST_SECRET}


def masked(text: str, secrets: set[str] | list[str] | tuple[str, ...]) -> str:
    """`text` with every form of every secret replaced by ***."""
    every = set()
    for secret in secrets:
        if secret and len(secret.strip()) >= SHORTEST_SECRET:
            every |= forms(secret)
    for form in sorted(every, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
