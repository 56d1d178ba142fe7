"""Set up the Azure Artifacts feed of libraries made from this template, and
promote releases.

    python3 -m azure_pylib setup ../my-shared-utils            # a baked project's feed
    python3 -m azure_pylib setup --organization myorg --project myproject \\
        --feed python-internal [--scope organization]
    python3 -m azure_pylib setup ../my-shared-utils --pipeline  # and its pipelines
    python3 -m azure_pylib setup ... --template-repository cookiecutter-azure-pylib
    python3 -m azure_pylib promote --organization myorg --project myproject \\
        --feed python-internal --package my-shared-utils --version 1.2.0

`setup` creates the feed if it is missing (PyPI as an upstream source), adds
PyPI to an existing one or turns its upstream sources back on, sets the
retention policy, gives both build identities the Feed Publisher (Contributor)
role. With --pipeline it creates the library's pipeline from its
azure-pipelines.yml, the build validation policy on main (or makes an existing
one enabled and blocking again) and the template-updates pipeline; with
--template-repository, the same for this template's repository (its tests and
releases) and the organisation's Renovate pipeline. It changes only what
differs, checks that each change took, and --dry-run lists the changes without
making them. A second run says there is nothing to change.

Credentials, never from the command line and never printed: the PAT in
AZURE_DEVOPS_EXT_PAT (the variable the Azure CLI's devops extension reads;
scopes: devops.SETUP_SCOPES), else SYSTEM_ACCESSTOKEN (a pipeline's job token,
mapped into the step), else the Azure CLI's signed-in account (`az login`). On
Azure DevOps Server, set AZURE_DEVOPS_SERVICE_URL to the server's URL and name
the collection as the organization.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure_pylib.devops import (
    AzureDevOps,
    AzureDevOpsError,
    Scope,
    build_identities_of,
    credential,
    server_url,
)
from azure_pylib.feed import Problem, project_of

PYPI_API_VERSION = "7.1-preview.1"  # pyPiApi.json is a preview area

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
MAIN = "refs/heads/main"
PIPELINE_FILE = "/azure-pipelines.yml"
UPDATE_PIPELINE_FILE = "/pipelines/template-updates.yml"
RENOVATE_PIPELINE_FILE = "/pipelines/renovate.yml"  # in the template's repository


@dataclass(frozen=True)
class Feed:
    """Where a feed lives: its organisation, its project (None: organisation-scoped)."""

    organization: str
    project: str | None
    name: str

    def __str__(self) -> str:
        scope = f"project {self.project}" if self.project else "the organization"
        return f"feed {self.name} ({scope} of {self.organization})"


@dataclass
class Change:
    """One change a run makes, described before it is made."""

    description: str
    make: Callable[[], Any]


def is_pypi(source: Any) -> bool:
    return (
        isinstance(source, dict)
        and str(source.get("protocol", "")).lower() == "pypi"
        and str(source.get("upstreamSourceType", "")).lower() == "public"
    )


def is_build_validation(
    policy: dict[str, Any], repository_id: str, pipeline_id: Any
) -> bool:
    kind, settings = policy.get("type"), policy.get("settings")
    if not isinstance(kind, dict) or not isinstance(settings, dict):
        return False
    return (
        kind.get("id") == BUILD_POLICY_TYPE
        and not policy.get("isDeleted")
        and settings.get("buildDefinitionId") == pipeline_id
        and any(
            scope.get("repositoryId") == repository_id and scope.get("refName") == MAIN
            for scope in settings.get("scope") or []
            if isinstance(scope, dict)
        )
    )


class FeedSetup:
    """The changes that bring a feed, its settings and a library's pipeline to
    what the template's libraries need: working them out only reads; each
    change makes its requests, and checks they took, when `make` is called."""

    def __init__(self, azure: AzureDevOps, feed: Feed, project: str | None) -> None:
        self.azure, self.feed, self.project = azure, feed, project

    def feeds_url(self, path: str = "") -> str:
        feeds = f"packaging/feeds/{path}" if path else "packaging/feeds"
        return self.azure.url("feeds", self.feed.project, feeds)

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
        what = f"read {self.feed}"
        try:
            found = self.azure.request(
                "GET",
                self.feeds_url(self.feed.name),
                what,
                scope=Scope.PACKAGING_READ,
                needs="reading a feed needs the Feed Reader role on it",
            )
        except AzureDevOpsError as error:
            if error.status == 404:
                if self.feed.project:
                    self.check_project_exists()
                return None
            raise
        return self.azure.shaped(found, what, "id")

    def check_project_exists(self) -> None:
        self.azure.request(
            "GET",
            self.azure.url("dev", None, f"projects/{self.feed.project}"),
            f"find project {self.feed.project} in {self.feed.organization}",
            scope=Scope.PROJECT_READ,
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
                scope=Scope.PACKAGING_WRITE,
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
        self.took(
            lambda feed: feed is not None and self.pypi_is_on(feed),
            self.current_feed,
            f"create {self.feed} with PyPI as an upstream source",
        )

    def pypi_is_on(self, feed: dict[str, Any]) -> bool:
        sources = feed.get("upstreamSources") or []
        return bool(feed.get("upstreamEnabled")) and any(map(is_pypi, sources))

    def upstream_changes(self, current: dict[str, Any]) -> list[Change]:
        if self.pypi_is_on(current):
            return []
        sources = [
            s for s in current.get("upstreamSources") or [] if isinstance(s, dict)
        ]
        if any(map(is_pypi, sources)):  # listed, but the feed's upstreams are off
            update: dict[str, Any] = {"upstreamEnabled": True}
            description = (
                f"turn the upstream sources of {self.feed} back on (PyPI is listed,"
                " but upstream sources are off)"
            )
        else:
            update = {
                "upstreamEnabled": True,
                "upstreamSources": [*sources, PYPI_UPSTREAM],
            }
            description = f"add PyPI as an upstream source of {self.feed} (it has none)"

        def turn_on() -> None:
            self.azure.request(
                "PATCH",
                self.feeds_url(current["id"]),
                description,
                update,
                scope=Scope.PACKAGING_MANAGE,
                needs="changing a feed's upstream sources needs the Feed Owner role",
            )
            self.took(self.pypi_is_on_now, lambda: None, description)

        return [Change(description, turn_on)]

    def pypi_is_on_now(self, _: Any) -> bool:
        current = self.current_feed()
        return current is not None and self.pypi_is_on(current)

    # Retention (feed.json: Retention Policies).
    def wanted_retention(self) -> dict[str, int]:
        return {
            "countLimit": RETENTION_VERSIONS,
            "daysToKeepRecentlyDownloadedPackages": RETENTION_RECENTLY_DOWNLOADED_DAYS,
        }

    def retention(self) -> dict[str, Any]:
        found = self.azure.request(
            "GET",
            self.feeds_url(f"{self.feed.name}/retentionpolicies"),
            f"read the retention policy of {self.feed}",
            scope=Scope.PACKAGING_READ,
            needs="reading retention needs the Feed Owner role",
        )
        return found if isinstance(found, dict) else {}

    def retention_is_set(self, current: dict[str, Any]) -> bool:
        return all(current.get(k) == v for k, v in self.wanted_retention().items())

    def retention_changes(self, exists: bool) -> list[Change]:
        if exists and self.retention_is_set(self.retention()):
            return []
        description = (
            f"keep at most {RETENTION_VERSIONS} versions of each package in"
            f" {self.feed.name} (and any downloaded in the last"
            f" {RETENTION_RECENTLY_DOWNLOADED_DAYS} days; versions promoted to a"
            " view are always kept)"
        )

        def set_policy() -> None:
            self.azure.request(
                "PUT",
                self.feeds_url(f"{self.feed.name}/retentionpolicies"),
                f"set the retention policy of {self.feed}",
                self.wanted_retention(),
                scope=Scope.PACKAGING_WRITE,
                needs="retention policies need the Feed Owner role",
            )
            self.took(self.retention_is_set, self.retention, description)

        return [Change(description, set_policy)]

    def took(
        self, holds: Callable[[Any], bool], read: Callable[[], Any], what: str
    ) -> None:
        """Read back what a change made: a success that changed nothing is a refusal."""
        if not holds(read()):
            raise AzureDevOpsError(
                f"Azure DevOps accepted the request to {what}, but reading it back"
                " shows no change: a policy of the organization may keep it; ask"
                " its administrators, or make the change in the web portal"
            )

    # Roles of the build identities (feed.json: Feed Permissions; ims: Identities).
    def build_identities(self) -> list[str]:
        names = [f"Project Collection Build Service ({self.feed.organization})"]
        if self.project:
            names.append(f"{self.project} Build Service ({self.feed.organization})")
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
        what = f"look up the identity {name}"
        found = self.azure.shaped_values(
            self.azure.request(
                "GET",
                url,
                what,
                scope=Scope.IDENTITY_READ,
                needs="looking up identities needs the credential's user"
                " to be in the organization",
            ),
            what,
        )
        # A General search also answers near matches: take the identity of that name.
        exact = [
            identity
            for identity in found
            if display_name(identity).casefold() == name.casefold()
            and isinstance(identity.get("descriptor"), str)
        ]
        if not exact:
            raise AzureDevOpsError(
                f"Cannot find the build identity {name!r} in {self.feed.organization}:"
                " check the project's name, or run a first pipeline there,"
                " which makes it"
            )
        return str(exact[0]["descriptor"])

    def permissions_url(self) -> str:
        return self.feeds_url(f"{self.feed.name}/permissions")

    def roles(self) -> dict[str, str]:
        what = f"read the permissions of {self.feed}"
        found = self.azure.shaped_values(
            self.azure.request(
                "GET",
                self.permissions_url(),
                what,
                scope=Scope.PACKAGING_READ,
                needs="reading feed permissions needs the Feed Owner role",
            ),
            what,
        )
        return {
            str(p.get("identityDescriptor")): str(p.get("role", "none")) for p in found
        }

    def role_changes(self, exists: bool) -> list[Change]:
        roles = self.roles() if exists else {}
        changes = []
        for name in self.build_identities():
            descriptor = self.identity_descriptor(name)
            if ROLES.index(BUILD_ROLE) <= rank(roles.get(descriptor, "none")):
                continue
            description = (
                f"give {name} the {ROLE_NAMES[BUILD_ROLE]} role on {self.feed.name},"
                " to publish and promote from pipelines"
            )

            def give(
                descriptor: str = descriptor, description: str = description
            ) -> None:
                self.azure.request(
                    "PATCH",
                    self.permissions_url(),
                    description,
                    [{"role": BUILD_ROLE, "identityDescriptor": descriptor}],
                    scope=Scope.PACKAGING_MANAGE,
                    needs="feed permissions need the Feed Owner role",
                )
                self.took(
                    lambda roles: rank(roles.get(descriptor, "none"))
                    >= rank(BUILD_ROLE),
                    self.roles,
                    description,
                )

            changes.append(Change(description, give))
        return changes

    # The library's pipeline (pipelines.json) and build validation (policy.json).
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
            what = f"create the pipeline {name}"
            answer = self.azure.shaped(
                self.azure.request(
                    "POST",
                    self.azure.url("dev", self.project, "pipelines"),
                    what,
                    body,
                    scope=Scope.BUILD_EXECUTE,
                    needs="creating pipelines needs Edit build pipeline in the project",
                ),
                what,
                "id",
            )
            self.took(
                lambda pipelines: any(
                    p.get("id") == answer["id"] and p.get("name") == name
                    for p in pipelines
                ),
                self.pipelines,
                what,
            )
            if path == PIPELINE_FILE:
                created.update(answer)

        return create_pipeline

    def pipelines(self) -> list[dict[str, Any]]:
        return self.azure.values(
            self.azure.url("dev", self.project, "pipelines"),
            f"list the pipelines of {self.project}",
            scope=Scope.BUILD_READ,
        )

    def policies(self) -> list[dict[str, Any]]:
        return self.azure.values(
            self.azure.url("dev", self.project, "policy/configurations"),
            f"list the branch policies of {self.project}",
            scope=Scope.CODE_READ,
        )

    def pipeline_changes(
        self, repository_name: str, second_name: str, second_path: str
    ) -> list[Change]:
        """The repository's pipeline (from azure-pipelines.yml, required by the
        build validation policy on main) and a second one from the repository."""
        what = f"find the repository {repository_name} in project {self.project}"
        repository = self.azure.shaped(
            self.azure.request(
                "GET",
                self.azure.url(
                    "dev", self.project, f"git/repositories/{repository_name}"
                ),
                what,
                scope=Scope.CODE_READ,
            ),
            what,
            "id",
        )
        pipelines = self.pipelines()
        names = {p.get("name") for p in pipelines}
        existing = next(
            (p for p in pipelines if p.get("name") == repository_name), None
        )
        created: dict[str, Any] = dict(existing or {})
        changes = [
            Change(
                f"create the pipeline {name} from {path} of the repository"
                f" {repository_name}",
                self.pipeline_maker(repository, name, path, created),
            )
            for name, path in (
                (repository_name, PIPELINE_FILE),
                (second_name, second_path),
            )
            if name not in names
        ]
        found = [
            policy
            for policy in (self.policies() if existing else [])
            if is_build_validation(
                policy, repository["id"], existing and existing.get("id")
            )
        ]
        if any(p.get("isEnabled") and p.get("isBlocking") for p in found):
            return changes
        if found:
            changes.append(self.policy_repair(found[0], repository, repository_name))
        else:
            changes.append(self.policy_creation(repository, repository_name, created))
        return changes

    def requiring(
        self, repository_id: str, pipeline_id: Any
    ) -> Callable[[list[dict[str, Any]]], bool]:
        """Whether policies make main's pull requests wait for the pipeline."""
        return lambda policies: any(
            is_build_validation(p, repository_id, pipeline_id)
            and p.get("isEnabled") is True
            and p.get("isBlocking") is True
            for p in policies
        )

    def policy_creation(
        self, repository: dict[str, Any], repository_name: str, created: dict[str, Any]
    ) -> Change:
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
                            "refName": MAIN,
                            "matchKind": "exact",
                        }
                    ],
                },
            }
            what = f"add the build validation policy on main of {repository_name}"
            self.azure.request(
                "POST",
                self.azure.url("dev", self.project, "policy/configurations"),
                what,
                body,
                scope=Scope.CODE_WRITE,
                needs="branch policies need Edit policies on the repository",
            )
            self.took(self.requiring(repository["id"], created["id"]), self.policies,
                      what)  # fmt: skip

        return Change(
            f"require the pipeline {repository_name} to pass before pull requests"
            " merge into main (build validation policy)",
            create_policy,
        )

    def policy_repair(
        self, policy: dict[str, Any], repository: dict[str, Any], repository_name: str
    ) -> Change:
        state = " and ".join(
            word
            for word, on in (("disabled", policy.get("isEnabled")),
                             ("optional", policy.get("isBlocking")))  # fmt: skip
            if not on
        )

        def repair() -> None:
            body = {
                key: policy[key] for key in ("type", "settings") if key in policy
            } | {"isEnabled": True, "isBlocking": True}
            what = (
                f"make the build validation policy on main of {repository_name}"
                " enabled and blocking"
            )
            self.azure.request(
                "PUT",
                self.azure.url(
                    "dev", self.project, f"policy/configurations/{policy['id']}"
                ),
                what,
                body,
                scope=Scope.CODE_WRITE,
                needs="branch policies need Edit policies on the repository",
            )
            pipeline_id = policy["settings"]["buildDefinitionId"]
            self.took(
                self.requiring(repository["id"], pipeline_id), self.policies, what
            )

        return Change(
            f"make the build validation policy on main of {repository_name} enabled"
            f" and blocking (it is {state})",
            repair,
        )


def display_name(identity: dict[str, Any]) -> str:
    """An identity's name; a group's comes as [scope]\\Name."""
    name = str(identity.get("providerDisplayName") or "")
    return name.split("\\", 1)[1] if name.startswith("[") and "\\" in name else name


def rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


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
        scope=Scope.PACKAGING_MANAGE,
        needs=f"promoting needs the {ROLE_NAMES['contributor']} role on"
        f" {feed.name} for {who}",
    )


def coordinates_of(project_dir: Path) -> tuple[Feed, str | None, str]:
    """The feed of a baked project ([tool.azure-artifacts]), its Azure
    project and its name."""
    try:
        name, address = project_of(project_dir / "pyproject.toml")
    except Problem as problem:
        raise AzureDevOpsError(
            f"{problem}, or pass --organization, --project and --feed"
        ) from None
    feed = Feed(address.organization, address.project, address.name)
    return feed, feed.project, name


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 -m azure_pylib",
        description="Set up an Azure Artifacts feed, a library's pipelines, and"
        " promote releases.",
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
    promote_.add_argument(
        "project_dir", nargs="?", type=Path, help="a library made from this template"
    )
    promote_.add_argument("--organization")
    promote_.add_argument("--project", help="of a project-scoped feed")
    promote_.add_argument("--feed", help="FEED, or PROJECT/FEED")
    promote_.add_argument("--package")
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


def promotion_of(arguments: argparse.Namespace) -> tuple[Feed, str]:
    """The feed and package a promotion names: a library's pyproject.toml, or
    --organization, --feed (FEED or PROJECT/FEED, as the pipelines'
    artifactFeed) and --package."""
    if arguments.project_dir:
        feed, _, package = coordinates_of(arguments.project_dir)
        return feed, package
    if not (arguments.organization and arguments.feed and arguments.package):
        raise AzureDevOpsError(
            "Name the release's feed: a library made from this template, or"
            " --organization, --feed and --package"
        )
    project, _, name = arguments.feed.rpartition("/")
    feed = Feed(arguments.organization, project or arguments.project, name)
    return feed, arguments.package


def run(arguments: argparse.Namespace, env: dict[str, str]) -> int:
    if arguments.command == "promote":
        feed, package = promotion_of(arguments)
        azure = AzureDevOps(feed.organization, credential(env), server_url(env))
        promote(azure, feed, package, arguments.version, arguments.view,
                env.get("SYSTEM_TEAMPROJECT"))  # fmt: skip
        print(f"Promoted {package} {arguments.version} to {feed.name}@{arguments.view}")
        return 0
    feed, project, repository = setup_from(arguments)
    azure = AzureDevOps(feed.organization, credential(env), server_url(env))
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
            print(f"Did {change.description}", flush=True)
    if arguments.dry_run:
        print("Dry run: nothing was changed")
    return 0


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        return run(arguments, dict(os.environ if env is None else env))
    except AzureDevOpsError as error:
        print(f"azure_pylib {arguments.command}: {error}", file=sys.stderr)
        return 1
