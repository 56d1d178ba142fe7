"""python -m azure_pylib publish [--allow-dev] [--dev-only] [--tag vX.Y.Z]
[--timeout SECONDS] FILE...: a release's files onto the feed, read back.

1. The release, from the files' names: refused, with the fix, for a local
   version segment (Azure Artifacts rejects one), a version that is not the
   tag's (--tag), a development version unless --allow-dev or --dev-only;
   with --dev-only a release is passed over (main publishes development
   versions, its tag the release). Uncommitted changes are refused too.
2. Where: TWINE_REPOSITORY_URL (twine's own variable), else the feed that
   [tool.azure-artifacts] of pyproject.toml names; a /simple/ (install)
   endpoint given by mistake is named as such.
3. What the feed holds already, read first: a file it lists with the hash
   built here is not uploaded again (so running again completes a partial
   release, and a whole one is said to be whole); one it lists with another
   hash stops everything, for versions are immutable.
4. Each missing file is one `twine upload` (twine's command line), tried
   again while the feed is busy (429, 5xx, a broken connection), waiting longer
   each time, within --timeout. A 409 after a try that failed is that try's
   file (the read-back decides).
5. The read-back: the feed's page of the project, asked again while it does
   not list every file with its hash yet, within --timeout. An upload the feed
   answered but a listing that is a sign-in page is "not confirmed", never
   "not published".

Prints one sentence on stdout (progress on stderr) holding no credential in any
form. Exit status 0 when the feed holds the release whole, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from azure_pylib.exchange import masked
from azure_pylib.feed import (
    ASK_SECONDS,
    Login,
    Problem,
    ask,
    canonical,
    links,
    login_for,
    on_azure_devops,
    page_of,
    project_of,
    public,
    refusal,
)

PAUSES = (1, 2, 4, 8, 15, 30)  # seconds before each new try of a busy feed
OUTPUT_LIMIT = 64 * 1024  # characters of twine's output that are looked at
BUSY = {"429", "5xx", "broken"}
# twine's words (its error lines and the requests errors it prints) -> outcome.
OUTCOMES = [
    ("metadata", r"Metadata version '[^']*' is unsupported"),
    ("exists", r"HTTPError: 409 |already (?:exists|contains)"),
    ("redirect", r"RedirectDetected"),
    ("429", r"HTTPError: 429 "),
    ("5xx", r"HTTPError: 5\d\d "),
    ("refused", r"HTTPError: 40[13] "),
    ("tls", r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError"),
    ("unreachable", r"NameResolutionError|Failed to resolve|Connection refused"),
    ("broken", r"ConnectionError|Connection aborted|RemoteDisconnected|reset by peer"
     r"|ProtocolError|ChunkedEncodingError|SSLError|Read timed out"),  # fmt: skip
    ("http", r"HTTPError: \d\d\d "),
]


@dataclass
class Release:
    name: str
    version: str
    files: list[Path]


def release_of(files: list[Path]) -> Release:
    """The one release the built files are (wheels and sdists, by their names)."""
    found = set()
    for file in files:
        if file.name.endswith(".whl"):
            name, version = file.name.split("-")[:2]
        elif file.name.endswith(".tar.gz"):
            name, _, version = file.name.removesuffix(".tar.gz").rpartition("-")
        else:
            raise Problem(f"{file.name} is neither a wheel nor an sdist: nox -s build")
        found.add((canonical(name), version))
    if len(found) != 1:
        raise Problem(
            f"The files are {len(found) or 'no'} releases, not one: build afresh"
            " (nox -s build empties dist/)"
        )
    ((name, version),) = found
    return Release(name, version, sorted(files))


def version_problem(version: str, options: argparse.Namespace) -> str | None:
    """Why this version must not be published, or None."""
    if "+" in version:
        return f"{version} has a local version segment, which Azure Artifacts rejects"
    if options.tag is not None and options.tag.removeprefix("v") != version:
        return f"The tag {options.tag} does not match the built version {version}"
    if re.search(r"dev\d*$", version) and not (options.allow_dev or options.dev_only):
        return (
            f"{version} is a development version: release from a tag (git tag"
            f" v{version.split('.dev')[0]}), or publish it with: nox -s publish --"
            " --allow-dev"
        )
    return None


def uncommitted() -> bool:
    if not Path(".git").exists():
        return False
    status = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=60
    )
    return bool(status.stdout.strip())


def upload_url(env: dict[str, str]) -> str:
    given = env.get("TWINE_REPOSITORY_URL")
    url = given or project_of()[1].url("upload")
    if re.search(r"/simple/?$", public(url)):
        raise Problem(
            f"{public(url)} is the feed's install endpoint (/simple/): uploads go to"
            " its /upload/ endpoint" + (" (TWINE_REPOSITORY_URL)" if given else "")
        )
    return url


def digest_matches(file: Path, hashes: dict[str, str]) -> bool | None:
    """Whether a listed file is this one, by any hash both sides have; None
    when the listing gives no hash to compare."""
    for algorithm, listed in hashes.items():
        if algorithm in hashlib.algorithms_guaranteed:
            return hashlib.new(algorithm, file.read_bytes()).hexdigest() == listed
    return None


def held(
    page: str, login: Login | None, files: list[Path], deadline: float
) -> dict[str, str] | str:
    """{file name: "same" or "different"} of the built files the feed lists,
    or why its answer is no listing."""
    answer = ask(page, login, min(ASK_SECONDS, deadline - time.monotonic()))
    if (
        not isinstance(answer, str)
        and answer.status == 404
        and "The feed with ID" not in answer.text
    ):
        return {}  # no version of the project yet
    if problem := refusal(answer, login):
        return problem
    assert not isinstance(answer, str)
    listed = links(answer.text)
    found = {}
    for file in files:
        if file.name in listed:
            same = digest_matches(file, listed[file.name]) is not False
            found[file.name] = "same" if same else "different"
    return found


@dataclass
class Try:
    outcome: str  # "sent", "exists", "429", "5xx", "broken", "refused", ...
    said: str  # the last lines of twine's output, credentials masked
    tries: int = 1


def outcome_of(status: int, output: str) -> str:
    if status == 0:
        return "sent"
    for outcome, pattern in OUTCOMES:
        if re.search(pattern, output):
            return outcome
    return "failed"


def twine(file: Path, url: str, login: Login, seconds: float) -> tuple[int, str]:
    """One `twine upload` of `file`: its exit status and output."""
    env = {
        **os.environ,
        "TWINE_USERNAME": login.user,
        "TWINE_PASSWORD": login.password,
        "NO_COLOR": "1",
        "COLUMNS": "1000",  # rich wraps long lines otherwise
    }
    env.pop("TWINE_REPOSITORY_URL", None)
    command = [sys.executable, "-m", "twine", "upload", "--non-interactive"]
    command += ["--disable-progress-bar", "--repository-url", public(url), str(file)]
    try:
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=max(seconds, 1),
        )
    except subprocess.TimeoutExpired:
        return -1, "timeout"
    return done.returncode, (done.stdout + done.stderr)[-OUTPUT_LIMIT:]


def upload(file: Path, url: str, login: Login, deadline: float) -> Try:
    """One file, tried again with growing pauses while the feed is busy."""
    last = Try("timeout", "", 0)
    for tries, pause in enumerate([*PAUSES, None], start=1):
        status, output = twine(file, url, login, deadline - time.monotonic())
        if status == -1:
            return last if last.tries else Try("timeout", "", tries)
        found = outcome_of(status, output)
        if found == "exists" and last.outcome in BUSY - {"429"}:
            found = "sent"  # the try that failed stored it (the read-back confirms)
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        last = Try(found, masked("\n".join(lines[-6:]), login.secrets), tries)
        if found not in BUSY or pause is None or time.monotonic() + pause > deadline:
            return last
        print(f"{file.name}: {found}, again in {pause} s", file=sys.stderr, flush=True)
        time.sleep(pause)
    return last


def failure(attempt: Try, shown: str, timeout: float) -> str:
    """The sentence for an upload that did not go through."""
    said, code = attempt.said, attempt.outcome
    if metadata := re.search(r"Metadata version '([^']*)' is unsupported", said):
        return (
            f"{shown} refuses Metadata-Version {metadata[1]}: keep"
            ' core-metadata-version = "2.1" in pyproject.toml (wheel, sdist)'
        )
    if code == "redirect" and "_signin" in said:
        code = "refused"
    if code == "refused":  # the same credential read the feed just before
        return (
            f"{shown} refused the upload ({reason(said)}) with a credential that"
            " reads the feed: it may not write (a PAT without Packaging > Read &"
            " write, a session token made for reading, as artifacts-keyring-nofuss"
            " makes, or an identity without Feed Publisher) or it has just expired;"
            " set TWINE_PASSWORD to a PAT that may write, or az login and set no index"
        )
    if code == "redirect":
        return (
            f"{shown} redirects uploads ({reason(said)}): TWINE_REPOSITORY_URL must"
            " be the feed's upload URL itself"
        )
    if code == "timeout":
        return f"{shown} did not take the upload within {timeout:g} s"
    if code in ("tls", "unreachable"):
        fix = (
            "; behind a TLS-inspecting proxy, set REQUESTS_CA_BUNDLE to the system's"
            " CA bundle" if code == "tls" else ": check the network and the URL"
        )  # fmt: skip
        return f"Cannot reach {shown} ({reason(said)}){fix}"
    if code in BUSY:
        kind = "throttles uploads" if code == "429" else "fails"
        return (
            f"{shown} {kind} ({reason(said)}, {attempt.tries} tries within"
            f" {timeout:g} s): try again later, or with --timeout longer"
        )
    return f"The upload to {shown} failed ({reason(said)})"


def reason(said: str) -> str:
    """twine's own words for what happened: the status and its reason, short."""
    found = re.search(r"HTTPError: (\d\d\d [^\n]*?) from ", said)
    if found:
        return f"HTTP {found[1]}"
    found = re.search(r"attempted to redirect\s+to (\S+?)\.?(?:\s|$)", said)
    if found:
        return f"to {found[1].split('?')[0]}"
    last = said.strip().splitlines()[-1] if said.strip() else "no output"
    return " ".join(last.split())[:200]


def read_back(
    page: str, login: Login, release: Release, deadline: float
) -> dict[str, str] | str:
    """What the feed lists of the files, asked again while some are missing."""
    names = [file.name for file in release.files]
    found = held(page, login, release.files, max(deadline, time.monotonic() + 5))
    for pause in PAUSES:
        if isinstance(found, dict) and set(found) == set(names):
            break
        if time.monotonic() + pause > deadline:
            break
        time.sleep(pause)
        found = held(page, login, release.files, deadline)
    return found


def names(files: list[str]) -> str:
    return " and ".join(files) or "no file"


def verdict(
    release: Release,
    tries: dict[str, Try],
    shown: str,
    found: dict[str, str] | str,
    failed: Try | None,
    timeout: float,
) -> str:
    """The one sentence that ends the upload."""
    every = [file.name for file in release.files]
    whole = isinstance(found, dict) and all(found.get(n) == "same" for n in every)
    if failed and whole:  # the feed took the upload, its answer was lost
        return (
            f"Published {release.version} to {shown}: the feed lists every file"
            " with its hash (the answer to the last upload did not come back)"
        )
    if failed:
        sentence = failure(failed, shown, timeout)
        if isinstance(found, dict) and found:
            missing = [name for name in every if name not in found]
            stored = names(list(found))
            sentence += (
                f". Only part of {release.version} is on the feed: {stored};"
                f" not {names(missing)}. nox -s publish again, on this commit,"
                " uploads the rest (in the pipeline, rerun the failed job)"
            )
        return sentence
    if isinstance(found, str):
        return (
            f"Uploaded {release.version} to {shown}, but not confirmed: reading the"
            f" feed back, {found}. nox -s publish again confirms it, uploading"
            " nothing the feed holds"
        )
    if different := [name for name in every if found.get(name) == "different"]:
        return (
            f"The feed holds another {names(different)} for {release.version}:"
            " versions are immutable: raise the version"
        )
    gone = [n for n in every if n not in found and n in tries]
    gone = [n for n in gone if tries[n].outcome == "exists"]
    if gone:
        return (
            f"{names(gone)} of {release.version} was deleted from {shown}, and"
            " versions are immutable: raise the version"
        )
    if missing := [name for name in every if name not in found]:
        return (
            f"{shown} answered the upload of {names(missing)} but does not list it"
            f" within {timeout:g} s: the answer was not the feed's (a sign-in page or"
            " a proxy?); nox -s doctor says which, then nox -s publish again"
        )
    return f"Published {release.version} to {shown}"


def publish(options: argparse.Namespace, env: dict[str, str]) -> tuple[int, str]:
    if uncommitted():  # the files were built from them, not from a commit
        raise Problem("Uncommitted changes: commit or stash them first")
    release = release_of([Path(file) for file in options.files])
    if problem := version_problem(release.version, options):
        raise Problem(problem)
    if options.dev_only and not re.search(r"dev\d*$", release.version):
        return 0, (
            f"{release.version} is a release: its tag's run publishes it; main"
            " publishes development versions"
        )
    url = upload_url(env)
    shown = public(url)
    deadline = time.monotonic() + options.timeout
    login = login_for(url, env, timeout=max(deadline - time.monotonic(), 1))
    page = page_of(url, release.name)
    if isinstance(login, str):
        anyone = ask(page, None, min(ASK_SECONDS, deadline - time.monotonic()))
        if isinstance(anyone, str) or anyone.status >= 500:
            why = anyone if isinstance(anyone, str) else f"HTTP {anyone.status}"
            raise Problem(
                f"Cannot reach {shown}: {why}; the keyring needs the feed too"
            )
        raise Problem(f"No credential for {shown}: {login}; or set TWINE_PASSWORD")
    if problem := login.carriable():
        raise Problem(problem)
    if login.user == "azure-cli" and not on_azure_devops(url):
        raise Problem(
            f"The Azure CLI's token goes to Azure DevOps only, not to {shown}:"
            " give that index its own credential in TWINE_PASSWORD"
        )
    before = held(page, login, release.files, deadline)
    if isinstance(before, str):
        return 1, masked(f"Not published to {shown}: {before}", login.secrets)
    if different := [name for name, state in before.items() if state == "different"]:
        return 1, (
            f"The feed holds another {names(different)} for {release.version}:"
            " versions are immutable: raise the version"
        )
    if len(before) == len(release.files):
        return 0, f"{release.version} is on {shown} already, whole: nothing to upload"
    tries: dict[str, Try] = {}
    failed = None
    for file in release.files:
        if file.name in before:
            continue
        tries[file.name] = attempt = upload(file, url, login, deadline)
        if attempt.outcome not in ("sent", "exists"):
            failed = attempt
            break
    found = read_back(page, login, release, time.monotonic() if failed else deadline)
    said = verdict(release, tries, shown, found, failed, options.timeout)
    every = [file.name for file in release.files]
    whole = isinstance(found, dict) and all(found.get(n) == "same" for n in every)
    return (0 if whole else 1), masked(said, login.secrets)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m azure_pylib publish")
    parser.add_argument("--allow-dev", action="store_true")
    parser.add_argument("--dev-only", action="store_true")
    parser.add_argument("--tag", help="vX.Y.Z: fail unless the version is X.Y.Z")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS")
    parser.add_argument("files", nargs="+")
    options = parser.parse_args(argv)
    try:
        status, said = publish(options, dict(os.environ))
    except Problem as problem:
        status, said = 1, str(problem)
    print(said, flush=True)
    return status
