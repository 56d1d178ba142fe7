"""Set up the Azure Artifacts feed of libraries made from this template, and
promote releases, through Azure DevOps' REST API (api-version 7.1).

    python3 azure_devops.py setup ../my-shared-utils            # a baked project's feed
    python3 azure_devops.py setup --organization myorg --project myproject \\
        --feed python-internal [--scope organization]
    python3 azure_devops.py setup ../my-shared-utils --pipeline  # and its pipelines
    python3 azure_devops.py setup ... --template-repository cookiecutter-azure-pylib
    python3 azure_devops.py promote --organization myorg --project myproject \\
        --feed python-internal --package my-shared-utils --version 1.2.0

`setup` creates the feed if it is missing (PyPI as an upstream source) or adds
PyPI to an existing one, sets the retention policy, gives both build identities
the Feed Publisher (Contributor) role. With --pipeline it creates the library's
pipeline from its azure-pipelines.yml, the build validation policy on main and
the template-updates pipeline; with --template-repository, the same for this
template's repository (its tests and releases) and the organisation's Renovate
pipeline. It changes only what differs (a second run says there is nothing to
change) and --dry-run lists the changes without making them.

Credentials, never from the command line and never printed: the PAT in
AZURE_DEVOPS_EXT_PAT (the variable the Azure CLI's devops extension reads),
else SYSTEM_ACCESSTOKEN (a pipeline's job token, mapped into the step), else
the Azure CLI's signed-in account (`az login`). On Azure DevOps Server, set
AZURE_DEVOPS_SERVICE_URL to the server's URL and name the collection as the
organization.

Everything in this template that talks to Azure DevOps' REST API is here (the
pull requests of template_update.py too): the requests follow
MicrosoftDocs/vsts-rest-api-specs (specification/<area>/7.1).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_VERSION = "7.1"
PYPI_API_VERSION = "7.1-preview.1"  # pyPiApi.json is a preview area
DEADLINE_SECONDS = 30
# Azure DevOps' application id: what `az account get-access-token` needs a token for.
AZURE_DEVOPS_RESOURCE = "499b84ac-1321-427f-aa17-267ca6975798"

# Retention: at most this many versions of each package, besides those
# downloaded recently. Releases promoted to a view are never deleted by
# retention, so this removes old development builds (X.Y.Z.devN from main) and
# keeps every release.
RETENTION_VERSIONS = 20
RETENTION_RECENTLY_DOWNLOADED_DAYS = 30

PYPI_UPSTREAM = {
    "name": "PyPI",
    "protocol": "pypi",
    "location": "https://pypi.org/",
    "upstreamSourceType": "public",
}
# Feed roles, weakest first; publishing and promoting need Contributor.
ROLES = ["reader", "collaborator", "contributor", "administrator"]
ROLE_NAMES = {
    "reader": "Feed Reader",
    "collaborator": "Feed and Upstream Reader (Collaborator)",
    "contributor": "Feed Publisher (Contributor)",
    "administrator": "Feed Owner",
}
BUILD_ROLE = "contributor"
# The "Build" policy type: a pipeline that must pass before a pull request merges.
BUILD_POLICY_TYPE = "0609b952-1397-4640-95ec-e00a01b2c241"
PIPELINE_FILE = "/azure-pipelines.yml"
UPDATE_PIPELINE_FILE = "/pipelines/template-updates.yml"  # template_update.py's
RENOVATE_PIPELINE_FILE = "/pipelines/renovate.yml"  # in the template's repository


class AzureDevOpsError(Exception):
    """A request Azure DevOps refused, in one sentence that says what to fix."""

    def __init__(self, sentence: str, status: int | None = None) -> None:
        super().__init__(sentence)
        self.status = status


@dataclass(frozen=True)
class Feed:
    """Where a feed lives: its organisation, its project (None: organisation-scoped)."""

    organization: str
    project: str | None
    name: str

    def __str__(self) -> str:
        scope = f"project {self.project}" if self.project else "the organization"
        return f"feed {self.name} ({scope} of {self.organization})"


def credential(env: dict[str, str] = os.environ) -> str:
    """The Authorization header value of the first credential the user has."""
    if env.get("AZURE_DEVOPS_EXT_PAT"):
        pat = env["AZURE_DEVOPS_EXT_PAT"]
        return "Basic " + base64.b64encode(f":{pat}".encode()).decode()
    if env.get("SYSTEM_ACCESSTOKEN"):
        return "Bearer " + env["SYSTEM_ACCESSTOKEN"]
    try:
        signed_in = subprocess.run(
            [
                "az",
                "account",
                "get-access-token",
                "--resource",
                AZURE_DEVOPS_RESOURCE,
                "--query",
                "accessToken",
                "--output",
                "tsv",
            ],
            capture_output=True,
            text=True,
            timeout=DEADLINE_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        signed_in = None
    if signed_in and signed_in.returncode == 0 and signed_in.stdout.strip():
        return "Bearer " + signed_in.stdout.strip()
    raise AzureDevOpsError(
        "No Azure DevOps credential: set AZURE_DEVOPS_EXT_PAT to a PAT with the"
        " scopes Packaging (Read, write & manage), Build (Read & execute) and Code"
        " (Read), or sign in with `az login`"
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect from Azure DevOps leads to its sign-in page: report it instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class AzureDevOps:
    """Requests to one organisation, on Azure DevOps Services' hosts.

    `service_url` replaces the hosts, for Azure DevOps Server (one URL for the
    collection) or a stand-in: `{host}` in it becomes dev, feeds, pkgs or vssps.
    """

    organization: str
    authorization: str = field(repr=False)
    service_url: str | None = None

    def url(self, host: str, project: str | None, path: str, **query: str) -> str:
        if self.service_url:
            base = self.service_url.rstrip("/").replace("{host}", host)
        else:
            base = (
                f"https://{host}.azure.com"
                if host != "dev"
                else "https://dev.azure.com"
            )
        segments = [self.organization, *([project] if project else []), "_apis", path]
        query.setdefault("api-version", API_VERSION)
        quoted = "/".join(urllib.parse.quote(s, safe="/") for s in segments)
        return f"{base}/{quoted}?{urllib.parse.urlencode(query)}"

    def request(
        self, method: str, url: str, what: str, body: Any = None, needs: str = ""
    ) -> Any:
        """The JSON answer; an AzureDevOpsError naming `what` and, for 403, `needs`."""
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": self.authorization,
                "Accept": "application/json",
                "Content-Type": "application/json",
                # Ask for a 401 instead of a redirect to the sign-in page.
                "X-TFS-FedAuthRedirect": "Suppress",
            },
        )
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(request, timeout=DEADLINE_SECONDS) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            host = urllib.parse.urlsplit(url).netloc
            raise AzureDevOpsError(f"Could not reach {host} to {what}: {reason}")
        if status == 203 or 300 <= status < 400 or status == 401:
            raise AzureDevOpsError(
                f"Azure DevOps did not accept the credential to {what} (HTTP {status},"
                " its sign-in page): the PAT is expired, revoked, made for another"
                f" organization than {self.organization}, or lacks the scope; make one"
                f" at https://dev.azure.com/{self.organization}/_usersSettings/tokens"
            )
        message = azure_message(text)
        if status == 403:
            raise AzureDevOpsError(f"Not allowed to {what}: {needs} ({message})", 403)
        if status == 404:
            raise AzureDevOpsError(
                f"Cannot {what}: not found ({message}); check the organization, project"
                " and feed names",
                404,
            )
        if status >= 400:
            raise AzureDevOpsError(f"Cannot {what}: HTTP {status} ({message})", status)
        return json.loads(text) if text else None


def azure_message(text: str) -> str:
    """The `message` of Azure DevOps' error body, or the start of the body."""
    try:
        return str(json.loads(text)["message"])
    except (ValueError, KeyError, TypeError):
        return text.strip()[:200] or "no message"


@dataclass
class Change:
    """One change a run makes, described before it is made."""

    description: str
    make: Callable[[], Any]


class FeedSetup:
    """The changes that bring a feed, its settings and a library's pipeline to
    what the template's libraries need: working them out only reads; each
    change makes its requests when `make` is called."""

    def __init__(self, azure: AzureDevOps, feed: Feed, project: str | None) -> None:
        self.azure, self.feed, self.project = azure, feed, project

    def feeds_url(self, path: str = "") -> str:
        return self.azure.url("feeds", self.feed.project, f"packaging/feeds/{path}")

    def changes(
        self,
        pipeline_repository: str | None = None,
        template_repository: str | None = None,
    ) -> list[Change]:
        current = self.current_feed()
        changes = []
        if current is None:
            changes.append(
                Change(
                    f"create {self.feed} with PyPI as an upstream source",
                    self.create_feed,
                )
            )
        else:
            changes += self.upstream_changes(current)
        changes += self.retention_changes(exists=current is not None)
        changes += self.role_changes(exists=current is not None)
        if pipeline_repository:
            changes += self.pipeline_changes(
                pipeline_repository,
                f"{pipeline_repository} template updates",
                UPDATE_PIPELINE_FILE,
            )
        if template_repository:
            changes += self.pipeline_changes(
                template_repository, "Renovate", RENOVATE_PIPELINE_FILE
            )
        return changes

    # The feed and its upstream (feed.json: Feed Management).
    def current_feed(self) -> dict[str, Any] | None:
        try:
            return self.azure.request(
                "GET",
                self.feeds_url(self.feed.name),
                f"read {self.feed}",
                needs="reading a feed needs the Feed Reader role on it",
            )
        except AzureDevOpsError as error:
            if error.status == 404:
                if self.feed.project:
                    self.check_project_exists()
                return None
            raise

    def check_project_exists(self) -> None:
        self.azure.request(
            "GET",
            self.azure.url("dev", None, f"projects/{self.feed.project}"),
            f"find project {self.feed.project} in {self.feed.organization}",
            needs="the credential's user must be a member of the project",
        )

    def create_feed(self) -> None:
        body = {
            "name": self.feed.name,
            "upstreamEnabled": True,
            "upstreamSources": [PYPI_UPSTREAM],
            "hideDeletedPackageVersions": True,
        }
        try:
            self.azure.request(
                "POST",
                self.feeds_url(),
                f"create {self.feed}",
                body,
                needs="creating feeds needs Feed Creator"
                " (Artifacts settings of the organization)",
            )
        except AzureDevOpsError as error:
            if error.status == 409:
                raise AzureDevOpsError(
                    f"Cannot create {self.feed}: a feed of that name exists where this"
                    " credential cannot see it, or was deleted and is still in the feed"
                    " recycle bin (Artifacts > Feed recycle bin); restore it, or empty"
                    " the recycle bin, or choose another name"
                ) from None
            raise

    def upstream_changes(self, current: dict[str, Any]) -> list[Change]:
        sources = current.get("upstreamSources") or []
        if current.get("upstreamEnabled") and any(
            s.get("protocol", "").lower() == "pypi"
            and s.get("upstreamSourceType", "").lower() == "public"
            for s in sources
        ):
            return []

        def add_pypi() -> None:
            update = {
                "upstreamEnabled": True,
                "upstreamSources": [*sources, PYPI_UPSTREAM],
            }
            self.azure.request(
                "PATCH",
                self.feeds_url(current["id"]),
                f"add PyPI as an upstream source of {self.feed}",
                update,
                needs="changing a feed's upstream sources needs the Feed Owner role",
            )

        return [
            Change(
                f"add PyPI as an upstream source of {self.feed} (it has none)", add_pypi
            )
        ]

    # Retention (feed.json: Retention Policies).
    def retention_changes(self, exists: bool) -> list[Change]:
        wanted = {
            "countLimit": RETENTION_VERSIONS,
            "daysToKeepRecentlyDownloadedPackages": RETENTION_RECENTLY_DOWNLOADED_DAYS,
        }
        url = self.feeds_url(f"{self.feed.name}/retentionpolicies")
        if exists:
            current = (
                self.azure.request(
                    "GET",
                    url,
                    f"read the retention policy of {self.feed}",
                    needs="reading retention needs the Feed Owner role",
                )
                or {}
            )
            if all(current.get(key) == value for key, value in wanted.items()):
                return []

        def set_policy() -> None:
            self.azure.request(
                "PUT",
                url,
                f"set the retention policy of {self.feed}",
                wanted,
                needs="retention policies need the Feed Owner role",
            )

        return [
            Change(
                f"keep at most {RETENTION_VERSIONS} versions of each package in"
                f" {self.feed.name}"
                f" (and any downloaded in the last"
                f" {RETENTION_RECENTLY_DOWNLOADED_DAYS} days;"
                " versions promoted to a view are always kept)",
                set_policy,
            )
        ]

    # Roles of the build identities (feed.json: Feed Permissions; ims: Identities).
    def build_identities(self) -> list[str]:
        org = self.feed.organization
        names = [f"Project Collection Build Service ({org})"]
        if self.project:
            names.append(f"{self.project} Build Service ({org})")
        return names

    def identity_descriptor(self, name: str) -> str:
        url = self.azure.url(
            "vssps",
            None,
            "identities",
            searchFilter="General",
            filterValue=name,
            queryMembership="None",
        )
        found = self.azure.request(
            "GET",
            url,
            f"look up the identity {name}",
            needs="looking up identities needs the credential's user"
            " to be in the organization",
        )
        identities = found.get("value") or []
        if not identities:
            raise AzureDevOpsError(
                f"Cannot find the build identity {name!r} in {self.feed.organization}:"
                " check the project's name, or run a first pipeline there,"
                " which makes it"
            )
        return identities[0]["descriptor"]

    def role_changes(self, exists: bool) -> list[Change]:
        url = self.feeds_url(f"{self.feed.name}/permissions")
        roles = {}
        if exists:
            for permission in self.azure.request(
                "GET",
                url,
                f"read the permissions of {self.feed}",
                needs="reading feed permissions needs the Feed Owner role",
            )["value"]:
                roles[permission["identityDescriptor"]] = permission.get("role", "none")
        changes = []
        for name in self.build_identities():
            descriptor = self.identity_descriptor(name)
            if ROLES.index(BUILD_ROLE) <= rank(roles.get(descriptor, "none")):
                continue

            def give(descriptor: str = descriptor, name: str = name) -> None:
                self.azure.request(
                    "PATCH",
                    url,
                    f"give {name} the {ROLE_NAMES[BUILD_ROLE]} role on {self.feed}",
                    [{"role": BUILD_ROLE, "identityDescriptor": descriptor}],
                    needs="feed permissions need the Feed Owner role",
                )

            changes.append(
                Change(
                    f"give {name} the {ROLE_NAMES[BUILD_ROLE]} role on"
                    f" {self.feed.name},"
                    " to publish and promote from pipelines",
                    give,
                )
            )
        return changes

    def pipeline_maker(
        self,
        repository: dict[str, Any],
        name: str,
        path: str,
        created: dict[str, Any],
    ) -> Callable[[], None]:
        """Creates the pipeline; the library's own goes into `created`."""

        def create_pipeline() -> None:
            body = {
                "name": name,
                "folder": "\\",
                "configuration": {
                    "type": "yaml",
                    "path": path,
                    "repository": {"id": repository["id"], "type": "azureReposGit"},
                },
            }
            answer = self.azure.request(
                "POST",
                self.azure.url("dev", self.project, "pipelines"),
                f"create the pipeline {name}",
                body,
                needs="creating pipelines needs Edit build pipeline in the"
                " project (and the Build: Read & execute scope)",
            )
            if path == PIPELINE_FILE:
                created.update(answer)

        return create_pipeline

    # The library's pipeline (pipelines.json) and build validation (policy.json).
    def pipeline_changes(
        self, repository_name: str, second_name: str, second_path: str
    ) -> list[Change]:
        """The repository's pipeline (from azure-pipelines.yml, required by the
        build validation policy on main) and a second one from the repository."""
        project = self.project
        repository = self.azure.request(
            "GET",
            self.azure.url("dev", project, f"git/repositories/{repository_name}"),
            f"find the repository {repository_name} in project {project}",
            needs="reading repositories needs the Code (Read) scope",
        )
        pipelines = self.azure.request(
            "GET",
            self.azure.url("dev", project, "pipelines"),
            f"list the pipelines of {project}",
            needs="reading pipelines needs the Build (Read) scope",
        )["value"]
        existing = next((p for p in pipelines if p["name"] == repository_name), None)
        changes = []
        created: dict[str, Any] = dict(existing or {})
        names = {p["name"] for p in pipelines}
        for name, path in (
            (repository_name, PIPELINE_FILE),
            (second_name, second_path),
        ):
            if name not in names:
                changes.append(
                    Change(
                        f"create the pipeline {name} from {path} of the repository"
                        f" {repository_name}",
                        self.pipeline_maker(repository, name, path, created),
                    )
                )
        policies = self.azure.request(
            "GET",
            self.azure.url("dev", project, "policy/configurations"),
            f"list the branch policies of {project}",
            needs="reading policies needs the Code (Read) scope",
        )["value"]
        if existing is None or not any(
            is_build_validation(policy, repository["id"], existing["id"])
            for policy in policies
        ):

            def create_policy() -> None:
                body = {
                    "isEnabled": True,
                    "isBlocking": True,
                    "type": {"id": BUILD_POLICY_TYPE},
                    "settings": {
                        "buildDefinitionId": created["id"],
                        "displayName": repository_name,
                        "manualQueueOnly": False,
                        "queueOnSourceUpdateOnly": True,
                        "validDuration": 720,
                        "scope": [
                            {
                                "repositoryId": repository["id"],
                                "refName": "refs/heads/main",
                                "matchKind": "exact",
                            }
                        ],
                    },
                }
                self.azure.request(
                    "POST",
                    self.azure.url("dev", project, "policy/configurations"),
                    f"add the build validation policy on main of {repository_name}",
                    body,
                    needs="branch policies need Edit policies on the repository",
                )

            changes.append(
                Change(
                    f"require the pipeline {repository_name} to pass before pull"
                    " requests"
                    " merge into main (build validation policy)",
                    create_policy,
                )
            )
        return changes


def rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def is_build_validation(
    policy: dict[str, Any], repository_id: str, pipeline_id: int
) -> bool:
    settings = policy.get("settings", {})
    return (
        policy.get("type", {}).get("id") == BUILD_POLICY_TYPE
        and settings.get("buildDefinitionId") == pipeline_id
        and any(
            scope.get("repositoryId") == repository_id
            and scope.get("refName") == "refs/heads/main"
            for scope in settings.get("scope", [])
        )
    )


def promote(
    azure: AzureDevOps,
    feed: Feed,
    package: str,
    version: str,
    view: str,
    pipeline_project: str | None = None,
) -> None:
    """Add a published version to a view of the feed; `pipeline_project` names
    the project of the pipeline running this, if one is.

    pyPiApi.json: Python Update Package Version.
    """
    who = "the identity that runs this"
    if pipeline_project:
        who = "the pipeline's build identity, " + build_identities_of(
            feed.organization, pipeline_project
        )
    url = azure.url(
        "pkgs",
        feed.project,
        f"packaging/feeds/{feed.name}/pypi/packages/{package}/versions/{version}",
        **{"api-version": PYPI_API_VERSION},
    )
    body = {"views": {"op": "add", "path": "/views/-", "value": view}}
    azure.request(
        "PATCH",
        url,
        f"promote {package} {version} to {feed.name}@{view}",
        body,
        needs=f"promoting needs the {ROLE_NAMES['contributor']} role on"
        f" {feed.name} for {who}",
    )


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
        found = self.azure.request(
            "GET",
            self.url(
                **{
                    "searchCriteria.sourceRefName": f"refs/heads/{source}",
                    "searchCriteria.targetRefName": f"refs/heads/{target}",
                    "searchCriteria.status": "active",
                }
            ),
            f"list the pull requests of {self.repository}",
            needs=self.needs("reading pull requests"),
        )["value"]
        return found[0] if found else None

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
        answer: dict[str, Any] = self.azure.request(
            "POST",
            self.url(),
            f"open a pull request from {source} into {target} of {self.repository}",
            body,
            needs=self.needs(who),
        )
        return answer

    def update(
        self, number: int, title: str, description: str, who: str
    ) -> dict[str, Any]:
        answer: dict[str, Any] = self.azure.request(
            "PATCH",
            self.url(f"/{number}"),
            f"update pull request {number} of {self.repository}",
            {"title": title, "description": fitted(description)},
            needs=self.needs(who),
        )
        return answer


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


def coordinates_of(project_dir: Path) -> tuple[Feed, str | None, str]:
    """The feed of a baked project ([tool.azure-artifacts]), its Azure
    project and its name."""
    pyproject = project_dir / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        table = data["tool"]["azure-artifacts"]
        feed = Feed(table["organization"], table.get("project"), table["feed"])
        return feed, table.get("project"), data["project"]["name"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise AzureDevOpsError(
            f"{pyproject} has no [tool.azure-artifacts] table with organization"
            " and feed"
            f" ({type(error).__name__}: {error}): pass a project made from this"
            " template,"
            " or --organization, --project and --feed"
        ) from None


def service_url(env: dict[str, str]) -> str | None:
    """AZURE_DEVOPS_SERVICE_URL: an Azure DevOps Server's URL (the organization is
    then the collection's name), instead of Azure DevOps Services' hosts."""
    return env.get("AZURE_DEVOPS_SERVICE_URL") or None


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="azure_devops.py", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    setup = commands.add_parser(
        "setup", help="create or check the feed, its retention, roles and pipeline"
    )
    setup.add_argument(
        "project_dir", nargs="?", type=Path, help="a project made from this template"
    )
    setup.add_argument("--organization")
    setup.add_argument(
        "--project",
        help="the Azure DevOps project of the library's repository and pipeline",
    )
    setup.add_argument("--feed")
    setup.add_argument(
        "--scope",
        choices=["project", "organization"],
        help="of a new feed (default: project)",
    )
    setup.add_argument(
        "--pipeline",
        action="store_true",
        help="also create the library's pipeline and its build validation policy",
    )
    setup.add_argument(
        "--repository", help="the library's repository (default: its distribution name)"
    )
    setup.add_argument(
        "--template-repository",
        metavar="NAME",
        help="also create the pipelines of this template's repository in --project:"
        " its tests and releases (and their build validation policy), and Renovate",
    )
    setup.add_argument(
        "--dry-run", action="store_true", help="list the changes, make none"
    )
    promote_ = commands.add_parser(
        "promote", help="add a published version to a view of the feed"
    )
    promote_.add_argument("--organization", required=True)
    promote_.add_argument("--project", help="of a project-scoped feed")
    promote_.add_argument("--feed", required=True, help="FEED, or PROJECT/FEED")
    promote_.add_argument("--package", required=True)
    promote_.add_argument("--version", required=True)
    promote_.add_argument("--view", default="Release")
    return parser.parse_args(argv)


def setup_from(arguments: argparse.Namespace) -> tuple[Feed, str | None, str | None]:
    """The feed, the library's Azure project and its repository the arguments name."""
    name = None
    if arguments.project_dir:
        feed, project, name = coordinates_of(arguments.project_dir)
        project = arguments.project or project
    elif arguments.organization and arguments.feed:
        scope = arguments.scope or "project"
        project = arguments.project
        if scope == "project" and not project:
            raise AzureDevOpsError(
                "A project-scoped feed needs --project (or pass --scope organization)"
            )
        feed = Feed(
            arguments.organization,
            project if scope == "project" else None,
            arguments.feed,
        )
    else:
        raise AzureDevOpsError(
            "Name the feed: a project made from this template, or --organization"
            " and --feed"
        )
    if (arguments.pipeline or arguments.template_repository) and not project:
        raise AzureDevOpsError(
            "Pipelines need their Azure DevOps project, which an"
            " organization-scoped feed does not name: pass --project NAME"
        )
    return feed, project, (arguments.repository or name) if arguments.pipeline else None


def main(argv: list[str] | None = None, env: dict[str, str] = os.environ) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        if arguments.command == "promote":
            # --feed PROJECT/FEED, as the pipelines' artifactFeed, or --project.
            project, _, name = arguments.feed.rpartition("/")
            feed = Feed(arguments.organization, project or arguments.project, name)
            azure = AzureDevOps(feed.organization, credential(env), service_url(env))
            promote(azure, feed, arguments.package, arguments.version, arguments.view,
                    env.get("SYSTEM_TEAMPROJECT"))  # fmt: skip
            print(
                f"Promoted {arguments.package} {arguments.version}"
                f" to {feed.name}@{arguments.view}"
            )
            return 0
        feed, project, repository = setup_from(arguments)
        azure = AzureDevOps(feed.organization, credential(env), service_url(env))
        changes = FeedSetup(azure, feed, project).changes(
            repository, arguments.template_repository
        )
        if not changes:
            print(
                f"Nothing to change: {feed} is set up as libraries of this"
                " template need it"
            )
            return 0
        for change in changes:
            if arguments.dry_run:
                print(f"Would {change.description}")
            else:
                change.make()
                print(f"Did {change.description}")
        if arguments.dry_run:
            print("Dry run: nothing was changed")
        return 0
    except AzureDevOpsError as error:
        print(f"azure_devops.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
