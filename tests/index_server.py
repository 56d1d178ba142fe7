"""A real package index on 127.0.0.1 standing in for an Azure Artifacts feed.

pypiserver with password authentication on every action, like a private feed,
and PyPI as the fallback for packages it does not hold, like the feed's
upstream source. Each server is started and stopped by the test that uses it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from passlib.apache import HtpasswdFile

PYPI = "https://pypi.org/simple/"
STARTUP_TIMEOUT = 20.0


@dataclass(frozen=True)
class IndexServer:
    root: str  # http://127.0.0.1:PORT
    username: str
    password: str
    packages: Path

    @property
    def simple_url(self) -> str:
        return f"{self.root}/simple/"

    @property
    def upload_url(self) -> str:
        return f"{self.root}/"

    @property
    def authenticated_simple_url(self) -> str:
        host = self.root.removeprefix("http://")
        return f"http://{self.username}:{self.password}@{host}/simple/"

    def files(self) -> list[str]:
        """Names of the distribution files the index holds."""
        return sorted(path.name for path in self.packages.iterdir())

    def files_holding_the_password(self, *folders: Path) -> list[str]:
        """Every file below `folders` that contains the password."""
        secret = self.password.encode()
        return [
            str(path)
            for folder in folders
            for path in folder.rglob("*")
            if path.is_file() and secret in path.read_bytes()
        ]


def isolated_environment(**variables: str) -> dict[str, str]:
    """os.environ without any pip, uv or twine settings, plus `variables`.

    The machine may have a global pip config (extra indexes, find-links,
    constraints); tests that choose their index must not depend on it.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PIP_", "UV_", "TWINE_", "NOX_"))
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(variables)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pypiserver exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"pypiserver did not answer on {url} in {STARTUP_TIMEOUT} s")


@contextmanager
def running_index_server(
    workdir: Path, *, fallback_to_pypi: bool = True
) -> Iterator[IndexServer]:
    """Start pypiserver on a free loopback port; stop it on exit."""
    packages = workdir / "index-packages"
    packages.mkdir(parents=True)
    username, password = "build", secrets.token_urlsafe(24)
    htpasswd = HtpasswdFile(str(workdir / "index-htpasswd"), new=True)
    htpasswd.set_password(username, password)
    htpasswd.save()

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "pypiserver",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--authenticate",
        "download,list,update",
        "--passwords",
        htpasswd.path,
        "--backend",
        "simple-dir",
        "--log-stream",
        "none",
        *(["--fallback-url", PYPI] if fallback_to_pypi else ["--disable-fallback"]),
        str(packages),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        root = f"http://127.0.0.1:{port}"
        wait_until_healthy(f"{root}/health", process)
        yield IndexServer(root, username, password, packages)
    finally:
        stop(process, timeout=10)


def stop(process: subprocess.Popen, timeout: float) -> None:
    """Ask a server to stop; kill it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
