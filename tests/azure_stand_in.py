"""A stand-in for the parts of Azure DevOps that azure_devops.py calls, on 127.0.0.1.

Requests and answers follow MicrosoftDocs/vsts-rest-api-specs, version 7.1:

- specification/artifacts/7.1/feed.json: Feed Management (Create, Get, Update
  Feed; Get and Set Feed Permissions) and Retention Policies (Get, Set), on
  the feeds host;
- specification/artifactsPackageTypes/7.1/pyPiApi.json: Python Update Package
  Version (a view added with a JSON Patch operation), on the pkgs host, whose
  api-version must carry -preview (a preview area);
- specification/ims/7.1/identities.json: Read Identities, on the vssps host;
- specification/core/7.1/core.json (Projects Get), git/7.1/git.json
  (Repositories Get Repository; Pull Requests Get Pull Requests, Create and
  Update), pipelines/7.1/pipelines.json (Create, List)
  and policy/7.1/policy.json (Configurations Create, List; the Build policy
  example POST__policy_configurations3.json), on dev.azure.com.

Hosts are path prefixes: http://127.0.0.1:PORT/feeds/ORG/... stands for
https://feeds.dev.azure.com/ORG/...; a request on the wrong host is a 404.

As unkind as Azure DevOps:
- an unknown token: 401 when the client sends X-TFS-FedAuthRedirect: Suppress,
  else a 302 to the sign-in page (frostming/unearth#20); with `sign_in_203` a
  203 and the HTML sign-in page whatever the client asks
  (MicrosoftDocs/vsts-rest-api-specs#97);
- a missing role: 403 with Azure's sentence "User '<id>' lacks permission to
  complete this action. You need to have '<permission>'." (as pip, maven and
  vcpkg users quote it, e.g. microsoft/vcpkg docs, ArtifactTool logs);
- an unknown organization, project or feed: 404 (a feed the caller has no role
  on is not shown either); messages as Azure words them: VS800075 for
  projects (Azure/azure-devops-cli-extension#1421), "The feed with ID '<id>'
  doesn't exist." for feeds (microsoft/azure-pipelines-artifact-caching-tasks#42);
- a feed name that is taken: 409, in Azure's error body ($id, innerException,
  message, typeName, typeKey, errorCode, eventId: dotnet/arcade#4087);
- a preview area asked for without -preview: 400 (VssInvalidPreviewVersionException);
- pull requests: a second active one for the same branches is a 409 (TF401179),
  one from a branch the repository does not have a 400 (TF401398), one from an
  identity without Contribute to pull requests a 403 (TF401027), a description
  over 4000 characters a 400, and an update of any property outside the
  spec's list (isDraft among them) a 400 InvalidArgumentValueException (git.json,
  Pull Requests Update); lists cut descriptions to 400 characters, as the
  spec says. A repository's `git` folder, when set, is its branches.

New feeds get Azure's default roles: the creator is Feed Owner and the build
identity of the feed's scope Feed and Upstream Reader (Collaborator)
(learn.microsoft.com/azure/devops/artifacts/feeds/feed-permissions).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

# The credentials the tests hand out; none of them may ever be printed.
ADMIN_PAT = "admin-pat-Zq8vK2wX"  # a platform engineer's PAT
READER_PAT = "reader-pat-Lm4nB7yT"  # a developer's, who may not create feeds
JOB_TOKEN = "job-token-Hc5rJ9pD"  # a pipeline's System.AccessToken
SECRETS = (ADMIN_PAT, READER_PAT, JOB_TOKEN)

ROLES = ["none", "reader", "collaborator", "contributor", "administrator"]
SIGN_IN_PAGE = "https://spsprodweu5.vssps.visualstudio.com/_signin?realm=dev.azure.com"


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

    def build_identity(self, scope: str) -> Identity:
        """The build identity of a project, or of the collection (scope None)."""
        name = (
            f"{scope} Build Service ({self.name})"
            if scope
            else f"Project Collection Build Service ({self.name})"
        )
        scope_id = self.projects[scope]["id"] if scope else self.id
        return Identity(
            name, f"Microsoft.TeamFoundation.ServiceIdentity;{self.id}:Build:{scope_id}"
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

    def add_user(self, token: str, name: str, creates_feeds: bool = True) -> Identity:
        identity = Identity(
            name,
            f"Microsoft.IdentityModel.Claims.ClaimsIdentity;{uuid.uuid4()}@example.com",
            creates_feeds=creates_feeds,
        )  # fmt: skip
        self.identities[token] = identity
        return identity

    def add_job_token(self, token: str, project: str | None) -> Identity:
        identity = self.build_identity(project)
        self.identities[token] = identity
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
    def __init__(self, status: int, message: str, type_key: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.type_key = status, message, type_key


class StandIn:
    def __init__(self) -> None:
        self.organizations: dict[str, Organization] = {}
        self.sign_in_203 = False
        self.ignores_suppress = False  # as behind a proxy that drops the header
        self.lock = threading.Lock()

    def add_organization(self, name: str) -> Organization:
        self.organizations[name] = Organization(name)
        return self.organizations[name]

    # Routing: (method, host, pattern) -> handler(org, caller, match, query, body)
    def handle(
        self, method: str, url: str, headers: Any, body: bytes
    ) -> tuple[int, dict, str]:
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        host, org_name, rest = (
            segments[0],
            segments[1] if len(segments) > 1 else "",
            segments[2:],
        )
        org = self.organizations.get(org_name)
        if org is None:
            raise Refusal(404, f"The organization '{org_name}' could not be found.")
        caller = self.authenticate(org, headers)
        org.requests.append((method, url))
        project = None
        if rest and rest[0] != "_apis":
            project, rest = rest[0], rest[1:]
            if project not in org.projects:
                raise Refusal(
                    404,
                    project_missing(project),
                    "ProjectDoesNotExistWithNameException",
                )  # fmt: skip
        path = "/".join(rest[1:])
        version = query.get("api-version", "")
        if not version:
            raise Refusal(
                400,
                "No api-version was supplied for the request.",
                "VssInvalidApiVersionException",
            )
        document = json.loads(body) if body else None
        for route_method, route_host, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path, re.IGNORECASE)
            if match and route_method == method:
                if route_host != host:
                    raise Refusal(404, "The resource cannot be found.")
                if route_host == "pkgs" and "-preview" not in version:
                    raise Refusal(
                        400,
                        f"The requested version \"{version}\" of the resource is under"
                        " preview."
                        " The -preview flag must be supplied in the api-version for"
                        " such requests."
                        f" For example: \"{version}-preview\"",
                        "VssInvalidPreviewVersionException",
                    )  # fmt: skip
                with self.lock:
                    return handler(self, org, caller, project, match, query, document)
        raise Refusal(404, "The resource cannot be found.")

    def authenticate(self, org: Organization, headers: Any) -> Identity:
        header = headers.get("Authorization", "")
        token = ""
        if header.startswith("Basic "):
            token = base64.b64decode(header[6:]).decode().partition(":")[2]
        elif header.startswith("Bearer "):
            token = header[7:]
        if token in org.identities:
            return org.identities[token]
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


def visible_feed(org, caller, project, name) -> dict[str, Any]:
    feed = org.feed(project, name)
    if feed is None or role_of(org, feed, caller) == "none":
        raise Refusal(
            404, f"The feed with ID '{name}' doesn't exist.", "FeedIdNotFoundException"
        )
    return feed


def requires(org, feed, caller, role: str, permission: str) -> None:
    if ROLES.index(role_of(org, feed, caller)) < ROLES.index(role):
        raise lacks(caller, permission)


def get_project(stand_in, org, caller, project, match, query, body):
    name = match["project"]
    if name not in org.projects:
        raise Refusal(
            404,
            project_missing(name),
        )
    found = dict(org.projects[name])
    found.pop("repositories")
    return 200, found


def create_feed(stand_in, org, caller, project, match, query, body):
    if not caller.creates_feeds:
        raise lacks(caller, "CreateFeed")
    if any(
        f["name"].lower() == body["name"].lower() and f["project"] == project
        for f in org.feeds
    ):
        taken = f"A feed named '{body['name']}' already exists."
        raise Refusal(409, taken, "FeedNameAlreadyExistsException")
    feed = {
        "id": str(uuid.uuid4()), "name": body["name"], "project": project,
        "upstreamEnabled": body.get("upstreamEnabled", False),
        "upstreamSources": [
            {**source, "id": str(uuid.uuid4()), "status": "ok"}
            for source in body.get("upstreamSources", [])
        ],
        "hideDeletedPackageVersions": body.get("hideDeletedPackageVersions", True),
        "capabilities": "defaultCapabilities",
    }  # fmt: skip
    org.feeds.append(feed)
    builder = org.build_identity(project)
    org.roles[feed["id"]] = {
        caller.descriptor: "administrator",
        builder.descriptor: "collaborator",
    }
    org.changes += 1
    return 201, answer_feed(org, feed)


def answer_feed(org, feed) -> dict[str, Any]:
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


def get_feed(stand_in, org, caller, project, match, query, body):
    return 200, answer_feed(org, visible_feed(org, caller, project, match["feed"]))


def update_feed(stand_in, org, caller, project, match, query, body):
    feed = visible_feed(org, caller, project, match["feed"])
    requires(org, feed, caller, "administrator", "AdministerFeed")
    for key in (
        "upstreamEnabled",
        "upstreamSources",
        "description",
        "hideDeletedPackageVersions",
    ):
        if key in body:
            feed[key] = body[key]
    org.changes += 1
    return 200, answer_feed(org, feed)


def get_retention(stand_in, org, caller, project, match, query, body):
    feed = visible_feed(org, caller, project, match["feed"])
    requires(org, feed, caller, "administrator", "AdministerFeed")
    policy = org.retention.get(feed["id"])
    return (200, policy) if policy else (200, None)


def set_retention(stand_in, org, caller, project, match, query, body):
    feed = visible_feed(org, caller, project, match["feed"])
    requires(org, feed, caller, "administrator", "AdministerFeed")
    org.retention[feed["id"]] = {
        "countLimit": body.get("countLimit"),
        "daysToKeepRecentlyDownloadedPackages": body.get(
            "daysToKeepRecentlyDownloadedPackages"
        ),
        "ageLimitInDays": None,
    }
    org.changes += 1
    return 200, org.retention[feed["id"]]


def get_permissions(stand_in, org, caller, project, match, query, body):
    feed = visible_feed(org, caller, project, match["feed"])
    requires(org, feed, caller, "administrator", "AdministerFeed")
    value = [
        {"role": role, "identityDescriptor": descriptor, "isInheritedRole": False}
        for descriptor, role in org.roles[feed["id"]].items()
    ]
    return 200, {"count": len(value), "value": value}


def set_permissions(stand_in, org, caller, project, match, query, body):
    feed = visible_feed(org, caller, project, match["feed"])
    requires(org, feed, caller, "administrator", "AdministerFeed")
    for permission in body:
        org.roles[feed["id"]][permission["identityDescriptor"]] = permission["role"]
    org.changes += 1
    return 200, {"count": len(body), "value": body}


def read_identities(stand_in, org, caller, project, match, query, body):
    wanted = query.get("filterValue", "")
    known = [org.build_identity(None), *(org.build_identity(p) for p in org.projects)]
    found = [
        {"id": i.id, "descriptor": i.descriptor, "providerDisplayName": i.name,
         "isActive": True, "isContainer": False}
        for i in known if i.name.lower() == wanted.lower()
    ]  # fmt: skip
    return 200, {"count": len(found), "value": found}


def update_package_version(stand_in, org, caller, project, match, query, body):
    feed = visible_feed(org, caller, project, match["feed"])
    requires(org, feed, caller, "contributor", "AddPackage")
    key = (feed["id"], match["package"], match["version"])
    uploaded = org.published and org.published(feed["name"], *key[1:])
    if key not in org.versions and uploaded:
        org.versions[key] = ["Local"]
    if key not in org.versions:
        raise Refusal(
            404,
            f"Cannot find the package '{match['package']}'"
            f" with version '{match['version']}'"
            f" in feed '{feed['name']}'.",
            "PackageNotFoundException",
        )  # fmt: skip
    views = body["views"]
    if views.get("op") != "add" or views.get("path") != "/views/-":
        raise Refusal(
            400, "The JSON Patch operation is not supported.", "InvalidPatchOperation"
        )
    if views["value"] not in org.versions[key]:
        org.versions[key].append(views["value"])
        org.changes += 1
    return 200, None


def get_repository(stand_in, org, caller, project, match, query, body):
    repository = repository_of(org, project, match["repository"])
    return 200, {key: repository[key] for key in ("id", "name", "project")}


def repository_of(org, project, name_or_id) -> dict[str, Any]:
    for repository in org.projects[project]["repositories"].values():
        if name_or_id in (repository["name"], repository["id"]):
            return repository
    raise Refusal(
        404,
        f"TF401019: The Git repository with name or identifier {name_or_id} does not"
        " exist or you do not have permissions for the operation you are attempting.",
        "GitRepositoryNotFoundException",
    )


def may_contribute_pull_requests(org, repository, caller) -> None:
    if caller.descriptor not in repository["pull_request_contributors"]:
        raise Refusal(
            403,
            "TF401027: You need the Git 'PullRequestContribute' permission to perform"
            f" this action. Details: identity '{caller.name}', scope 'repository'.",
            "GitNeedsPermissionException",
        )


def check_description(body) -> None:
    if len(body.get("description") or "") > 4000:
        raise Refusal(
            400,
            "The description of a pull request can be up to 4000 characters.",
            "InvalidArgumentValueException",
        )


def list_pull_requests(stand_in, org, caller, project, match, query, body):
    repository = repository_of(org, project, match["repository"])
    criteria = {
        key.removeprefix("searchCriteria."): value
        for key, value in query.items()
        if key.startswith("searchCriteria.")
    }
    found = [
        {**pr, "description": pr["description"][:400]}
        for pr in repository["pull_requests"]
        if all(str(pr.get(key)) == value for key, value in criteria.items())
    ]
    return 200, {"count": len(found), "value": found}


def create_pull_request(stand_in, org, caller, project, match, query, body):
    repository = repository_of(org, project, match["repository"])
    may_contribute_pull_requests(org, repository, caller)
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
        "createdBy": {"displayName": caller.name},
        "repository": {"id": repository["id"], "name": repository["name"]},
    }
    repository["pull_requests"].append(pull_request)
    org.changes += 1
    return 201, pull_request


# Pull Requests Update: the only properties an update may carry.
UPDATABLE = {"status", "title", "description", "completionOptions", "mergeOptions",
             "autoCompleteSetBy", "targetRefName"}  # fmt: skip


def update_pull_request(stand_in, org, caller, project, match, query, body):
    repository = repository_of(org, project, match["repository"])
    may_contribute_pull_requests(org, repository, caller)
    found = [
        pr
        for pr in repository["pull_requests"]
        if pr["pullRequestId"] == int(match["number"])
    ]
    if not found:
        raise Refusal(
            404,
            "TF401180: The requested pull request was not found.",
            "GitPullRequestNotFoundException",
        )
    if unknown := set(body) - UPDATABLE:
        raise Refusal(
            400,
            f"Invalid argument value. Parameter name: {sorted(unknown)[0]}",
            "InvalidArgumentValueException",
        )
    check_description(body)
    found[0].update(body)
    org.changes += 1
    return 200, found[0]


def list_pipelines(stand_in, org, caller, project, match, query, body):
    value = org.pipelines[project]
    return 200, {"count": len(value), "value": value}


def create_pipeline(stand_in, org, caller, project, match, query, body):
    configuration = body["configuration"]
    repositories = {r["id"] for r in org.projects[project]["repositories"].values()}
    if (
        configuration.get("type") != "yaml"
        or configuration["repository"]["id"] not in repositories
    ):
        raise Refusal(400, "The repository of the pipeline configuration is not valid.")
    if any(p["name"] == body["name"] for p in org.pipelines[project]):
        raise Refusal(409, f"A pipeline named '{body['name']}' already exists.")
    pipeline = {"id": len(org.pipelines[project]) + 1, "name": body["name"],
                "folder": body.get("folder", "\\"), "revision": 1,
                "configuration": {"type": "yaml", "path": configuration["path"],
                                  "repository": configuration["repository"],
                                  }}  # fmt: skip
    org.pipelines[project].append(pipeline)
    org.changes += 1
    return 200, pipeline


def list_policies(stand_in, org, caller, project, match, query, body):
    value = org.policies[project]
    return 200, {"count": len(value), "value": value}


def create_policy(stand_in, org, caller, project, match, query, body):
    policy = {
        **body,
        "id": len(org.policies[project]) + 1,
        "revision": 1,
        "isDeleted": False,
    }
    org.policies[project].append(policy)
    org.changes += 1
    return 200, policy


FEED = r"packaging/feeds/(?P<feed>[^/]+)"
ROUTES = [
    ("GET", "dev", r"projects/(?P<project>[^/]+)", get_project),
    ("POST", "feeds", r"packaging/feeds/?", create_feed),
    ("GET", "feeds", FEED + "/?", get_feed),
    ("PATCH", "feeds", FEED + "/?", update_feed),
    ("GET", "feeds", FEED + "/retentionpolicies", get_retention),
    ("PUT", "feeds", FEED + "/retentionpolicies", set_retention),
    ("GET", "feeds", FEED + "/permissions", get_permissions),
    ("PATCH", "feeds", FEED + "/permissions", set_permissions),
    ("GET", "vssps", r"identities", read_identities),
    ("PATCH", "pkgs",
     FEED + r"/pypi/packages/(?P<package>[^/]+)/versions/(?P<version>[^/]+)",
     update_package_version),
    ("GET", "dev", r"git/repositories/(?P<repository>[^/]+)", get_repository),
    ("GET", "dev", r"git/repositories/(?P<repository>[^/]+)/pullrequests",
     list_pull_requests),
    ("POST", "dev", r"git/repositories/(?P<repository>[^/]+)/pullrequests",
     create_pull_request),
    ("PATCH", "dev",
     r"git/repositories/(?P<repository>[^/]+)/pullrequests/(?P<number>\d+)",
     update_pull_request),
    ("GET", "dev", r"pipelines", list_pipelines),
    ("POST", "dev", r"pipelines", create_pipeline),
    ("GET", "dev", r"policy/configurations", list_policies),
    ("POST", "dev", r"policy/configurations", create_policy),
]  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    stand_in: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet tests

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, document = self.stand_in.handle(
                self.command, self.path, self.headers, body
            )
            self.send(
                status,
                "" if document is None else json.dumps(document),
                "application/json",
            )
        except Refusal as refusal:
            if refusal.status == 302:
                self.send_response(302)
                self.send_header("Location", refusal.message)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif refusal.status == 203:
                self.send(203, refusal.message, "text/html")
            else:
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
                self.send(refusal.status, json.dumps(error), "application/json")

    def send(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer


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


def run_azure_devops(
    cwd: Path, url: str, *arguments: str, token: str | None = ADMIN_PAT, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python3 azure_devops.py ...` as a platform engineer runs it, the PAT in
    the environment; its output must hold no secret and no traceback."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AZURE_DEVOPS_", "SYSTEM_"))
    }
    environment.update(AZURE_DEVOPS_SERVICE_URL=url, **env)
    if token:
        environment["AZURE_DEVOPS_EXT_PAT"] = token
    return run_script("azure_devops.py", *arguments, cwd=cwd, env=environment)


def run_script(
    name: str, *arguments: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python3 NAME ...` of the template repository; its output must hold no
    secret and no traceback."""
    script = Path(__file__).resolve().parent.parent / name
    result = subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


@contextmanager
def running_stand_in() -> Iterator[tuple[StandIn, str]]:
    """The stand-in and its service URL for azure_devops.py (`{host}` in it)."""
    stand_in = StandIn()
    handler = type("BoundHandler", (Handler,), {"stand_in": stand_in})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stand_in, f"http://127.0.0.1:{server.server_port}/{{host}}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
