"""Build a CPython new enough for every minimum_python choice, once, for tests.

    python tests/newer_python.py        # prints the interpreter's path

A project baked for Python 3.12+ only goes green on a Python that new. Machines
without one, and without python.org or GitHub to download one, still reach
Debian's archive: its source package of CPython carries the upstream tarball.
The build lands in ~/.cache/cookiecutter-azure-pylib/ and is reused after that.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
ARCHIVE = "http://deb.debian.org/debian"
SUITES = ["sid", "forky", "trixie"]  # newest first; a mirror may lack some files
CACHE = Path.home() / ".cache" / "cookiecutter-azure-pylib"
BUILT = "build-finished"


def wanted_pythons() -> list[str]:
    """The minimum_python choices above the running Python, highest first: the
    highest one that can be built runs the bakes of every choice up to it."""
    choices = json.loads((TEMPLATE / "cookiecutter.json").read_text())
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    return [p for p in reversed(choices["minimum_python"]) if p > running]


def upstream_tarballs(python: str, sources: str) -> list[tuple[str, str]]:
    """URL and SHA-256 of each upstream tarball of `python` in one of Debian's
    source indexes (a paragraph per source package version), newest first."""
    found: list[tuple[tuple[int, ...], str, str]] = []
    for paragraph in sources.split("\n\n"):
        if not re.search(rf"^Package: python{re.escape(python)}$", paragraph, re.M):
            continue
        directory = re.search(r"^Directory: (\S+)", paragraph, re.M)
        checksums = re.search(r"^Checksums-Sha256:\n((?: .*\n?)+)", paragraph, re.M)
        if not directory or not checksums:
            continue
        tarball = rf"python{re.escape(python)}_([\d.]+)\.orig\.tar\.xz"
        for digest, _, name in re.findall(r" (\w+) (\d+) (\S+)", checksums[1]):
            if match := re.fullmatch(tarball, name):
                version = tuple(int(part) for part in match[1].split("."))
                found.append((version, f"{ARCHIVE}/{directory[1]}/{name}", digest))
    return [(url, digest) for _, url, digest in sorted(found, reverse=True)]


def download(url: str, digest: str | None = None) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        data: bytes = response.read()
    if digest and hashlib.sha256(data).hexdigest() != digest:
        raise SystemExit(f"{url}: SHA-256 differs from Debian's source index")
    return data


def build(tarball: bytes, prefix: Path) -> None:
    """Configure, compile and install a CPython source tarball into `prefix`;
    the compiler's chatter goes to prefix/build.log."""
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as scratch, open(
        prefix / "build.log", "w"
    ) as log:
        with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
            archive.extractall(scratch, filter="data")
        (source,) = [p for p in Path(scratch).iterdir() if p.is_dir()]
        steps = [
            ["./configure", f"--prefix={prefix}"],
            ["make", f"-j{os.cpu_count() or 1}"],
            ["make", "altinstall"],
        ]
        for step in steps:
            if subprocess.run(step, cwd=source, stdout=log, stderr=log).returncode:
                raise SystemExit(f"{' '.join(step)} failed: see {prefix / 'build.log'}")
    (prefix / BUILT).touch()  # only a finished build is ever used


def built(python: str) -> Path:
    return CACHE / f"cpython-{python}"


def on_path(python: str) -> Path | None:
    """python3.X from PATH, if it starts (a pyenv shim may not)."""
    found = shutil.which(f"python{python}")
    runs = found and subprocess.run([found, "-c", ""], stderr=subprocess.DEVNULL)
    return Path(found) if runs and runs.returncode == 0 else None


def newer_python(build_one: bool = True) -> Path | None:
    """The highest wanted Python on PATH or built before, else (`build_one`)
    built now from the newest tarball Debian's archive serves; or None."""
    pythons = wanted_pythons()
    for python in pythons:
        if found := on_path(python):
            return found
        if (built(python) / BUILT).exists():
            return built(python) / "bin" / f"python{python}"
    if not build_one:
        return None
    indexes = [
        lzma.decompress(download(f"{ARCHIVE}/dists/{suite}/main/source/Sources.xz"))
        for suite in SUITES
    ]
    for python in pythons:
        for sources in indexes:
            for url, digest in upstream_tarballs(python, sources.decode()):
                try:
                    tarball = download(url, digest)
                except urllib.error.HTTPError:
                    continue  # listed, but not on this mirror
                build(tarball, built(python))
                return built(python) / "bin" / f"python{python}"
    return None


if __name__ == "__main__":
    # The tests that need it skip, saying why, when there is none: a failure
    # here must not stop the rest of the suite.
    try:
        print(newer_python() or "No newer Python: Debian's archive serves none here")
    except (OSError, SystemExit, lzma.LZMAError, tarfile.TarError) as error:
        print(f"No newer Python for the tests: {error}")
