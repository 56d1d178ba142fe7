"""Upload the built files to the feed, then confirm the feed lists every one.

    python tools/upload.py [--timeout SECONDS] dist/*    # nox -s publish runs it

Each file is one upload by twine's own Repository and PackageFile (what
`twine upload` runs, without its five immediate repeats of a 5xx), in a child
process the deadline can stop, which reads at most 64 KB of any answer.
Throttling (429), server errors (5xx) and broken connections are tried again,
waiting longer each time and at least the feed's Retry-After, within the
deadline. "Published" needs the feed's own index to list each file with the
sha256 built here: an answer that stored nothing (a sign-in page) is not a
release. Any other outcome is one sentence: what is on the feed, what to do.

Prints only that sentence (progress goes to stderr), and no credential in any
form. Exit status: 0 published, 2 the feed held every file already, 1 anything
else. Runs in the environment that has twine (and keyring, which twine needs);
`upload.py --send FILE` is the child, which reads the URL and the credential
from stdin.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email.utils
import functools
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from feed_doctor import Answer, ask, basic, links, refusal, split_url
from packaging.utils import canonicalize_name, parse_sdist_filename
from packaging.utils import parse_wheel_filename

PAUSES = (1, 2, 4, 8, 15, 30)  # seconds before each new try of a busy feed
BODY_LIMIT = 64 * 1024  # what is read of an answer, whatever the index sends
LISTING_PAUSES = (1, 2, 4)  # a file just stored may take a moment to be listed
BUSY = re.compile(r"429|5\d\d|broken")
NO_ANSWER = {"timeout", "unreachable", "tls", "no credential", "redirect", "401", "403"}
# The part of twine's output that a sentence quotes, by outcome.
REASONS = {
    "unreachable": r"\[Errno [^'\"\n]*|Failed to resolve[^'\"\n]*",
    "tls": r"certificate verify failed[^'\"\n]*",
    "broken": r"(?:SSLError|Reset|RemoteDisconnected|aborted)[^'\"\n]*",
}
URL_SAFE = "!#$&'()*+,/:;=?@[]~"  # what requests leaves unquoted in a URL
ADVICE = "set TWINE_PASSWORD to a PAT (Packaging > Read & write) or sign in again"


@dataclass
class Attempt:
    outcome: str  # "sent", "exists", an HTTP status, "broken", "timeout", ...
    said: str  # what the feed or the connection said, every credential masked
    tries: int = 1
    wait: float = 0  # what the feed's Retry-After asks for, in seconds


def credential(env: dict[str, str], url: str) -> tuple[str, str, str] | None:
    """(user, password, where from) as twine finds them, or None."""
    user, password, _ = split_url(url)
    if env.get("TWINE_PASSWORD"):
        return env.get("TWINE_USERNAME", ""), env["TWINE_PASSWORD"], "TWINE_PASSWORD"
    if password:
        return user, password, "the URL"
    keyring = importlib.import_module("keyring")  # twine's route to artifacts-keyring
    found = keyring.get_credential(url, env.get("TWINE_USERNAME"))
    return (found.username, found.password, "keyring") if found else None


def masked(text: str, secrets: set[str]) -> str:
    """`text` with each secret hidden as typed, quoted, or as requests re-quotes it."""
    for secret in sorted(secrets, key=len, reverse=True):
        forms = {secret, unquote(secret), quote(secret, safe="")}
        forms |= {quote(secret, safe=URL_SAFE + "%"), quote(secret, safe=URL_SAFE)}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


def send(file: str, url: str, user: str, password: str) -> dict[str, object]:
    """One upload of `file`, as twine upload makes it: the feed's answer
    (status, the headers that matter, the start of the body) or the error."""
    from twine.package import PackageFile
    from twine.repository import Repository
    from urllib3.exceptions import HTTPError

    try:
        package = PackageFile.from_filename(file, comment=None)
    except Exception as error:  # twine's word on a file it cannot upload
        return {"error": f"{type(error).__name__}: {error}"}
    repository = Repository(url, user, password, disable_progress_bar=True)
    # Streamed, so that a huge answer is never read whole.
    post = repository.session.post
    repository.session.post = functools.partial(post, stream=True)
    try:
        response = repository.upload(package, max_redirects=1)
        body = response.raw.read(BODY_LIMIT, decode_content=True)
    except (OSError, HTTPError) as error:  # requests' errors are OSErrors
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        repository.close()
    return {
        "status": response.status_code,
        "reason": response.reason or "",
        "location": response.headers.get("Location", ""),
        "retry_after": response.headers.get("Retry-After", ""),
        "body": body.decode("utf-8", "replace"),
    }


def outcome(answer: dict[str, object]) -> str:
    """What the feed or the connection said, in one word (read before masking:
    a password may be "409")."""
    if "status" not in answer:
        error = str(answer["error"])
        for name, pattern in [
            ("unreachable", r"\[Errno -?\d+\]|NameResolutionError|Failed to resolve"),
            ("tls", r"CERTIFICATE_VERIFY_FAILED|SSLCertVerificationError"),
            ("broken", r"SSLError|Reset|RemoteDisconnected|aborted|ProtocolError"),
        ]:
            if re.search(pattern, error):
                return name
        return "failed"
    status = int(str(answer["status"]))
    text = f"{answer['reason']} {answer['body']}"
    if status == 409 or (
        status == 400 and re.search(r"already (exists|contains)", text, re.I)
    ):
        return "exists"  # Azure's 409; PyPI and pypiserver say so with 400
    if 200 <= status < 300:
        return "sent"
    return "redirect" if 300 <= status < 400 else str(status)


def said(answer: dict[str, object], url: str) -> str:
    if "status" not in answer:
        return str(answer["error"])
    status, reason, body = answer["status"], answer["reason"], answer["body"]
    where = f" to {answer['location']}" if answer["location"] else ""
    return f"HTTP {status} {reason} from {url}{where}\n{body}"


def asked_wait(retry_after: str) -> float:
    """Seconds a Retry-After header asks for (a number, or an HTTP date)."""
    if retry_after.strip().isdigit():
        return float(retry_after)
    try:
        when = email.utils.parsedate_to_datetime(retry_after)
    except ValueError:
        return 0
    return max(when.timestamp() - time.time(), 0)


def upload(
    file: str, url: str, login: tuple[str, str], deadline: float, secrets: set[str]
) -> Attempt:
    """One file, tried again with growing pauses while the feed is busy."""
    child = [sys.executable, __file__, "--send", file]
    given = json.dumps({"url": url, "user": login[0], "password": login[1]})
    attempt = Attempt("timeout", "", 0)
    for tries, pause in enumerate([*PAUSES, None], start=1):  # None: the last
        try:
            run = subprocess.run(
                child,
                input=given,
                timeout=max(deadline - time.monotonic(), 0.1),
                capture_output=True,
                text=True,
                errors="replace",
            )
        except subprocess.TimeoutExpired:  # say what the feed answered, if it did
            return attempt if attempt.tries else Attempt("timeout", "", tries)
        try:
            answer = json.loads(run.stdout)
        except ValueError:  # the child failed before it could say
            answer = {"error": (run.stdout + run.stderr)[-4000:]}
        met = outcome(answer)
        earlier = attempt.outcome
        if met == "exists" and earlier != "429" and BUSY.fullmatch(earlier):
            met = "sent"  # the try that failed stored it (the read-back confirms)
        attempt = Attempt(
            met,
            masked(said(answer, url), secrets),
            tries,
            asked_wait(str(answer.get("retry_after", ""))),
        )
        busy = BUSY.fullmatch(attempt.outcome)
        wait = max(pause or 0, attempt.wait)
        if not busy or pause is None or time.monotonic() + wait > deadline:
            return attempt
        print(
            f"{Path(file).name}: {attempt.outcome}, again in {wait:g} s",
            file=sys.stderr,
        )
        time.sleep(wait)
    return attempt


def index_page(upload_url: str, name: str) -> str:
    """The simple-index page of `name` on the index that takes uploads at the URL."""
    root = re.sub(r"/(upload|simple)$", "", upload_url.rstrip("/"))
    return f"{root}/simple/{canonicalize_name(name)}/"


def listed(page: str, authorization: str, files: list[str]) -> dict[str, str] | str:
    """{file: "same" or "different"} for the built files the feed lists, or
    why it cannot say."""
    answer = ask(page, authorization)
    if isinstance(answer, Answer) and answer.status == 404:
        return {}  # no version of the project yet
    if problem := refusal(answer, "the credentials"):
        return problem
    assert isinstance(answer, Answer)
    found = links(answer.body)
    held = {}
    for file in files:
        if Path(file).name in found:
            digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
            same = found[Path(file).name] in ("", f"sha256={digest}")
            held[file] = "same" if same else "different"
    return held


def names(files: list[str]) -> str:
    return " and ".join(Path(file).name for file in files) or "no file"


def failure(attempt: Attempt, shown: str, timeout: float) -> str:
    """The sentence for an upload that did not go through."""
    said, code = attempt.said, attempt.outcome
    quoted = re.findall(REASONS.get(code, "^$"), said)
    reason = quoted[-1] if quoted else code
    if metadata := re.search(r"Metadata version '([^']*)' is unsupported", said):
        return (
            f"{shown} refuses Metadata-Version {metadata[1]}: keep "
            'core-metadata-version = "2.1" in pyproject.toml (wheel, sdist)'
        )
    if code == "redirect" and "_signin" in said.split("\n")[0]:
        code = "sign-in"
    if code in ("401", "403", "no credential", "sign-in"):
        seen = {"no credential": "none found", "sign-in": "the sign-in page"}
        answer = seen.get(code, f"HTTP {code}")
        return f"{shown} refused the credentials ({answer}): {ADVICE}"
    if code == "redirect":
        to = re.search(r" to (\S+)$", said.split("\n")[0])
        return (
            f"{shown} redirects uploads (to {to[1] if to else 'another URL'}):"
            " TWINE_REPOSITORY_URL must be the feed's upload URL itself"
        )
    if code == "timeout":
        return f"{shown} did not answer within {timeout:g} s"
    if code == "unreachable":
        return f"Cannot reach {shown}: {reason}"
    if code == "tls":
        return (
            f"Cannot reach {shown}: its certificate is not trusted ({reason}); behind"
            " a TLS-inspecting proxy, set REQUESTS_CA_BUNDLE to the system CA bundle"
        )
    if code == "broken":
        return f"Cannot reach {shown}: the connection broke ({reason})"
    if BUSY.fullmatch(code):
        kind = "throttles uploads" if code == "429" else "fails"
        asked = f"; it asks to wait {attempt.wait:g} s" if attempt.wait else ""
        return (
            f"{shown} {kind} (HTTP {code}, {attempt.tries} tries within"
            f" {timeout:g} s{asked}): try again later, or with --timeout longer"
        )
    last = "\n".join(said.splitlines()[-20:])[-4000:]  # whatever the index sent
    return f"The upload to {shown} failed:\n{last}"


def release_of(files: list[str]) -> tuple[str, str]:
    """(project name, version) of the built files."""
    wheel = next((Path(file).name for file in files if file.endswith(".whl")), None)
    if wheel:
        name, version = parse_wheel_filename(wheel)[:2]
    else:
        name, version = parse_sdist_filename(Path(files[0]).name)
    return str(name), str(version)


def uncarried(user: str, password: str, source: str) -> str | None:
    """Why requests would crash on this credential (basic auth is Latin-1)."""
    for value, what in [(password, f"The password from {source}"), (user, "The user")]:
        if any(ord(character) > 255 for character in value):
            return (
                f"{what} has a character HTTP cannot carry (outside Latin-1): an"
                " Azure DevOps PAT is letters and digits; copy it again"
            )
    return None


def secrets_of(env: dict[str, str], url: str, user: str, password: str) -> set[str]:
    """Every form a credential takes: the token, a user name that is one, the
    URL's, and the Authorization header requests makes of them (Latin-1)."""
    url_user, url_password, _ = split_url(url)
    users = {user, url_user, env.get("TWINE_USERNAME", "")}
    users -= {"build", "VssSessionToken"}  # what the docs tell everyone to use
    header = base64.b64encode(f"{user}:{password}".encode("latin-1")).decode()
    found = {password, url_password, *(name for name in users if len(name) > 3)}
    return found - {""} | ({header} if password else set())


def read_back(
    page: str, authorization: str, files: list[str], deadline: float
) -> dict[str, str] | str:
    """What the feed lists of the files, asked again while some are missing."""
    held = listed(page, authorization, files)
    for pause in LISTING_PAUSES:
        if isinstance(held, str) or len(held) == len(files):
            break
        if time.monotonic() + pause > deadline:
            break
        time.sleep(pause)
        held = listed(page, authorization, files)
    return held


def child(file: str) -> int:
    """upload.py --send FILE: one upload, its answer as JSON on stdout."""
    given = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr):  # twine's "Uploading ..."
        answer = send(file, given["url"], given["user"], given["password"])
    print(json.dumps(answer))
    return 0


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--send"]:
        return child(argv[1])
    parser = argparse.ArgumentParser(prog="upload.py")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS")
    parser.add_argument("files", nargs="+")
    arguments = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    files, url = sorted(arguments.files), env["TWINE_REPOSITORY_URL"]
    name, version = release_of(files)
    shown = split_url(url)[2]
    found = credential(env, url)
    if found is None:
        print(failure(Attempt("no credential", ""), shown, arguments.timeout))
        return 1
    user, password, source = found
    if problem := uncarried(user, password, source):
        print(problem)
        return 1
    secrets = secrets_of(env, url, user, password)
    deadline = time.monotonic() + arguments.timeout
    page, authorization = index_page(shown, name), basic(user, password)
    attempts: dict[str, Attempt] = {}
    for file in files:
        attempts[file] = upload(file, shown, (user, password), deadline, secrets)
        if attempts[file].outcome not in ("sent", "exists"):
            break
    outcomes = [attempt.outcome for attempt in attempts.values()]
    if outcomes == ["exists"] * len(files):
        print(f"{version} is already on {shown} or was deleted from it")
        return 2
    failed = attempts[file] if outcomes[-1] not in ("sent", "exists") else None
    if failed and failed.outcome in NO_ANSWER and len(attempts) == 1:
        print(failure(failed, shown, arguments.timeout))  # nothing stored, no read
        return 1
    held = read_back(page, authorization, files, 0 if failed else deadline)
    said = verdict(files, attempts, version, shown, held, failed, arguments.timeout)
    print(masked(said, secrets))
    return 0 if held == dict.fromkeys(files, "same") and not failed else 1


def verdict(
    files: list[str],
    attempts: dict[str, Attempt],
    version: str,
    shown: str,
    held: dict[str, str] | str,
    failed: Attempt | None,
    timeout: float,
) -> str:
    """The one sentence that ends the upload."""
    if failed:
        sentence = failure(failed, shown, timeout)
        if isinstance(held, dict) and held:
            missing = [file for file in files if file not in held]
            sentence += (
                f". Only part of {version} is on the feed: {names(list(held))};"
                f" not {names(missing)}. nox -s publish again, on this commit,"
                " uploads the rest (in the pipeline, rerun the failed job)"
            )
        return sentence
    if isinstance(held, str):  # the upload's 2xx was a sign-in page (HTTP 203)
        return f"Not published: {held}"
    if different := [file for file in files if held.get(file) == "different"]:
        return (
            f"The feed holds another {names(different)} for {version}: versions"
            " are immutable: raise the version"
        )
    if gone := [f for f in files if f not in held and attempts[f].outcome == "exists"]:
        return (
            f"{names(gone)} of {version} was deleted from {shown}, and versions are"
            " immutable: raise the version"
        )
    if missing := [file for file in files if file not in held]:
        return (
            f"{shown} answered the upload of {names(missing)} but does not list it:"
            " the answer was not the feed's (a sign-in page or a proxy?);"
            " nox -s doctor says which, then nox -s publish again"
        )
    return f"Published {version} to {shown}"


if __name__ == "__main__":
    sys.exit(main())
