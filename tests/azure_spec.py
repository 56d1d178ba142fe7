"""The operations of Azure DevOps' REST API that the template calls, as
MicrosoftDocs/vsts-rest-api-specs (version 7.1) describes them.

Each Operation is transcribed from one operation of the specification, named
by its file and operationId: its host (the file's `host`), method and path,
whether the path takes a project, its api-version (the `api-Version` or
`api-Version-preview.1` parameter), the OAuth scope of its `security` section,
the properties its body definition has (a misspelt or invented property is an
error, as Azure's model binding drops it silently) and the status of its
success (every one of them lists 200 only).

The Azure DevOps stand-in routes by this table and refuses what it does not
match; tests/test_azure_spec.py checks every request a test sent.

One deviation, with its source: FeedPermission's identityDescriptor is an
IdentityDescriptor object in the specification, but Azure's serializer writes
and reads it as the "Type;Identifier" string (Microsoft's own feed tooling
sends it so: dotnet/arcade, Microsoft.DotNet.Build.Tasks.Feed,
AzureDevOpsFeedPermission).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema

# Scopes and the lesser scopes each includes (learn.microsoft.com, "OAuth
# scopes": "some scopes include others, e.g. vso.code_manage includes
# vso.code_write").
INCLUDES = {
    "vso.packaging_manage": {"vso.packaging_write", "vso.packaging"},
    "vso.packaging_write": {"vso.packaging"},
    "vso.code_manage": {"vso.code_write", "vso.code"},
    "vso.code_write": {"vso.code"},
    "vso.build_execute": {"vso.build"},
    "vso.identity_manage": {"vso.identity"},
    "vso.project_manage": {"vso.project_write", "vso.project"},
    "vso.project_write": {"vso.project"},
}


def granted(scopes: frozenset[str] | None, needed: tuple[str, ...]) -> bool:
    """Whether a token with `scopes` (None: every scope) may call an operation
    whose security section lists `needed` (any one of them)."""
    if scopes is None:
        return True
    having = set(scopes)
    for scope in scopes:
        having |= INCLUDES.get(scope, set())
    return bool(having & set(needed))


def typed(schema: dict[str, Any], names: str) -> dict[str, Any]:
    """The same schema for each of the space-separated property names."""
    return dict.fromkeys(names.split(), schema)


def strict(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": list(required),
    }


TEXT: dict[str, Any] = {"type": ["string", "null"]}
FLAG: dict[str, Any] = {"type": ["boolean", "null"]}
NUMBER: dict[str, Any] = {"type": ["integer", "null"]}
ANY: dict[str, Any] = {}

# feed.json: UpstreamSource, FeedCore + Feed, FeedUpdate, FeedRetentionPolicy,
# FeedPermission.
UPSTREAM_SOURCE = strict(
    {
        **typed(
            TEXT,
            "deletedDate displayLocation id internalUpstreamCollectionId"
            " internalUpstreamFeedId internalUpstreamProjectId"
            " internalUpstreamViewId location name protocol"
            " serviceEndpointId serviceEndpointProjectId",
        ),
        "status": {"enum": ["ok", "disabled", None]},
        "statusDetails": ANY,
        "upstreamSourceType": {"enum": ["public", "internal"]},
    }
)
UPSTREAM_SOURCES = {"type": "array", "items": UPSTREAM_SOURCE}
FEED = strict(
    {
        **typed(ANY, "_links permissions project view capabilities"),
        **typed(
            TEXT,
            "defaultViewId deletedDate description permanentDeletedDate"
            " scheduledPermanentDeleteDate upstreamEnabledChangedDate url"
            " fullyQualifiedId fullyQualifiedName id name viewId viewName",
        ),
        **typed(
            FLAG,
            "badgesEnabled hideDeletedPackageVersions isReadOnly" " upstreamEnabled",
        ),
        "upstreamSources": UPSTREAM_SOURCES,
    },
    required=("name",),
)
FEED_UPDATE = strict(
    {
        **typed(
            FLAG,
            "allowUpstreamNameConflict badgesEnabled"
            " hideDeletedPackageVersions upstreamEnabled",
        ),
        **typed(TEXT, "defaultViewId description id name"),
        "upstreamSources": UPSTREAM_SOURCES,
    }
)
RETENTION = strict(
    typed(NUMBER, "ageLimitInDays countLimit daysToKeepRecentlyDownloadedPackages"),
)
PERMISSIONS = {
    "type": "array",
    "items": strict(
        {
            "displayName": TEXT,
            "identityDescriptor": {"type": "string"},  # see the module's docstring
            "identityId": TEXT,
            "isInheritedRole": FLAG,
            "role": {"enum": ["custom", "none", "reader", "contributor",
                              "administrator", "collaborator"]},  # fmt: skip
        },
        required=("role", "identityDescriptor"),
    ),
}
# pyPiApi.json: PackageVersionDetails, JsonPatchOperation.
PACKAGE_VERSION_DETAILS = strict(
    {
        "views": strict(
            {
                "from": TEXT,
                "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                "path": TEXT,
                "value": ANY,
            },
            required=("op", "path"),
        )
    },
    required=("views",),
)
# pipelines.json: CreatePipelineParameters, with the YAML configuration's
# path and repository (CreatePipelineConfigurationParameters names the type).
CREATE_PIPELINE = strict(
    {
        "configuration": {
            "type": "object",
            "properties": {
                "type": {"enum": ["unknown", "yaml", "designerJson", "justInTime",
                                  "designerHyphenJson"]},  # fmt: skip
                "path": {"type": "string"},
                "repository": {"type": "object"},
            },
            "required": ["type"],
        },
        "folder": TEXT,
        "name": {"type": "string"},
    },
    required=("configuration", "name"),
)
# policy.json: PolicyConfiguration (with VersionedPolicyConfigurationRef and
# PolicyConfigurationRef).
POLICY = strict(
    {
        **typed(ANY, "_links createdBy settings type"),
        **typed(TEXT, "createdDate url"),
        **typed(FLAG, "isBlocking isDeleted isEnabled isEnterpriseManaged"),
        **typed(NUMBER, "id revision"),
    },
    required=("type", "settings"),
)
# git.json: GitPullRequest.
PULL_REQUEST = strict(
    {
        **typed(
            ANY,
            "_links autoCompleteSetBy closedBy commits completionOptions"
            " createdBy forkSource labels lastMergeCommit"
            " lastMergeSourceCommit lastMergeTargetCommit mergeOptions"
            " repository reviewers workItemRefs",
        ),
        **typed(
            TEXT,
            "artifactId closedDate completionQueueTime creationDate"
            " description mergeFailureMessage mergeFailureType mergeId"
            " mergeStatus remoteUrl sourceRefName status targetRefName"
            " title url",
        ),
        **typed(FLAG, "hasMultipleMergeBases isDraft supportsIterations"),
        **typed(NUMBER, "codeReviewId pullRequestId"),
    }
)


@dataclass(frozen=True)
class Operation:
    name: str  # the specification's operationId
    source: str  # specification/<area>/7.1/<file>
    host: str  # dev, feeds, pkgs, vssps: <host>.dev.azure.com, dev.azure.com for dev
    method: str
    path: str  # after /{organization}[/{project}]/_apis/
    project: str  # "required", "optional" (org-scoped feeds) or "none"
    api_version: str
    scopes: tuple[str, ...]
    body: dict[str, Any] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path's parameters as named groups; Azure's routes ignore case
        (but the specification's paths have no trailing slash)."""
        parts = re.split(r"\{(\w+)\}", self.path)
        regex = "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
        return re.compile(regex, re.IGNORECASE)

    def problems(self, project: str | None, version: str, body: Any) -> list[str]:
        """How a request that matched this operation's path differs from it."""
        found = []
        if self.project == "required" and not project:
            found.append(f"{self.name} needs a project in its path")
        if self.project == "none" and project:
            found.append(f"{self.name} takes no project in its path")
        if version != self.api_version:
            found.append(
                f"{self.name} is api-version {self.api_version}, not {version!r}"
            )
        if self.body is not None:
            errors = sorted(
                jsonschema.Draft7Validator(self.body).iter_errors(body),
                key=lambda e: list(e.path),
            )
            found += [f"{self.name} body: {e.message}" for e in errors[:3]]
        elif body is not None:
            found.append(f"{self.name} takes no body")
        return found


ARTIFACTS = "specification/artifacts/7.1/feed.json"
OPERATIONS = [
    Operation("Projects_Get", "specification/core/7.1/core.json", "dev", "GET",
              "projects/{projectId}", "none", "7.1", ("vso.profile", "vso.project")),
    Operation("Feed  Management_Get Feed", ARTIFACTS, "feeds", "GET",
              "packaging/feeds/{feedId}", "optional", "7.1", ("vso.packaging",)),
    Operation("Feed  Management_Create Feed", ARTIFACTS, "feeds", "POST",
              "packaging/feeds", "optional", "7.1", ("vso.packaging_write",), FEED),
    Operation("Feed  Management_Update Feed", ARTIFACTS, "feeds", "PATCH",
              "packaging/feeds/{feedId}", "optional", "7.1",
              ("vso.packaging_manage",), FEED_UPDATE),
    Operation("Retention  Policies_Get Retention Policy", ARTIFACTS, "feeds", "GET",
              "packaging/Feeds/{feedId}/retentionpolicies", "optional", "7.1",
              ("vso.packaging",)),
    Operation("Retention  Policies_Set Retention Policy", ARTIFACTS, "feeds", "PUT",
              "packaging/Feeds/{feedId}/retentionpolicies", "optional", "7.1",
              ("vso.packaging_write",), RETENTION),
    Operation("Feed  Management_Get Feed Permissions", ARTIFACTS, "feeds", "GET",
              "packaging/Feeds/{feedId}/permissions", "optional", "7.1",
              ("vso.packaging",)),
    Operation("Feed  Management_Set Feed Permissions", ARTIFACTS, "feeds", "PATCH",
              "packaging/Feeds/{feedId}/permissions", "optional", "7.1",
              ("vso.packaging_manage",), PERMISSIONS),
    Operation("Identities_Read Identities", "specification/ims/7.1/identities.json",
              "vssps", "GET", "identities", "none", "7.1", ("vso.identity",)),
    Operation("Python_Update Package Version",
              "specification/artifactsPackageTypes/7.1/pyPiApi.json", "pkgs", "PATCH",
              "packaging/feeds/{feedId}/pypi/packages/{packageName}/versions/"
              "{packageVersion}", "optional", "7.1-preview.1",
              ("vso.packaging_manage",), PACKAGE_VERSION_DETAILS),
    Operation("Repositories_Get Repository", "specification/git/7.1/git.json", "dev",
              "GET", "git/repositories/{repositoryId}", "required", "7.1",
              ("vso.code",)),
    Operation("Pull Requests_Get Pull Requests", "specification/git/7.1/git.json",
              "dev", "GET", "git/repositories/{repositoryId}/pullrequests",
              "required", "7.1", ("vso.code",)),
    Operation("Pull Requests_Create", "specification/git/7.1/git.json", "dev", "POST",
              "git/repositories/{repositoryId}/pullrequests", "required", "7.1",
              ("vso.code_write",), PULL_REQUEST),
    Operation("Pull Requests_Update", "specification/git/7.1/git.json", "dev",
              "PATCH", "git/repositories/{repositoryId}/pullrequests/{pullRequestId}",
              "required", "7.1", ("vso.code_write",), PULL_REQUEST),
    Operation("Pipelines_List", "specification/pipelines/7.1/pipelines.json", "dev",
              "GET", "pipelines", "required", "7.1", ("vso.build",)),
    Operation("Pipelines_Create", "specification/pipelines/7.1/pipelines.json", "dev",
              "POST", "pipelines", "required", "7.1", ("vso.build_execute",),
              CREATE_PIPELINE),
    Operation("Configurations_List", "specification/policy/7.1/policy.json", "dev",
              "GET", "policy/configurations", "required", "7.1", ("vso.code",)),
    Operation("Configurations_Create", "specification/policy/7.1/policy.json", "dev",
              "POST", "policy/configurations", "required", "7.1", ("vso.code_write",),
              POLICY),
    Operation("Configurations_Update", "specification/policy/7.1/policy.json", "dev",
              "PUT", "policy/configurations/{configurationId}", "required", "7.1",
              ("vso.code_write",), POLICY),
]  # fmt: skip


def operation_for(
    host: str | None, method: str, path: str
) -> tuple[Operation, dict[str, str]] | None:
    """The operation of (host, method, path after _apis/), and its parameters;
    `host` None: an Azure DevOps Server, where one host serves every area."""
    for operation in OPERATIONS:
        match = operation.pattern.fullmatch(path)
        if match and operation.method == method and host in (None, operation.host):
            return operation, match.groupdict()
    return None
