"""A stand-in for the parts of Azure DevOps that the template's tools call.

It answers on Azure's own names (tests/azure_network.py): REST requests
(/{organization}[/{project}]/_apis/...) on dev.azure.com, feeds.dev.azure.com,
pkgs.dev.azure.com and vssps.dev.azure.com, each operation on the host of its
specification, and on pkgs.dev.azure.com also the feeds' Python endpoints
(/_packaging/...), which it hands to the feed's stand-in
(tests/feed_stand_in.py) when a test attaches one. Operations are routed by
tests/azure_spec.py, transcribed from MicrosoftDocs/vsts-rest-api-specs 7.1;
a request that matches none, or matches one but with another api-version,
project or body, is answered as Azure answers it (404, 400) and recorded in
`violations`, which the fixtures check after every test.

As unkind as Azure DevOps:
- an unknown token: 401 when the client sends X-TFS-FedAuthRedirect: Suppress,
  else a 302 to the sign-in page (frostming/unearth#20); with `sign_in_203` a
  203 and the HTML sign-in page whatever the client asks
  (MicrosoftDocs/vsts-rest-api-specs#97);
- a token without the scope the operation's `security` section names: 401 with
  "TF400813: The user '<id>' is not authorized to access this resource."
  (microsoft/terraform-provider-azuredevops#901, #1480: a scoped PAT gets 401,
  not 403); PATs carry the scopes they were made with, job tokens and Entra
  tokens act with their identity's permissions;
- lists answered in pages: the pipelines and policy configurations with a
  continuation token in the x-ms-continuationtoken header (pipelines.json and
  policy.json take `continuationToken`; the header as in the specification's
  paged examples, e.g. distributedTask's deploymentgroups), the pull requests
  with $top and $skip; `page_size` items a page;
- throttling: with `throttle(n)`, the next n requests get 429 with Retry-After
  and the X-RateLimit headers (learn.microsoft.com, "Rate and usage limits");
- identity searches (searchFilter=General) answer every identity whose name
  holds each word of the search, near matches first, as a search does;
- a missing role: 403 with Azure's sentence "User '<id>' lacks permission to
  complete this action. You need to have '<permission>'.";
- an unknown organization, project or feed: 404 (a feed the caller has no role
  on is not shown either); VS800075 for projects
  (Azure/azure-devops-cli-extension#1421), "The feed with ID '<id>' doesn't
  exist." for feeds (microsoft/azure-pipelines-artifact-caching-tasks#42);
- a feed name that is taken: 409 FeedNameAlreadyExistsException, in Azure's
  error body (dotnet/arcade#4087); an upstream source listed twice: 400;
- a preview area asked for without -preview: 400 (VssInvalidPreviewVersionException);
- pull requests: a second active one for the same branches is a 409 (TF401179),
  one from a branch the repository does not have a 400 (TF401398), one from an
  identity without Contribute to pull requests a 403 (TF401027), a description
  over 4000 characters a 400, and an update of any property outside the
  spec's list (isDraft among them) a 400 InvalidArgumentValueException (git.json,
  Pull Requests Update); lists cut descriptions to 400 characters, as the
  spec says. A repository's `git` folder, when set, is its branches.
- successes with the status the specification lists: 200, creations included.

New feeds get Azure's default roles: the creator is Feed Owner and the build
identity of the feed's scope Feed and Upstream Reader (Collaborator)
(learn.microsoft.com/azure/devops/artifacts/feeds/feed-permissions).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.azure_network import (
    AZURE_HOSTS,
    Answer,
    App,
    Network,
    Request,
    azure_network,
    without_network_settings,
)
from tests.azure_spec import granted, operation_for
from tests.feed_stand_in import Feed
from tests.index_server import IndexServer

# The credentials the tests hand out; none of them may ever be printed.
ADMIN_PAT = "admin-pat-Zq8vK2wX"  # a platform engineer's PAT, with the README's scopes
READER_PAT = "reader-pat-Lm4nB7yT"  # a developer's, who may not create feeds
JOB_TOKEN = "job-token-Hc5rJ9pD"  # a pipeline's System.AccessToken
SECRETS = (ADMIN_PAT, READER_PAT, JOB_TOKEN)
# What the README asks a PAT for: Packaging (Read, write, & manage), Build
# (Read & execute), Code (Read & write), Identity (Read), Project and Team (Read).
README_SCOPES = frozenset(
    {"vso.packaging_manage", "vso.build_execute", "vso.code_write", "vso.identity"}
    | {"vso.project"}
)

ROLES = ["none", "reader", "collaborator", "contributor", "administrator"]
SIGN_IN_PAGE = "https://spsprodweu5.vssps.visualstudio.com/_signin?realm=dev.azure.com"
HOST_KEYS = {host: host.split(".")[0] if host != "dev.azure.com" else "dev"
             for host in AZURE_HOSTS}  # fmt: skip
SERVER_HOST = "devops.contoso.test"  # an Azure DevOps Server, at /tfs
SERVER_PREFIX = "/tfs"


@dataclass
class Identity:
    name: str
    descriptor: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    creates_feeds: bool = False


@dataclass
class Organization:
    """One organisation's state: what the stand-in serves and the tests inspect."""

    name: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    identities: dict[str, Identity] = field(default_factory=dict)  # by token
    scopes: dict[str, frozenset[str] | None] = field(default_factory=dict)  # by token
    others: list[Identity] = field(default_factory=list)  # searchable, no token
    feeds: list[dict[str, Any]] = field(default_factory=list)
    retention: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # feed id -> descriptor -> role
    pipelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    changes: int = 0
    pull_request_count: int = 0
    # Whether (feed name, package, version) was uploaded, when an index server
    # stands for the feed's upload side; else only what publish() recorded.
    published: Callable[[str, str, str], bool] | None = None

    def build_identity(self, scope: str | None) -> Identity:
        """The build identity of a project, or of the collection (scope None)."""
        name = (
            f"{scope} Build Service ({self.name})"
            if scope
            else f"Project Collection Build Service ({self.name})"
        )
        scope_id = self.projects[scope]["id"] if scope else self.id
        return Identity(
            name,
            f"Microsoft.TeamFoundation.ServiceIdentity;{self.id}:Build:{scope_id}",
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        )

    def add_project(self, name: str, repositories: list[str] = ()) -> dict[str, Any]:
        project = {"id": str(uuid.uuid4()), "name": name, "state": "wellFormed"}
        project["repositories"] = {
            repo: {
                "id": str(uuid.uuid4()),
                "name": repo,
                "project": {"id": project["id"]},
                "pull_requests": [],
                "pull_request_contributors": set(),  # identity descriptors
                "git": None,  # a local bare repository: the branches
            }
            for repo in repositories
        }
        self.projects[name] = project
        self.pipelines[name] = []
        self.policies[name] = []
        return project

    def add_user(
        self,
        token: str,
        name: str,
        creates_feeds: bool = True,
        scopes: frozenset[str] | None = README_SCOPES,
    ) -> Identity:
        """A user and a PAT of theirs with `scopes` (None: a full-access token,
        as an Entra token from the Azure CLI acts)."""
        identity = Identity(
            name,
            f"Microsoft.IdentityModel.Claims.ClaimsIdentity;{uuid.uuid4()}@example.com",
            creates_feeds=creates_feeds,
        )  # fmt: skip
        self.identities[token] = identity
        self.scopes[token] = scopes
        return identity

    def add_job_token(self, token: str, project: str | None) -> Identity:
        identity = self.build_identity(project)
        self.identities[token] = identity
        self.scopes[token] = None
        return identity

    def feed(self, project: str | None, name_or_id: str) -> dict[str, Any] | None:
        for feed in self.feeds:
            if feed["project"] == project and name_or_id.lower() in (
                feed["name"].lower(),
                feed["id"],
            ):
                return feed
        return None

    def publish(
        self, project: str | None, feed: str, package: str, version: str
    ) -> None:
        """A version uploaded to the feed (as twine does): in @Local only."""
        self.versions[(self.feed(project, feed)["id"], package, version)] = ["Local"]


class Refusal(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_key: str = "",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type_key = status, message, type_key
        self.headers = headers


@dataclass
class Call:
    """What a handler is given: the caller, the path's parts, the request."""

    org: Organization
    caller: Identity
    project: str | None
    parameters: dict[str, str]
    query: dict[str, str]
    body: Any


class StandIn:
    def __init__(self) -> None:
        self.organizations: dict[str, Organization] = {}
        self.sign_in_203 = False
        self.ignores_suppress = False  # as behind a proxy that drops the header
        self.page_size = 100
        self.throttled = 0  # requests still to answer with 429
        self.retry_after = 1
        self.packages: App | None = None  # the feeds' Python endpoints
        self.violations: list[str] = []  # requests Azure would refuse
        self.lock = threading.Lock()

    def add_organization(self, name: str) -> Organization:
        self.organizations[name] = Organization(name)
        return self.organizations[name]

    def throttle(self, requests: int, retry_after: int = 1) -> None:
        self.throttled, self.retry_after = requests, retry_after

    def app(self, request: Request) -> Answer | None:
        """The answer to one request on any of Azure's names."""
        path = request.path
        if request.host == SERVER_HOST:
            path = path.removeprefix(SERVER_PREFIX)
        if "/_packaging/" in path and self.packages:
            return self.packages(request)
        try:
            status, document, headers = self.handle(request, path)
        except Refusal as refusal:
            return self.refusal(refusal)
        text = "" if document is None else json.dumps(document)
        return Answer.json(status, text, *headers)

    def handle(self, request: Request, path: str) -> tuple[int, Any, list]:
        segments = [unquote(s) for s in path.lstrip("/").split("/")]
        org = self.organizations.get(segments[0])
        if org is None:
            raise Refusal(404, f"The organization '{segments[0]}' could not be found.")
        caller, scopes = self.authenticate(org, request.headers)
        with self.lock:
            org.requests.append(
                (request.method, f"https://{request.host}{request.target}")
            )
            if self.throttled:
                self.throttled -= 1
                raise Refusal(429, "Request was blocked due to exceeding usage of"
                              " resource 'ATCPU' in namespace 'User'.", headers=(
                                  ("Retry-After", str(self.retry_after)),
                                  ("X-RateLimit-Resource", "ATCPU"),
                                  ("X-RateLimit-Delay", "1.5"),
                              ))  # fmt: skip
        rest = segments[1:]
        project = None
        if rest and rest[0] != "_apis":
            project, rest = rest[0], rest[1:]
            if project not in org.projects:
                raise Refusal(404, project_missing(project),
                              "ProjectDoesNotExistWithNameException")  # fmt: skip
        if not rest or rest[0] != "_apis":
            return self.violation(404, f"{request.method} {path}: not an _apis path")
        version = request.query.get("api-version", "")
        if not version:
            raise Refusal(400, "No api-version was supplied for the request.",
                          "VssInvalidApiVersionException")  # fmt: skip
        host = None if request.host == SERVER_HOST else HOST_KEYS[request.host]
        found = operation_for(host, request.method, "/".join(rest[1:]))
        if found is None:
            return self.violation(
                404, f"{request.method} {request.host}{path}: no such operation"
            )
        operation, parameters = found
        if "-preview" in operation.api_version and "-preview" not in version:
            raise Refusal(
                400,
                f'The requested version "{version}" of the resource is under'
                " preview. The -preview flag must be supplied in the api-version"
                f' for such requests. For example: "{version}-preview"',
                "VssInvalidPreviewVersionException",
            )
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            return self.violation(400, f"{operation.name}: the body is not JSON")
        if problems := operation.problems(project, version, body):
            return self.violation(400, "; ".join(problems))
        if not granted(scopes, operation.scopes):
            raise Refusal(
                401,
                f"TF400813: The user '{caller.id}' is not authorized to access this"
                " resource.",
                "UnauthorizedRequestException",
            )
        call = Call(org, caller, project, parameters, request.query, body)
        with self.lock:
            answer = HANDLERS[operation.name](self, call)
        status, document = answer[:2]
        return status, document, list(answer[2]) if len(answer) > 2 else []

    def violation(self, status: int, what: str) -> tuple[int, Any, list]:
        self.violations.append(what)
        raise Refusal(status, f"Not what Azure DevOps accepts: {what}")

    def authenticate(
        self, org: Organization, headers: Any
    ) -> tuple[Identity, frozenset[str] | None]:
        header = headers.get("Authorization", "")
        token = ""
        try:
            if header.startswith("Basic "):
                token = base64.b64decode(header[6:]).decode().partition(":")[2]
            elif header.startswith("Bearer "):
                token = header[7:]
        except (binascii.Error, UnicodeDecodeError):
            token = ""
        if token in org.identities:
            return org.identities[token], org.scopes.get(token)
        if self.sign_in_203:
            raise Refusal(
                203,
                "<html><head><title>Azure DevOps Services | Sign In</title></head>"
                "</html>",
            )
        if (
            headers.get("X-TFS-FedAuthRedirect") == "Suppress"
            and not self.ignores_suppress
        ):
            raise Refusal(
                401,
                "Access Denied: the user does not have permission to use this"
                " resource.",
            )
        raise Refusal(302, SIGN_IN_PAGE)

    def refusal(self, refusal: Refusal) -> Answer:
        if refusal.status == 302:
            return Answer(302, headers=[("Location", refusal.message)])
        if refusal.status == 203:
            html = [("Content-Type", "text/html; charset=utf-8")]
            return Answer(203, refusal.message.encode(), html)
        type_key = refusal.type_key or "VssServiceException"
        error = {
            "$id": "1",
            "innerException": None,
            "message": refusal.message,
            "typeName": f"Microsoft.VisualStudio.Services.WebApi.{type_key}",
            "typeKey": type_key,
            "errorCode": 0,
            "eventId": 3000,
        }
        return Answer.json(refusal.status, json.dumps(error), *refusal.headers)


def entra_token(account: str, *, app: bool = False) -> str:
    """An access token as Microsoft Entra ID issues it for Azure DevOps (a JWT:
    header, claims, signature; the stand-ins do not check signatures)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"aud": "499b84ac-1321-427f-aa17-267ca6975798", "tid": str(uuid.uuid4()),
              "appid" if app else "upn": account, "idtyp": "app" if app else "user",
              "nonce": uuid.uuid4().hex}  # fmt: skip
    return f"{part({'typ': 'JWT', 'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


AZURE_CLI = """#!/bin/sh
# The Azure CLI as the template asks it, signed in as one account.
expected="account get-access-token --resource 499b84ac-1321-427f-aa17-267ca6975798"
case "$*" in
  login) echo "[]" ;;  # the subscriptions; the sign-in itself happens in a browser
  "$expected --query accessToken --output tsv") echo "{token}" ;;
  *) echo "ERROR: 'az $*' is not what the template asks" >&2; exit 2 ;;
esac
"""


def azure_cli(folder: Path, token: str) -> Path:
    """A program `az` in `folder` that answers `az login`, and `az account
    get-access-token --resource <Azure DevOps> --query accessToken --output
    tsv` as az does once signed in: the token and a line break. Returns the
    folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "az").write_text(AZURE_CLI.format(token=token))
    (folder / "az").chmod(0o755)
    return folder


def project_missing(name: str) -> str:
    return (
        f"VS800075: The project with id 'vstfs:///Classification/TeamProject/{name}'"
        " does not exist, or you do not have permission to access it."
    )


def lacks(caller: Identity, permission: str) -> Refusal:
    return Refusal(
        403,
        f"User '{caller.id}' lacks permission to complete this action."
        f" You need to have '{permission}'.",
        "UnauthorizedRequestException",
    )


def role_of(org: Organization, feed: dict[str, Any], caller: Identity) -> str:
    return org.roles[feed["id"]].get(caller.descriptor, "none")


def visible_feed(call: Call) -> dict[str, Any]:
    name = call.parameters["feedId"]
    feed = call.org.feed(call.project, name)
    if feed is None or role_of(call.org, feed, call.caller) == "none":
        raise Refusal(
            404, f"The feed with ID '{name}' doesn't exist.", "FeedIdNotFoundException"
        )
    return feed


def requires(call: Call, feed: dict[str, Any], role: str, permission: str) -> None:
    if ROLES.index(role_of(call.org, feed, call.caller)) < ROLES.index(role):
        raise lacks(call.caller, permission)


def listed(value: list[Any]) -> dict[str, Any]:
    return {"count": len(value), "value": value}


def page(stand_in: StandIn, call: Call, items: list[Any]) -> tuple[int, Any, list]:
    """One page of `items`, from the continuation token the client sends."""
    start = int(call.query.get("continuationToken") or 0)
    size = min(int(call.query.get("$top") or stand_in.page_size), stand_in.page_size)
    value = items[start : start + size]
    more = start + size < len(items)
    headers = [("x-ms-continuationtoken", str(start + size))] if more else []
    return 200, listed(value), headers


def get_project(stand_in: StandIn, call: Call):
    name = call.parameters["projectId"]
    if name not in call.org.projects:
        raise Refusal(404, project_missing(name))
    found = dict(call.org.projects[name])
    found.pop("repositories")
    return 200, found


def create_feed(stand_in: StandIn, call: Call):
    org, body = call.org, call.body
    if not call.caller.creates_feeds:
        raise lacks(call.caller, "CreateFeed")
    if any(
        f["name"].lower() == body["name"].lower() and f["project"] == call.project
        for f in org.feeds
    ):
        taken = f"A feed named '{body['name']}' already exists."
        raise Refusal(409, taken, "FeedNameAlreadyExistsException")
    no_duplicate_upstreams(body.get("upstreamSources") or [])
    feed = {
        "id": str(uuid.uuid4()), "name": body["name"], "project": call.project,
        "upstreamEnabled": body.get("upstreamEnabled", False),
        "upstreamSources": [
            {**source, "id": str(uuid.uuid4()), "status": "ok"}
            for source in body.get("upstreamSources", [])
        ],
        "hideDeletedPackageVersions": body.get("hideDeletedPackageVersions", True),
        "capabilities": "defaultCapabilities",
    }  # fmt: skip
    org.feeds.append(feed)
    builder = org.build_identity(call.project)
    org.roles[feed["id"]] = {
        call.caller.descriptor: "administrator",
        builder.descriptor: "collaborator",
    }
    org.changes += 1
    return 200, answer_feed(org, feed)


def no_duplicate_upstreams(sources: list[dict[str, Any]]) -> None:
    seen = [(s.get("protocol", "").lower(), s.get("location", "")) for s in sources]
    if len(set(seen)) != len(seen):
        raise Refusal(
            400,
            "An upstream source with the same protocol and location already exists.",
            "InvalidUpstreamSourceException",
        )


def answer_feed(org: Organization, feed: dict[str, Any]) -> dict[str, Any]:
    answer = {key: value for key, value in feed.items() if key != "project"}
    if feed["project"]:
        answer["project"] = {
            "id": org.projects[feed["project"]]["id"],
            "name": feed["project"],
        }
    answer["url"] = (
        f"https://feeds.dev.azure.com/{org.name}/_apis/Packaging/Feeds/{feed['id']}"
    )
    return answer


def get_feed(stand_in: StandIn, call: Call):
    return 200, answer_feed(call.org, visible_feed(call))


def update_feed(stand_in: StandIn, call: Call):
    feed = visible_feed(call)
    requires(call, feed, "administrator", "AdministerFeed")
    if "upstreamSources" in call.body:
        no_duplicate_upstreams(call.body["upstreamSources"])
    for key in ("upstreamEnabled", "upstreamSources", "description",
                "hideDeletedPackageVersions"):  # fmt: skip
        if key in call.body:
            feed[key] = call.body[key]
    call.org.changes += 1
    return 200, answer_feed(call.org, feed)


def get_retention(stand_in: StandIn, call: Call):
    feed = visible_feed(call)
    requires(call, feed, "administrator", "AdministerFeed")
    return 200, call.org.retention.get(feed["id"])


def set_retention(stand_in: StandIn, call: Call):
    feed = visible_feed(call)
    requires(call, feed, "administrator", "AdministerFeed")
    call.org.retention[feed["id"]] = {
        "countLimit": call.body.get("countLimit"),
        "daysToKeepRecentlyDownloadedPackages": call.body.get(
            "daysToKeepRecentlyDownloadedPackages"
        ),
        "ageLimitInDays": None,
    }
    call.org.changes += 1
    return 200, call.org.retention[feed["id"]]


def get_permissions(stand_in: StandIn, call: Call):
    feed = visible_feed(call)
    requires(call, feed, "administrator", "AdministerFeed")
    value = [
        {"role": role, "identityDescriptor": descriptor, "isInheritedRole": False}
        for descriptor, role in call.org.roles[feed["id"]].items()
    ]
    return 200, listed(value)


def set_permissions(stand_in: StandIn, call: Call):
    feed = visible_feed(call)
    requires(call, feed, "administrator", "AdministerFeed")
    for permission in call.body:
        call.org.roles[feed["id"]][permission["identityDescriptor"]] = permission[
            "role"
        ]
    call.org.changes += 1
    return 200, listed(call.body)


def read_identities(stand_in: StandIn, call: Call):
    org = call.org
    words = call.query.get("filterValue", "").lower().split()
    known = [org.build_identity(None), *(org.build_identity(p) for p in org.projects)]
    known += org.others
    found = [i for i in known if words and all(w in i.name.lower() for w in words)]
    found.sort(key=lambda i: -len(i.name))  # the near matches, longer, first
    value = [
        {"id": i.id, "descriptor": i.descriptor, "providerDisplayName": i.name,
         "isActive": True, "isContainer": False}
        for i in found
    ]  # fmt: skip
    return 200, listed(value)


def update_package_version(stand_in: StandIn, call: Call):
    feed = visible_feed(call)
    requires(call, feed, "contributor", "AddPackage")
    package, version = call.parameters["packageName"], call.parameters["packageVersion"]
    key = (feed["id"], package, version)
    org = call.org
    if (
        key not in org.versions
        and org.published
        and org.published(feed["name"], package, version)
    ):
        org.versions[key] = ["Local"]
    if key not in org.versions:
        raise Refusal(
            404,
            f"Cannot find the package '{package}' with version '{version}'"
            f" in feed '{feed['name']}'.",
            "PackageNotFoundException",
        )
    views = call.body["views"]
    if views.get("op") != "add" or views.get("path") != "/views/-":
        raise Refusal(
            400, "The JSON Patch operation is not supported.", "InvalidPatchOperation"
        )
    if views["value"] not in org.versions[key]:
        org.versions[key].append(views["value"])
        org.changes += 1
    return 200, None


def repository_of(call: Call) -> dict[str, Any]:
    name_or_id = call.parameters["repositoryId"]
    for repository in call.org.projects[call.project]["repositories"].values():
        if name_or_id in (repository["name"], repository["id"]):
            return repository
    raise Refusal(
        404,
        f"TF401019: The Git repository with name or identifier {name_or_id} does not"
        " exist or you do not have permissions for the operation you are attempting.",
        "GitRepositoryNotFoundException",
    )


def get_repository(stand_in: StandIn, call: Call):
    repository = repository_of(call)
    return 200, {key: repository[key] for key in ("id", "name", "project")}


def may_contribute_pull_requests(repository: dict[str, Any], caller: Identity) -> None:
    if caller.descriptor not in repository["pull_request_contributors"]:
        raise Refusal(
            403,
            "TF401027: You need the Git 'PullRequestContribute' permission to perform"
            f" this action. Details: identity '{caller.name}', scope 'repository'.",
            "GitNeedsPermissionException",
        )


def check_description(body: dict[str, Any]) -> None:
    if len(body.get("description") or "") > 4000:
        raise Refusal(
            400,
            "The description of a pull request can be up to 4000 characters.",
            "InvalidArgumentValueException",
        )


def list_pull_requests(stand_in: StandIn, call: Call):
    repository = repository_of(call)
    criteria = {
        key.removeprefix("searchCriteria."): value
        for key, value in call.query.items()
        if key.startswith("searchCriteria.")
    }
    found = [
        {**pr, "description": pr["description"][:400]}
        for pr in repository["pull_requests"]
        if all(str(pr.get(key)) == value for key, value in criteria.items())
    ]
    skip = int(call.query.get("$skip") or 0)
    top = min(int(call.query.get("$top") or 101), stand_in.page_size)
    return 200, listed(found[skip : skip + top])


def create_pull_request(stand_in: StandIn, call: Call):
    org, body = call.org, call.body
    repository = repository_of(call)
    may_contribute_pull_requests(repository, call.caller)
    check_description(body)
    source, target = body["sourceRefName"], body["targetRefName"]
    if repository.get("git") and not all(
        subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", ref],
            cwd=repository["git"], capture_output=True,
        ).returncode == 0
        for ref in (source, target)
    ):  # fmt: skip
        raise Refusal(
            400,
            "TF401398: The pull request cannot be activated because the source and/or"
            " the target branch no longer exists, or the requested refs are not"
            " branches",
            "GitPullRequestCannotBeActivated",
        )
    if any(
        pr["status"] == "active"
        and pr["sourceRefName"] == source
        and pr["targetRefName"] == target
        for pr in repository["pull_requests"]
    ):
        raise Refusal(
            409,
            "TF401179: An active pull request for the source and target branch"
            " already exists.",
            "GitPullRequestExistsException",
        )
    org.pull_request_count += 1
    pull_request = {
        "pullRequestId": org.pull_request_count,
        "status": "active",
        "sourceRefName": source,
        "targetRefName": target,
        "title": body["title"],
        "description": body.get("description", ""),
        "isDraft": bool(body.get("isDraft", False)),
        "createdBy": {"displayName": call.caller.name},
        "repository": {"id": repository["id"], "name": repository["name"]},
    }
    repository["pull_requests"].append(pull_request)
    org.changes += 1
    return 200, pull_request


# Pull Requests Update: the only properties an update may carry.
UPDATABLE = {"status", "title", "description", "completionOptions", "mergeOptions",
             "autoCompleteSetBy", "targetRefName"}  # fmt: skip


def update_pull_request(stand_in: StandIn, call: Call):
    repository = repository_of(call)
    may_contribute_pull_requests(repository, call.caller)
    number = int(call.parameters["pullRequestId"])
    found = [pr for pr in repository["pull_requests"] if pr["pullRequestId"] == number]
    if not found:
        raise Refusal(
            404,
            "TF401180: The requested pull request was not found.",
            "GitPullRequestNotFoundException",
        )
    if unknown := set(call.body) - UPDATABLE:
        raise Refusal(
            400,
            f"Invalid argument value. Parameter name: {sorted(unknown)[0]}",
            "InvalidArgumentValueException",
        )
    check_description(call.body)
    found[0].update(call.body)
    call.org.changes += 1
    return 200, found[0]


def list_pipelines(stand_in: StandIn, call: Call):
    return page(stand_in, call, call.org.pipelines[call.project])


def create_pipeline(stand_in: StandIn, call: Call):
    org, body = call.org, call.body
    configuration = body["configuration"]
    repositories = {
        r["id"] for r in org.projects[call.project]["repositories"].values()
    }
    if (
        configuration.get("type") != "yaml"
        or (configuration.get("repository") or {}).get("id") not in repositories
    ):
        raise Refusal(400, "The repository of the pipeline configuration is not valid.")
    if any(p["name"] == body["name"] for p in org.pipelines[call.project]):
        raise Refusal(409, f"A pipeline named '{body['name']}' already exists.")
    pipeline = {"id": len(org.pipelines[call.project]) + 1, "name": body["name"],
                "folder": body.get("folder", "\\"), "revision": 1,
                "configuration": {"type": "yaml", "path": configuration["path"],
                                  "repository": configuration["repository"],
                                  }}  # fmt: skip
    org.pipelines[call.project].append(pipeline)
    org.changes += 1
    return 200, pipeline


def list_policies(stand_in: StandIn, call: Call):
    return page(stand_in, call, call.org.policies[call.project])


def create_policy(stand_in: StandIn, call: Call):
    policies = call.org.policies[call.project]
    policy = {**call.body, "id": len(policies) + 1, "revision": 1, "isDeleted": False}
    policies.append(policy)
    call.org.changes += 1
    return 200, policy


def update_policy(stand_in: StandIn, call: Call):
    number = int(call.parameters["configurationId"])
    policies = call.org.policies[call.project]
    found = [p for p in policies if p["id"] == number]
    if not found:
        raise Refusal(404, f"The policy configuration {number} does not exist.",
                      "PolicyConfigurationNotFoundException")  # fmt: skip
    found[0].update(call.body, revision=found[0]["revision"] + 1)
    call.org.changes += 1
    return 200, found[0]


HANDLERS = {
    "Projects_Get": get_project,
    "Feed  Management_Get Feed": get_feed,
    "Feed  Management_Create Feed": create_feed,
    "Feed  Management_Update Feed": update_feed,
    "Retention  Policies_Get Retention Policy": get_retention,
    "Retention  Policies_Set Retention Policy": set_retention,
    "Feed  Management_Get Feed Permissions": get_permissions,
    "Feed  Management_Set Feed Permissions": set_permissions,
    "Identities_Read Identities": read_identities,
    "Python_Update Package Version": update_package_version,
    "Repositories_Get Repository": get_repository,
    "Pull Requests_Get Pull Requests": list_pull_requests,
    "Pull Requests_Create": create_pull_request,
    "Pull Requests_Update": update_pull_request,
    "Pipelines_List": list_pipelines,
    "Pipelines_Create": create_pipeline,
    "Configurations_List": list_policies,
    "Configurations_Create": create_policy,
    "Configurations_Update": update_policy,
}


def empty_organization(stand_in: StandIn) -> Organization:
    """`myorg` with the project `myproject`, its repositories `my-shared-utils`
    and `cookiecutter-azure-pylib` (the template's),
    a platform engineer (ADMIN_PAT) and a developer (READER_PAT); no feed."""
    org = stand_in.add_organization("myorg")
    org.add_project(
        "myproject", repositories=["my-shared-utils", "cookiecutter-azure-pylib"]
    )
    org.add_user(ADMIN_PAT, "Platform Engineer")
    org.add_user(READER_PAT, "Developer", creates_feeds=False)
    return org


@dataclass
class Azure:
    """The stand-in on a test's network, with its one organisation."""

    stand_in: StandIn
    org: Organization
    network: Network

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment that reaches Azure's names here, without any Azure
        DevOps or pipeline variable of the machine."""
        env = {
            key: value
            for key, value in without_network_settings(dict(base or os.environ)).items()
            if not key.startswith(("AZURE_DEVOPS_", "SYSTEM_"))
        }
        return {**env, **self.network.env()}


def feed_on(azure: Azure, index: IndexServer, **settings: Any) -> Feed:
    """The feed's Python endpoints on the stand-in's pkgs.dev.azure.com, its
    files in `index`, its token the job token of the organisation's pipelines."""
    feed = Feed(index, azure.network, **settings)
    azure.stand_in.packages = feed.app
    return feed


@contextmanager
def running_azure(folder: Path) -> Iterator[Azure]:
    """The stand-in on Azure's names, an empty organisation; every request it
    received is checked against the specification afterwards."""
    with azure_network(folder) as network:
        stand_in = StandIn()
        for host in (*AZURE_HOSTS, SERVER_HOST):
            network.route(host, stand_in.app)
        yield Azure(stand_in, empty_organization(stand_in), network)
        assert stand_in.violations == [], stand_in.violations
        assert network.refused == [], network.refused


def run_azure_pylib(
    cwd: Path,
    azure: Azure,
    *arguments: str,
    token: str | None = ADMIN_PAT,
    **env: str,
) -> subprocess.CompletedProcess[str]:
    """`python3 -m azure_pylib ...` as a platform engineer runs it from a clone
    of the template, the PAT in the environment; its output must hold no
    secret and no traceback."""
    environment = azure.env()
    environment.update(env)
    if token:
        environment["AZURE_DEVOPS_EXT_PAT"] = token
    return run_tool(*arguments, cwd=cwd, env=environment)


def run_tool(
    *arguments: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python3 -m azure_pylib ...` of the template repository; its output must
    hold no secret and no traceback."""
    template = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-m", "azure_pylib", *arguments],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(template)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result
