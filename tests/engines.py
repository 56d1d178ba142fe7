"""Real engines for the tests: a Docker engine with BuildKit, base images of the
names the generated Dockerfile starts from, and CPython 3.14 and 3.15.

A machine whose `docker version` answers (DOCKER_HOST, or the default socket)
is used as it is. Elsewhere, as root, the engine comes from Debian's own
packages: Debian 12's docker.io is too old for `RUN --mount=type=secret,env=`,
so the docker.io, containerd and docker-buildx packages of Debian unstable are
downloaded with a private apt configuration (the system's sources stay as they
are), unpacked without installing, and run with Debian 12's runc, with paths
of their own. No registry is reachable from the tests' machines, so a base
image such as `python:3.11-slim-trixie` is a Debian root file system made with
debootstrap (its python3 is the version the tag names) and imported under that
name. CPython 3.14 and 3.15 are Debian unstable's own builds, which need its
C library: they run in a root file system of Debian unstable, entered with
chroot in a mount namespace of its own (the tests' machines are root).
Packages, the engine's data and the root file systems are cached under
~/.cache/cookiecutter-azure-pylib/engines and reused by the next run; a lock
lets parallel test processes make each of them once.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.index_server import stop

CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "cookiecutter-azure-pylib"
    / "engines"
)
ENGINE_PACKAGES = ["docker.io/sid", "containerd/sid", "docker-buildx/sid"]
# The Debian release whose python3 is the version a python:X.Y-slim-* tag names.
SUITE_OF_PYTHON = {"3.11": "bookworm", "3.13": "trixie"}
# The Pythons of Debian unstable the tests run projects on.
UNSTABLE_PYTHONS = ("3.14", "3.15")
STARTUP_TIMEOUT = 60.0
# One engine per test process (a pytest-xdist worker), each with data of its own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@dataclass(frozen=True)
class Docker:
    env: dict[str, str]  # os.environ with the engine's DOCKER_HOST and DOCKER_CONFIG

    def run(self, *arguments: str, check: bool = True, **options):
        options.setdefault("env", self.env)
        result = subprocess.run(["docker", *arguments], capture_output=True, **options)
        if check and result.returncode:
            raise AssertionError(
                f"docker {' '.join(arguments)} failed ({result.returncode}):\n"
                f"{result.stdout!r}\n{result.stderr!r}"
            )
        return result

    def answers(self) -> bool:
        """Whether the engine answers, with the buildx plugin, within seconds."""
        try:
            ready = self.run("version", check=False, timeout=20)
            buildx = self.run("buildx", "version", check=False, timeout=20)
        except subprocess.TimeoutExpired:
            return False
        return ready.returncode == 0 and buildx.returncode == 0

    def base_image(self, python: str) -> str:
        """`python:<python>-slim-trixie`, made locally unless the engine has it."""
        tag = f"python:{python}-slim-trixie"
        if self.run("image", "inspect", tag, check=False).returncode:
            with open(root_file_system(SUITE_OF_PYTHON[python]), "rb") as archive:
                self.run("import", "-", tag, stdin=archive)
        return tag


def debian_mirror() -> str:
    """The Debian mirror the machine's own apt sources name."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt").glob("**/*.sources")]
    for source in sources:
        if source.is_file():
            text = source.read_text()
            found = re.search(
                r"^(?:URIs:|deb(?: \[[^]]*\])?)\s*(\S+/debian)\s", text, re.M
            )
            if found:
                return found.group(1)
    raise RuntimeError("No Debian mirror in the apt sources of this machine")


def apt(*arguments: str) -> None:
    subprocess.run(
        ["apt-get", "-q", "-o", "Dpkg::Use-Pty=0", *arguments],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def ensure_tools(*programs: str) -> None:
    """Debian 12's own packages of these programs, installed if missing."""
    missing = [program for program in programs if not shutil.which(program)]
    if missing:
        apt("update")
        apt("install", "-y", "--no-install-recommends", *missing)


@contextmanager
def locked(name: str) -> Iterator[None]:
    """One test process at a time makes the cached thing `name`."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def engine_files() -> Path:
    """docker.io, containerd and docker-buildx of Debian unstable, unpacked."""
    with locked("docker-root"):
        return unpacked_engine_files()


def unpacked_engine_files() -> Path:
    root = CACHE / "docker-root"
    if (root / "usr" / "sbin" / "dockerd").exists():
        return root
    state = CACHE / "apt"
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    sources.write_text(f"deb [signed-by={keyring}] {debian_mirror()} sid main\n")
    private = [
        "-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state}",
        "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip
    apt(*private, "update")
    downloads = Path(tempfile.mkdtemp(dir=CACHE))
    subprocess.run(
        ["apt-get", "-q", *private, "download", *ENGINE_PACKAGES],
        cwd=downloads,
        check=True,
        capture_output=True,
    )
    unpacked = Path(tempfile.mkdtemp(dir=CACHE))
    for package in downloads.glob("*.deb"):
        subprocess.run(["dpkg-deb", "-x", package, unpacked], check=True)
    shutil.rmtree(downloads)
    unpacked.rename(root)
    return root


def root_file_system(suite: str) -> Path:
    """A tar of a minimal Debian `suite` with python3 (as `python`), venv and pip."""
    with locked(f"{suite}-python"):
        return packed_root_file_system(suite)


def packed_root_file_system(suite: str) -> Path:
    archive = CACHE / "images" / f"{suite}-python.tar"
    if archive.exists():
        return archive
    ensure_tools("debootstrap")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent) as scratch:
        tree = Path(scratch, suite)
        include = "--include=python3,python3-venv,python3-pip"
        subprocess.run(
            ["debootstrap", "--variant=minbase", include, suite, tree, debian_mirror()],
            check=True,
            capture_output=True,
        )
        (tree / "usr" / "bin" / "python").symlink_to("python3")
        partial = archive.with_suffix(".partial")
        subprocess.run(["tar", "-C", tree, "-cf", partial, "."], check=True)
        partial.rename(archive)
    return archive


@contextmanager
def docker_engine() -> Iterator[Docker]:
    """The machine's Docker engine, or one started here for the duration."""
    existing = Docker(dict(os.environ))
    if shutil.which("docker") and existing.answers():
        yield existing
        return
    if os.geteuid() != 0:
        raise RuntimeError("No Docker engine answers, and starting one needs root")
    ensure_tools("runc")
    root = engine_files()
    # A short folder: the engine's sockets live there, and socket paths are short.
    runtime = Path(tempfile.mkdtemp(prefix="dk", dir="/tmp"))
    config = runtime / "config"
    (config / "cli-plugins").mkdir(parents=True)
    plugin = config / "cli-plugins" / "docker-buildx"
    shutil.copy(
        root / "usr" / "libexec" / "docker" / "cli-plugins" / "docker-buildx", plugin
    )
    binaries = os.pathsep.join([str(root / "usr" / "bin"), str(root / "usr" / "sbin")])
    env = {
        **os.environ,
        "PATH": binaries + os.pathsep + os.environ["PATH"],
        "DOCKER_HOST": f"unix://{runtime}/docker.sock",
        "DOCKER_CONFIG": str(config),
    }
    data = CACHE / f"docker-data-{WORKER}"
    log = (runtime / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        [
            root / "usr" / "sbin" / "dockerd",
            "--data-root", data,
            "--exec-root", runtime / "exec",
            "--pidfile", runtime / "dockerd.pid",
            "--host", env["DOCKER_HOST"],
            "--iptables=false", "--ip6tables=false",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    engine = Docker(env)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not engine.answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "dockerd did not start:\n" + (runtime / "dockerd.log").read_text()
                )
            time.sleep(0.5)
        yield engine
    finally:
        stop(daemon, timeout=30)
        # dockerd mounts its data folder on itself; one that failed may leave it.
        subprocess.run(["umount", data], capture_output=True)
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)


def unstable_root() -> Path:
    """Debian unstable with python3.14, python3.15, their venv modules and git."""
    if os.geteuid() != 0:
        raise RuntimeError(
            "Debian unstable's Pythons run with chroot, which needs root"
        )
    root = CACHE / "unstable-pythons"
    with locked("unstable-pythons"):
        if (root / "usr" / "bin" / "python3.15").exists():
            return root
        ensure_tools("debootstrap")
        packages = [
            f"python{p}{suffix}" for p in UNSTABLE_PYTHONS for suffix in ("", "-venv")
        ]
        include = "--include=" + ",".join([*packages, "git", "ca-certificates"])
        with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
            tree = Path(scratch, "root")
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    include,
                    "sid",
                    tree,
                    debian_mirror(),
                ],
                check=True,
                capture_output=True,
            )
            tree.rename(root)
    return root


def run_in_unstable(
    project: Path, python: str, tools: list[str], *command: str
) -> subprocess.CompletedProcess[str]:
    """`command` in a copy of `project` in Debian unstable, from a virtual
    environment of python`python` holding `tools` (pip installs them from PyPI,
    trusting the machine's certificates). The project's folder name is kept."""
    root = unstable_root()
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    certificates = "/etc/ssl/certs/host-certificates.crt"
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", f"{root}{certificates}")
    (root / "work").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root / "work"))
    inside = Path("/work", work.name)
    try:
        shutil.copytree(project, work / project.name, symlinks=True)
        venv = inside / "tools"
        script = " && ".join(
            [
                f"python{python} -m venv {venv}",
                f"{venv}/bin/pip install --quiet " + " ".join(map(shlex.quote, tools)),
                f"cd {inside / project.name}",
                " ".join([f"{venv}/bin/{command[0]}", *map(shlex.quote, command[1:])]),
            ]
        )
        clean = [
            "/usr/bin/env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root",
            "LANG=C.UTF-8", f"PIP_CERT={certificates}", f"SSL_CERT_FILE={certificates}",
            "UV_SYSTEM_CERTS=1", "PIP_DISABLE_PIP_VERSION_CHECK=1",
        ]  # fmt: skip
        # In a mount namespace of its own: the mounts go when the command ends.
        enter = (
            'mount --bind /dev "$0/dev" && mount -t proc proc "$0/proc"'
            ' && exec chroot "$0" "$@"'
        )
        return subprocess.run(
            ["unshare", "--mount", "--fork", "sh", "-c", enter, root,
             *clean, "/bin/sh", "-c", script],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    finally:
        with suppress(OSError):
            shutil.rmtree(work)
