"""azure_devops.py against the Azure DevOps stand-in (tests/azure_stand_in.py):
the feed setup from an empty organisation, its idempotence and dry run, the
promotion of a release with a job token, and each unkind answer as one sentence
without the token."""

from __future__ import annotations

import subprocess

import pytest

from tests.azure_stand_in import ADMIN_PAT, JOB_TOKEN, READER_PAT, run_azure_devops
from tests.baking import bake

SETUP = ("setup", "--organization", "myorg", "--project", "myproject", "--feed",
         "python-internal")  # fmt: skip


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit 1, nothing on stdout, one line on stderr."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


def test_setup_takes_an_empty_organization_to_feeds_roles_pipeline_and_policy(
    azure, tmp_path
):
    stand_in, org, url = azure
    project = bake(tmp_path, feed_scope="project")
    shared = bake(tmp_path / "org", project_name="Org Tools", feed_scope="organization")

    dry = run_azure_devops(
        tmp_path, url, "setup", project.path.name, "--pipeline", "--dry-run"
    )

    assert dry.returncode == 0, dry.stderr
    assert org.changes == 0 and org.feeds == []
    assert dry.stdout.splitlines()[-1] == "Dry run: nothing was changed"
    # feed, retention, 2 roles, 2 pipelines, policy
    assert len(dry.stdout.splitlines()) == 8

    made = run_azure_devops(tmp_path, url, "setup", project.path.name, "--pipeline")

    assert made.returncode == 0, made.stderr
    assert [line.removeprefix("Did ") for line in made.stdout.splitlines()] == [
        line.removeprefix("Would ") for line in dry.stdout.splitlines()[:-1]
    ]
    (feed,) = org.feeds
    assert (feed["name"], feed["project"], feed["upstreamEnabled"]) == (
        "python-internal", "myproject", True,
    )  # fmt: skip
    assert [(s["protocol"], s["location"]) for s in feed["upstreamSources"]] == [
        ("pypi", "https://pypi.org/")
    ]
    assert org.retention[feed["id"]]["countLimit"] == 20
    builders = [org.build_identity(None), org.build_identity("myproject")]
    assert [org.roles[feed["id"]][b.descriptor] for b in builders] == [
        "contributor"
    ] * 2
    pipeline, updates = org.pipelines["myproject"]
    assert pipeline["name"] == "my-shared-utils"
    assert pipeline["configuration"]["path"] == "/azure-pipelines.yml"
    assert updates["name"] == "my-shared-utils template updates"
    assert updates["configuration"]["path"] == "/pipelines/template-updates.yml"
    (policy,) = org.policies["myproject"]
    assert policy["settings"]["buildDefinitionId"] == pipeline["id"]
    assert policy["settings"]["scope"][0]["refName"] == "refs/heads/main"
    assert policy["isBlocking"]

    changes = org.changes
    again = run_azure_devops(tmp_path, url, "setup", project.path.name, "--pipeline")

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Nothing to change: feed python-internal")
    assert org.changes == changes
    assert {method for method, _ in org.requests[-8:]} == {"GET"}

    organization_wide = run_azure_devops(
        tmp_path / "org", url, "setup", shared.path.name, "--project", "myproject"
    )

    assert organization_wide.returncode == 0, organization_wide.stderr
    org_feed = org.feed(None, "python-internal")
    assert org_feed and org_feed["upstreamSources"][0]["protocol"] == "pypi"
    assert org.roles[org_feed["id"]][builders[1].descriptor] == "contributor"


def test_setup_adds_pypi_to_an_existing_feed_that_lacks_it_and_keeps_owner_roles(
    azure, tmp_path
):
    stand_in, org, url = azure
    team = ("setup", "--organization", "myorg", "--project", "myproject", "--feed")
    run_azure_devops(tmp_path, url, *team, "team-packages")
    feed = org.feed("myproject", "team-packages")
    feed["upstreamSources"], feed["upstreamEnabled"] = [], False
    owner = org.build_identity(None).descriptor
    org.roles[feed["id"]][owner] = "administrator"

    result = run_azure_devops(tmp_path, url, *team, "team-packages")

    assert result.stdout.splitlines() == [
        "Did add PyPI as an upstream source of feed team-packages (project myproject"
        " of myorg) (it has none)"
    ]
    assert feed["upstreamEnabled"] and feed["upstreamSources"][0]["name"] == "PyPI"
    assert org.roles[feed["id"]][owner] == "administrator"


def test_a_release_is_promoted_to_the_release_view_with_the_job_token(azure, tmp_path):
    stand_in, org, url = azure
    project = bake(tmp_path)
    org.add_job_token(JOB_TOKEN, "myproject")
    promote = ("promote", "--organization", "myorg", "--project", "myproject",
               "--feed", "python-internal", "--package", "my-shared-utils",
               "--version", "0.1.0")  # fmt: skip
    run_azure_devops(tmp_path, url, "setup", project.path.name)
    org.publish("myproject", "python-internal", "my-shared-utils", "0.1.0")

    result = run_azure_devops(
        tmp_path, url, *promote, token=None, SYSTEM_ACCESSTOKEN=JOB_TOKEN
    )

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == "Promoted my-shared-utils 0.1.0 to python-internal@Release\n"
    )
    (versions,) = org.versions.values()
    assert versions == ["Local", "Release"]
    assert any("/pkgs/myorg/myproject/_apis/packaging/feeds/python-internal/pypi/"
               in request and "api-version=7.1-preview.1" in request
               for _, request in org.requests)  # fmt: skip


def test_promotion_without_the_publisher_role_names_the_role(azure, tmp_path):
    stand_in, org, url = azure
    org.add_job_token(JOB_TOKEN, "myproject")
    run_azure_devops(tmp_path, url, *SETUP)
    feed = org.feed("myproject", "python-internal")
    org.roles[feed["id"]][org.build_identity("myproject").descriptor] = "collaborator"
    org.publish("myproject", "python-internal", "my-shared-utils", "1.0.0")

    sentence = one_sentence(run_azure_devops(
        tmp_path, url, "promote", "--organization", "myorg", "--project", "myproject",
        "--feed", "python-internal", "--package", "my-shared-utils", "--version",
        "1.0.0", token=None, SYSTEM_ACCESSTOKEN=JOB_TOKEN,
    ))  # fmt: skip

    assert "Feed Publisher (Contributor) role" in sentence
    assert "You need to have 'AddPackage'" in sentence


@pytest.mark.parametrize(
    ("unkindness", "arguments", "expected"),
    [
        ("unknown token", SETUP, "did not accept the credential"),
        ("sign-in page with 203", SETUP, "(HTTP 203, its sign-in page)"),
        ("redirect to sign-in", SETUP, "(HTTP 302, its sign-in page)"),
        ("no role to create feeds", SETUP, "creating feeds needs Feed Creator"),
        ("wrong organization", ("setup", "--organization", "otherorg", "--project",
                                "myproject", "--feed", "f"),
         "otherorg' could not be found"),  # fmt: skip
        ("wrong project", ("setup", "--organization", "myorg", "--project", "nope",
                           "--feed", "f"), "VS800075"),  # fmt: skip
        ("wrong feed", ("promote", "--organization", "myorg", "--project", "myproject",
                        "--feed", "nope", "--package", "p", "--version", "1"),
         "The feed with ID 'nope' doesn't exist"),  # fmt: skip
        ("feed name taken", SETUP, "still in the feed recycle bin"),
        (
            "no credential",
            SETUP,
            "No Azure DevOps credential: set AZURE_DEVOPS_EXT_PAT",
        ),
    ],
)
def test_each_unkind_answer_ends_in_one_sentence_that_names_the_fix(
    azure, tmp_path, unkindness, arguments, expected
):
    stand_in, org, url = azure
    token = ADMIN_PAT
    env = {"PATH": str(tmp_path)}  # no Azure CLI to fall back on
    if unkindness == "unknown token":
        token = "expired-pat-Qw3eR5tY"
    elif unkindness == "sign-in page with 203":
        stand_in.sign_in_203, token = True, "expired-pat-Qw3eR5tY"
    elif unkindness == "redirect to sign-in":
        stand_in.ignores_suppress, token = True, "expired-pat-Qw3eR5tY"
    elif unkindness == "no role to create feeds":
        token = READER_PAT
    elif unkindness == "feed name taken":
        run_azure_devops(tmp_path, url, *SETUP)
        org.roles[org.feeds[0]["id"]] = {}  # someone else's feed, hidden from us
    elif unkindness == "no credential":
        token = None

    sentence = one_sentence(
        run_azure_devops(tmp_path, url, *arguments, token=token, **env)
    )

    assert sentence.startswith("azure_devops.py: ")
    assert expected in sentence


def test_the_azure_cli_account_is_used_when_no_pat_is_set(azure, tmp_path):
    stand_in, org, url = azure
    az = tmp_path / "bin" / "az"
    az.parent.mkdir()
    # Stands for `az account get-access-token ... --query accessToken --output tsv`.
    az.write_text(f"#!/bin/sh\necho {ADMIN_PAT}\n")
    az.chmod(0o755)

    result = run_azure_devops(tmp_path, url, *SETUP, token=None, PATH=str(az.parent))

    assert result.returncode == 0, result.stderr
    assert org.feeds[0]["name"] == "python-internal"
