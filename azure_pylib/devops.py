"""Requests to Azure DevOps' REST API (api-version 7.1), on its own hosts.

Every request follows MicrosoftDocs/vsts-rest-api-specs (specification/<area>/7.1):
its host, path and api-version, and the PAT scope its `security` section names
(`Scope`), which a refusal names. Lists are read page after page; a throttled
request (429) waits what Azure asks, within a bound; every answer is read
within a deadline and to a fixed size; nothing printed holds the credential.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from azure_pylib.exchange import Answer, NoAnswer, exchange, masked

API_VERSION = "7.1"
DEADLINE_SECONDS = 30  # for one exchange, all of it
THROTTLE_SECONDS = 60  # the longest a request waits, in all, while throttled
MAX_PAGES = 200  # of one list; Azure's pages hold 100 items or more
# Azure DevOps' application id: what `az account get-access-token` needs a token for.
AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"
# Hosts of Azure DevOps Services (MicrosoftDocs/vsts-rest-api-specs: the `host`
# of each area's specification).
HOSTS = {
    "dev": "dev.azure.com",
    "feeds": "feeds.dev.azure.com",
    "pkgs": "pkgs.dev.azure.com",
    "vssps": "vssps.dev.azure.com",
}


class Scope:
    """PAT scopes as Azure DevOps' token page names them, with the OAuth scope
    the specification's `security` sections list (a scope includes the lesser
    ones of its area: learn.microsoft.com, "OAuth scopes")."""

    PACKAGING_READ = "Packaging (Read)"  # vso.packaging
    PACKAGING_WRITE = "Packaging (Read & write)"  # vso.packaging_write
    PACKAGING_MANAGE = "Packaging (Read, write, & manage)"  # vso.packaging_manage
    BUILD_READ = "Build (Read)"  # vso.build
    BUILD_EXECUTE = "Build (Read & execute)"  # vso.build_execute
    CODE_READ = "Code (Read)"  # vso.code
    CODE_WRITE = "Code (Read & write)"  # vso.code_write
    IDENTITY_READ = "Identity (Read)"  # vso.identity
    PROJECT_READ = "Project and Team (Read)"  # vso.project


# What a PAT needs for `setup ... --pipeline` and `promote` (README.md).
SETUP_SCOPES = (
    Scope.PACKAGING_MANAGE,
    Scope.BUILD_EXECUTE,
    Scope.CODE_WRITE,
    Scope.IDENTITY_READ,
    Scope.PROJECT_READ,
)
TOKEN_PAGE = "https://dev.azure.com/{organization}/_usersSettings/tokens"


class AzureDevOpsError(Exception):
    """A request Azure DevOps refused, in one sentence that says what to fix."""

    def __init__(self, sentence: str, status: int | None = None) -> None:
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True)
class Credential:
    header: str = field(repr=False)  # the Authorization header's value
    secret: str = field(repr=False)  # the token, to mask wherever text is shown
    source: str  # where it came from, for sentences


def clean_token(token: str, source: str) -> str:
    """The token without surrounding white space (a file may end in a newline),
    or one sentence, without it, when it cannot be a token."""
    token = token.strip()
    if not token or any(not (32 < ord(c) < 127) for c in token):
        raise AzureDevOpsError(
            f"The token in {source} holds a space, a line break or a character"
            " outside ASCII inside it: copy it again, it is letters and digits"
        )
    return token


def credential(env: dict[str, str] | os._Environ[str] = os.environ) -> Credential:
    """The first credential the user has: a PAT, a pipeline's job token, or
    the Azure CLI's signed-in account."""
    if env.get("AZURE_DEVOPS_EXT_PAT", "").strip():
        pat = clean_token(env["AZURE_DEVOPS_EXT_PAT"], "AZURE_DEVOPS_EXT_PAT")
        header = "Basic " + base64.b64encode(f":{pat}".encode()).decode()
        return Credential(header, pat, "the PAT in AZURE_DEVOPS_EXT_PAT")
    if env.get("SYSTEM_ACCESSTOKEN", "").strip():
        token = clean_token(env["SYSTEM_ACCESSTOKEN"], "SYSTEM_ACCESSTOKEN")
        return Credential("Bearer " + token, token, "the job token")
    token = azure_cli_token(env)
    if token:
        return Credential("Bearer " + token, token, "the Azure CLI's account")
    raise AzureDevOpsError(
        "No Azure DevOps credential: sign in with `az login`, or set"
        " AZURE_DEVOPS_EXT_PAT to a PAT with the scopes " + ", ".join(SETUP_SCOPES)
    )


def azure_cli_token(env: dict[str, str] | os._Environ[str]) -> str | None:
    """The signed-in account's token for Azure DevOps, from `az`, or None."""
    command = ["az", "account", "get-access-token", "--resource"]
    command += [AZURE_DEVOPS_RESOURCE, "--query", "accessToken", "--output", "tsv"]
    try:
        signed_in = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=DEADLINE_SECONDS,
            env=dict(env),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if signed_in.returncode != 0 or not signed_in.stdout.strip():
        return None
    return clean_token(signed_in.stdout, "the Azure CLI's answer")


def azure_message(answer: Answer, secrets: set[str]) -> str:
    """The `message` of Azure DevOps' error body, or the start of the body,
    short, on one line, every secret masked."""
    text = answer.text
    try:
        document = json.loads(text)
        message = str(document["message"]) if isinstance(document, dict) else text
    except (ValueError, KeyError, RecursionError):
        message = text
    message = " ".join(masked(message, secrets).split())
    return (message[:300] + " ...") if len(message) > 300 else (message or "no message")


def waited_for(answer: Answer) -> float:
    """Seconds a 429 or 503 asks to wait (Retry-After), at least one."""
    try:
        return max(float(answer.header("Retry-After")), 1.0)
    except ValueError:
        return 1.0


@dataclass
class AzureDevOps:
    """Requests to one organisation, on Azure DevOps Services' hosts
    (HOSTS), or on an Azure DevOps Server: `server_url` is then its collection
    URL's root (https://devops.contoso.com/tfs) and `organization` the collection."""

    organization: str
    credential: Credential = field(repr=False)
    server_url: str | None = None

    @property
    def secrets(self) -> set[str]:
        return {self.credential.secret}

    def url(self, host: str, project: str | None, path: str, **query: str) -> str:
        if self.server_url:
            base = self.server_url.rstrip("/")
        else:
            base = f"https://{HOSTS[host]}"
        segments = [self.organization, *([project] if project else []), "_apis", path]
        query.setdefault("api-version", API_VERSION)
        quoted = "/".join(urllib.parse.quote(s, safe="/") for s in segments)
        return f"{base}/{quoted}?{urllib.parse.urlencode(query)}"

    def answer(
        self, method: str, url: str, what: str, body: Any, scope: str, needs: str
    ) -> Answer:
        """Azure DevOps' answer, waiting while it throttles; an AzureDevOpsError
        naming `what` for anything but a success."""
        waited = 0.0
        while True:
            try:
                answer = exchange(
                    method,
                    url,
                    {
                        "Authorization": self.credential.header,
                        "Accept": "application/json",
                        "Content-Type": "application/json",
                        # Ask for a 401 instead of a redirect to the sign-in page.
                        "X-TFS-FedAuthRedirect": "Suppress",
                    },
                    None if body is None else json.dumps(body).encode(),
                    deadline=time.monotonic() + DEADLINE_SECONDS,
                )
            except NoAnswer as error:
                host = urllib.parse.urlsplit(url).hostname
                raise AzureDevOpsError(f"Could not reach {host} to {what}: {error}")
            if answer.status in (429, 503) and answer.header("Retry-After"):
                wait = waited_for(answer)
                if waited + wait <= THROTTLE_SECONDS:
                    time.sleep(wait)
                    waited += wait
                    continue
            return self.checked(answer, what, scope, needs)

    def checked(self, answer: Answer, what: str, scope: str, needs: str) -> Answer:
        status = answer.status
        if status == 203 or 300 <= status < 400 or status == 401:
            return self.refused(answer, what, scope)
        message = azure_message(answer, self.secrets)
        if status == 403:
            raise AzureDevOpsError(f"Not allowed to {what}: {needs} ({message})", 403)
        if status == 404:
            raise AzureDevOpsError(
                f"Cannot {what}: not found ({message}); check the organization,"
                " project and feed names",
                404,
            )
        if status == 429 or status == 503:
            raise AzureDevOpsError(
                f"Cannot {what}: Azure DevOps is throttling this credential's"
                f" requests (HTTP {status}, for longer than {THROTTLE_SECONDS} s):"
                " run again in a few minutes",
                status,
            )
        if status >= 400 or status < 200:
            raise AzureDevOpsError(f"Cannot {what}: HTTP {status} ({message})", status)
        return answer

    def refused(self, answer: Answer, what: str, scope: str) -> Answer:
        """A 401, a 203 or a redirect: the credential was not accepted here."""
        status = answer.status
        page = TOKEN_PAGE.format(organization=self.organization)
        if status == 401 and "TF400813" in answer.text:  # known user, not allowed
            reason = f"the credential lacks the scope {scope}"
        elif status == 401:
            reason = (
                "the PAT is expired, revoked or made for another organization"
                f" than {self.organization}, or lacks the scope {scope}"
            )
        else:
            reason = f"{self.credential.source} was not accepted (its sign-in page)"
        fix = f"make a PAT with {scope} at {page}" if scope else f"see {page}"
        raise AzureDevOpsError(
            f"Azure DevOps refused {self.credential.source} to {what} (HTTP {status}):"
            f" {reason}; {fix}",
            status,
        )

    def request(
        self,
        method: str,
        url: str,
        what: str,
        body: Any = None,
        *,
        scope: str,
        needs: str = "",
    ) -> Any:
        """The JSON of Azure DevOps' answer (None when it has no body)."""
        return self.document(self.answer(method, url, what, body, scope, needs), what)

    def document(self, answer: Answer, what: str) -> Any:
        if not answer.body.strip():
            return None
        try:
            return json.loads(answer.text)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            kind = answer.header("Content-Type").split(";")[0] or "no content type"
            raise AzureDevOpsError(
                f"Azure DevOps' answer to {what} is not JSON (HTTP {answer.status},"
                f" {kind}): a proxy or a sign-in page answered instead; check the"
                " network, or run again"
            ) from None

    def values(
        self, url: str, what: str, *, scope: str, needs: str = ""
    ) -> list[dict[str, Any]]:
        """Every item of a list that Azure answers in pages, following the
        continuation token it sends in x-ms-continuationtoken."""
        items: list[dict[str, Any]] = []
        token = ""
        for _ in range(MAX_PAGES):
            page = url + (
                f"&continuationToken={urllib.parse.quote(token)}" if token else ""
            )
            answer = self.answer("GET", page, what, None, scope, needs)
            items += self.shaped_values(self.document(answer, what), what)
            token = answer.header("x-ms-continuationtoken")
            if not token:
                return items
        raise AzureDevOpsError(f"Cannot {what}: more than {MAX_PAGES} pages")

    def skipped_values(
        self, url: str, what: str, *, scope: str, needs: str = ""
    ) -> list[dict[str, Any]]:
        """Every item of a list paged with $top and $skip: pages until one is empty."""
        items: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = f"{url}&%24top=100&%24skip={len(items)}"
            found = self.shaped_values(self.request("GET", page, what, scope=scope,
                                                    needs=needs), what)  # fmt: skip
            if not found:
                return items
            items += found
        raise AzureDevOpsError(f"Cannot {what}: more than {MAX_PAGES} pages")

    def shaped_values(self, document: Any, what: str) -> list[dict[str, Any]]:
        """The `value` list of a list answer, or one sentence if it is not one."""
        value = document.get("value") if isinstance(document, dict) else None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise AzureDevOpsError(
                f"Azure DevOps' answer to {what} is not the list it should be:"
                " a proxy or an older Azure DevOps Server answered; check the"
                " address"
            )
        return value

    def shaped(self, document: Any, what: str, *keys: str) -> dict[str, Any]:
        """An object answer whose `keys` are ids (text or numbers), or one
        sentence if it is not."""
        if not isinstance(document, dict) or not all(
            isinstance(document.get(key), (str, int))
            and not isinstance(document.get(key), bool)
            and document.get(key) != ""
            for key in keys
        ):
            raise AzureDevOpsError(
                f"Azure DevOps' answer to {what} lacks {', '.join(keys)}: a proxy or"
                " an older Azure DevOps Server answered; check the address"
            )
        return document


def server_url(env: dict[str, str] | os._Environ[str]) -> str | None:
    """AZURE_DEVOPS_SERVICE_URL: an Azure DevOps Server's URL (the organization is
    then the collection's name), instead of Azure DevOps Services' hosts."""
    return env.get("AZURE_DEVOPS_SERVICE_URL") or None


# Pull requests (git.json: Pull Requests Get Pull Requests, Create, Update).
# "Description (up to 4000 characters)", and only status, title, description,
# completion and merge options, auto-complete and target may be updated: a
# draft stays a draft (Pull Requests Update).
PULL_REQUEST_DESCRIPTION_LIMIT = 4000
PULL_REQUEST_PERMISSIONS = "Contribute, Create branch and Contribute to pull requests"


@dataclass
class PullRequests:
    """The pull requests of one repository."""

    azure: AzureDevOps
    project: str
    repository: str  # name or id

    def url(self, path: str = "", **query: str) -> str:
        return self.azure.url(
            "dev",
            self.project,
            f"git/repositories/{self.repository}/pullrequests{path}",
            **query,
        )

    def needs(self, who: str) -> str:
        return (
            f"{who} needs {PULL_REQUEST_PERMISSIONS} on the repository"
            f" {self.repository} (Project settings > Repositories > {self.repository}"
            " > Security)"
        )

    def active(self, source: str, target: str) -> dict[str, Any] | None:
        """The active pull request from branch `source` into `target`, if any."""
        found = self.azure.skipped_values(
            self.url(
                **{
                    "searchCriteria.sourceRefName": f"refs/heads/{source}",
                    "searchCriteria.targetRefName": f"refs/heads/{target}",
                    "searchCriteria.status": "active",
                }
            ),
            f"list the pull requests of {self.repository}",
            scope=Scope.CODE_READ,
            needs=self.needs("reading pull requests"),
        )
        for pull_request in found:
            if isinstance(pull_request.get("pullRequestId"), int):
                return pull_request
        return None

    def create(
        self,
        source: str,
        target: str,
        title: str,
        description: str,
        draft: bool,
        who: str,
    ) -> dict[str, Any]:
        body = {
            "sourceRefName": f"refs/heads/{source}",
            "targetRefName": f"refs/heads/{target}",
            "title": title,
            "description": fitted(description),
            "isDraft": draft,
        }
        what = f"open a pull request from {source} into {target} of {self.repository}"
        answer = self.azure.request(
            "POST",
            self.url(),
            what,
            body,
            scope=Scope.CODE_WRITE,
            needs=self.needs(who),
        )
        return self.azure.shaped(answer, what, "pullRequestId")

    def update(
        self, number: int, title: str, description: str, who: str
    ) -> dict[str, Any]:
        what = f"update pull request {number} of {self.repository}"
        answer = self.azure.request(
            "PATCH",
            self.url(f"/{number}"),
            what,
            {"title": title, "description": fitted(description)},
            scope=Scope.CODE_WRITE,
            needs=self.needs(who),
        )
        return self.azure.shaped(answer, what, "pullRequestId")


def fitted(description: str) -> str:
    """The description cut to Azure's limit, saying so."""
    if len(description) <= PULL_REQUEST_DESCRIPTION_LIMIT:
        return description
    cut = "\n\n(Cut to Azure DevOps' 4000 characters: the rest is in CHANGELOG.md.)"
    keep = PULL_REQUEST_DESCRIPTION_LIMIT - len(cut)
    return description[:keep].rsplit("\n", 1)[0] + cut


def build_identities_of(organization: str, project: str | None) -> str:
    """Both names a pipeline's job token can have, for sentences that say who."""
    collection = f"Project Collection Build Service ({organization})"
    if not project:
        return collection
    return f"{collection} or {project} Build Service ({organization}) (give both)"
