"""A real package index on 127.0.0.1 standing in for an Azure Artifacts feed.

pypiserver with password authentication on every action, like a private feed,
and PyPI as the fallback for packages it does not hold, like the feed's
upstream source. Each server is started and stopped by the test that uses it.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
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
TEMPLATE = Path(__file__).resolve().parent.parent


@functools.cache
def template_tools() -> Path:
    """The wheel of the template's tools, cookiecutter-azure-pylib, as the
    template's release publishes it to the feed: built once by each process."""
    folder = Path(tempfile.mkdtemp(prefix="template-tools-"))
    build = [
        sys.executable,
        "-m",
        "hatchling",
        "build",
        "-t",
        "wheel",
        "-d",
        str(folder),
    ]
    subprocess.run(build, cwd=TEMPLATE, check=True, capture_output=True)
    (wheel,) = folder.glob("*.whl")
    return wheel


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
        """Names of the distribution files the index holds, but the template's
        tools (template_tools)."""
        tools = template_tools().name
        return sorted(p.name for p in self.packages.iterdir() if p.name != tools)

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
    workdir: Path, *, fallback_to_pypi: bool = True, tools: bool = True
) -> Iterator[IndexServer]:
    """Start pypiserver on a free loopback port; stop it on exit. With `tools`,
    it holds the template's tools, as a feed does once the template is released."""
    packages = workdir / "index-packages"
    packages.mkdir(parents=True)
    if tools:
        shutil.copy2(template_tools(), packages)
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
