"""`python3 -m azure_pylib setup` and `promote` against the Azure DevOps
stand-in, reached at Azure's own names (tests/azure_network.py): the feed setup
from an empty organisation and from one that drifted, paged and throttled, its
idempotence and dry run, the promotion of a release with a job token, and each
unkind answer as one sentence without the token."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from azure_pylib.devops import AzureDevOps, Credential
from tests.azure_network import AZURE_HOSTS
from tests.azure_stand_in import (
    ADMIN_PAT,
    JOB_TOKEN,
    READER_PAT,
    README_SCOPES,
    SERVER_HOST,
    Identity,
    azure_cli,
    run_azure_pylib,
)
from tests.baking import TEMPLATE, bake

SETUP = ("setup", "--organization", "myorg", "--project", "myproject", "--feed",
         "python-internal")  # fmt: skip
PROMOTE = ("promote", "--organization", "myorg", "--project", "myproject", "--feed",
           "python-internal", "--package", "my-shared-utils", "--version",
           "0.1.0")  # fmt: skip


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit 1, nothing on stdout, one line on stderr."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


def test_requests_go_to_azure_devops_services_own_host_names():
    azure = AzureDevOps("myorg", Credential("Basic eA==", "x", "a PAT"))

    hosts = [urlsplit(azure.url(h, "myproject", "x")).netloc for h in
             ("dev", "feeds", "pkgs", "vssps")]  # fmt: skip

    assert hosts == [
        "dev.azure.com",
        "feeds.dev.azure.com",
        "pkgs.dev.azure.com",
        "vssps.dev.azure.com",
    ]


def test_setup_takes_an_empty_organization_to_feeds_roles_pipeline_and_policy(
    azure, tmp_path
):
    org = azure.org
    azure.stand_in.page_size = 1
    project = bake(tmp_path, feed_scope="project")
    shared = bake(tmp_path / "org", project_name="Org Tools", feed_scope="organization")

    dry = run_azure_pylib(
        tmp_path, azure, "setup", project.path.name, "--pipeline", "--dry-run"
    )

    assert dry.returncode == 0, dry.stderr
    assert org.changes == 0 and org.feeds == []
    assert dry.stdout.splitlines()[-1] == "Dry run: nothing was changed"
    # feed, retention, 2 roles, 2 pipelines, policy
    assert len(dry.stdout.splitlines()) == 8

    made = run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")

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
    again = run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Nothing to change: feed python-internal")
    assert org.changes == changes

    organization_wide = run_azure_pylib(
        tmp_path / "org", azure, "setup", shared.path.name, "--project", "myproject"
    )

    assert organization_wide.returncode == 0, organization_wide.stderr
    org_feed = org.feed(None, "python-internal")
    assert org_feed and org_feed["upstreamSources"][0]["protocol"] == "pypi"
    assert org.roles[org_feed["id"]][builders[1].descriptor] == "contributor"
    run_azure_pylib(tmp_path, azure, "promote", *PROMOTE[1:], token=None,
                    SYSTEM_ACCESSTOKEN=JOB_TOKEN)  # fmt: skip
    assert set(azure.network.connects) == set(AZURE_HOSTS)


def test_setup_brings_a_drifted_paged_organization_back_and_then_rests(azure, tmp_path):
    """One item a page, PyPI listed but upstreams off, the build validation
    policy disabled, the build identities demoted, other pipelines first, and a
    near-match identity answered first by every identity search."""
    org, stand_in = azure.org, azure.stand_in
    project = bake(tmp_path)
    for number in range(3):
        org.pipelines["myproject"].append(
            {"id": 100 + number, "name": f"other-{number}", "folder": "\\"}
        )
    run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")
    stand_in.page_size = 1
    (feed,) = org.feeds
    feed["upstreamEnabled"] = False
    (policy,) = org.policies["myproject"]
    policy["isEnabled"] = False
    builders = [org.build_identity(None), org.build_identity("myproject")]
    for builder in builders:
        org.roles[feed["id"]][builder.descriptor] = "collaborator"
    near = [
        Identity(f"{b.name} Readers", f"Microsoft.TeamFoundation.Identity;S-1-{n}")
        for n, b in enumerate(builders)
    ]
    org.others += near

    dry = run_azure_pylib(
        tmp_path, azure, "setup", project.path.name, "--pipeline", "--dry-run"
    )
    fixed = run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")

    assert fixed.returncode == 0, fixed.stderr
    expected = [
        "turn the upstream sources of feed python-internal (project myproject of"
        " myorg) back on (PyPI is listed, but upstream sources are off)",
        "give Project Collection Build Service (myorg) the Feed Publisher"
        " (Contributor) role on python-internal, to publish and promote from"
        " pipelines",
        "give myproject Build Service (myorg) the Feed Publisher (Contributor) role"
        " on python-internal, to publish and promote from pipelines",
        "make the build validation policy on main of my-shared-utils enabled and"
        " blocking (it is disabled)",
    ]
    assert dry.stdout.splitlines() == [f"Would {line}" for line in expected] + [
        "Dry run: nothing was changed"
    ]
    assert fixed.stdout.splitlines() == [f"Did {line}" for line in expected]
    assert feed["upstreamEnabled"]
    assert [s["name"] for s in feed["upstreamSources"]] == ["PyPI"]
    assert [org.roles[feed["id"]][b.descriptor] for b in builders] == [
        "contributor"
    ] * 2
    assert not any(n.descriptor in org.roles[feed["id"]] for n in near)
    names = [p["name"] for p in org.pipelines["myproject"]]
    assert sorted(set(names)) == sorted(names)
    (policy,) = org.policies["myproject"]
    assert policy["isEnabled"] and policy["isBlocking"]

    changes = org.changes
    again = run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")

    assert again.stdout.startswith("Nothing to change")
    assert org.changes == changes


@pytest.mark.parametrize(
    ("drift", "host", "method", "path"),
    [
        ("upstreams off", "feeds.dev.azure.com", "PATCH", "/packaging/feeds/"),
        ("retention", "feeds.dev.azure.com", "PUT", "/retentionpolicies"),
        ("role", "feeds.dev.azure.com", "PATCH", "/permissions"),
        ("pipeline", "dev.azure.com", "POST", "/_apis/pipelines"),
        ("policy", "dev.azure.com", "POST", "/policy/configurations"),
        ("policy disabled", "dev.azure.com", "PUT", "/policy/configurations/"),
    ],
)
def test_a_write_azure_accepts_but_does_not_make_is_a_refusal(
    azure, tmp_path, drift, host, method, path
):
    """Each change is read back: a 200 that changed nothing is not "Did"."""
    from tests.azure_network import Answer

    org, stand_in = azure.org, azure.stand_in
    project = bake(tmp_path)
    run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")
    (feed,) = org.feeds
    if drift == "upstreams off":
        feed["upstreamEnabled"] = False
    elif drift == "retention":
        org.retention[feed["id"]]["countLimit"] = 5000
    elif drift == "role":
        org.roles[feed["id"]][org.build_identity(None).descriptor] = "reader"
    elif drift == "pipeline":
        pipelines = org.pipelines["myproject"]
        pipelines[:] = [p for p in pipelines if not p["name"].endswith("updates")]
    elif drift == "policy":
        org.policies["myproject"].clear()
    else:
        org.policies["myproject"][0]["isEnabled"] = False

    def ignoring_the_write(request):
        if request.method == method and path in request.path:
            return Answer.json(200, '{"id": 999, "name": "x", "value": []}')
        return stand_in.app(request)

    azure.network.route(host, ignoring_the_write)
    result = run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")

    sentence = one_sentence(result)
    assert "accepted the request to" in sentence
    assert "reading it back shows no change" in sentence


def test_setup_adds_pypi_to_an_existing_feed_that_lacks_it_and_keeps_owner_roles(
    azure, tmp_path
):
    org = azure.org
    team = ("setup", "--organization", "myorg", "--project", "myproject", "--feed")
    run_azure_pylib(tmp_path, azure, *team, "team-packages")
    feed = org.feed("myproject", "team-packages")
    feed["upstreamSources"], feed["upstreamEnabled"] = [], False
    owner = org.build_identity(None).descriptor
    org.roles[feed["id"]][owner] = "administrator"

    result = run_azure_pylib(tmp_path, azure, *team, "team-packages")

    assert result.stdout.splitlines() == [
        "Did add PyPI as an upstream source of feed team-packages (project myproject"
        " of myorg) (it has none)"
    ]
    assert feed["upstreamEnabled"] and feed["upstreamSources"][0]["name"] == "PyPI"
    assert org.roles[feed["id"]][owner] == "administrator"


def test_a_throttled_setup_waits_what_azure_asks_and_goes_on(azure, tmp_path):
    azure.stand_in.throttle(3, retry_after=1)

    result = run_azure_pylib(tmp_path, azure, *SETUP)

    assert result.returncode == 0, result.stderr
    assert azure.org.feeds[0]["name"] == "python-internal"


def test_a_release_is_promoted_to_the_release_view_with_the_job_token(azure, tmp_path):
    org = azure.org
    project = bake(tmp_path)
    org.add_job_token(JOB_TOKEN, "myproject")
    run_azure_pylib(tmp_path, azure, "setup", project.path.name)
    org.publish("myproject", "python-internal", "my-shared-utils", "0.1.0")

    result = run_azure_pylib(
        tmp_path, azure, *PROMOTE, token=None, SYSTEM_ACCESSTOKEN=JOB_TOKEN
    )

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == "Promoted my-shared-utils 0.1.0 to python-internal@Release\n"
    )
    (versions,) = org.versions.values()
    assert versions == ["Local", "Release"]
    assert any(
        request.startswith("https://pkgs.dev.azure.com/myorg/myproject/_apis/packaging/"
                           "feeds/python-internal/pypi/")
        and "api-version=7.1-preview.1" in request
        for _, request in org.requests
    )  # fmt: skip


def test_promotion_without_the_publisher_role_names_the_role(azure, tmp_path):
    org = azure.org
    org.add_job_token(JOB_TOKEN, "myproject")
    run_azure_pylib(tmp_path, azure, *SETUP)
    feed = org.feed("myproject", "python-internal")
    org.roles[feed["id"]][org.build_identity("myproject").descriptor] = "collaborator"
    org.publish("myproject", "python-internal", "my-shared-utils", "1.0.0")

    sentence = one_sentence(run_azure_pylib(
        tmp_path, azure, "promote", "--organization", "myorg", "--project", "myproject",
        "--feed", "python-internal", "--package", "my-shared-utils", "--version",
        "1.0.0", token=None, SYSTEM_ACCESSTOKEN=JOB_TOKEN,
    ))  # fmt: skip

    assert "Feed Publisher (Contributor) role" in sentence
    assert "You need to have 'AddPackage'" in sentence


@pytest.mark.parametrize(
    ("missing", "arguments", "scope"),
    [
        ("vso.identity", SETUP, "Identity (Read)"),
        ("vso.packaging_manage", PROMOTE, "Packaging (Read, write, & manage)"),
        ("vso.build_execute",
         (*SETUP, "--template-repository", "cookiecutter-azure-pylib"),
         "Build (Read"),  # fmt: skip
    ],
)
def test_a_pat_without_a_scope_is_told_which_scope_it_lacks(
    azure, tmp_path, missing, arguments, scope
):
    run_azure_pylib(tmp_path, azure, *SETUP)
    azure.org.publish("myproject", "python-internal", "my-shared-utils", "0.1.0")
    lesser = {"vso.packaging_manage": "vso.packaging_write",
              "vso.build_execute": ""}.get(missing, "")  # fmt: skip
    scopes = (README_SCOPES - {missing}) | ({lesser} - {""})
    token = "scoped-pat-Rt6yU8iO"
    azure.org.add_user(token, "Platform Engineer", scopes=frozenset(scopes))

    sentence = one_sentence(run_azure_pylib(tmp_path, azure, *arguments, token=token))

    assert "(HTTP 401): the credential lacks the scope " + scope in sentence
    assert token not in sentence


def test_the_readme_asks_for_every_scope_the_tools_need():
    readme = (TEMPLATE / "README.md").read_text()
    names = {
        "vso.packaging_manage": "*Packaging: Read, write, & manage*",
        "vso.build_execute": "*Build: Read & execute*",
        "vso.code_write": "*Code: Read & write*",
        "vso.identity": "*Identity: Read*",
        "vso.project": "*Project and Team: Read*",
    }
    assert set(names) == README_SCOPES
    for name in names.values():
        assert name in readme


@pytest.mark.parametrize(
    ("unkindness", "arguments", "expected"),
    [
        ("unknown token", SETUP, "refused the PAT in AZURE_DEVOPS_EXT_PAT"),
        ("sign-in page with 203", SETUP, "(HTTP 203)"),
        ("redirect to sign-in", SETUP, "(HTTP 302)"),
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
        ("no credential", SETUP, "No Azure DevOps credential: sign in with `az login`"),
        ("throttled for long", SETUP, "is throttling this credential's requests"),
        ("not a library", ("setup", "."),
         "names no project and [tool.azure-artifacts] feed"),  # fmt: skip
    ],
)
def test_each_unkind_answer_ends_in_one_sentence_that_names_the_fix(
    azure, tmp_path, unkindness, arguments, expected
):
    stand_in, org = azure.stand_in, azure.org
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
        run_azure_pylib(tmp_path, azure, *SETUP)
        org.roles[org.feeds[0]["id"]] = {}  # someone else's feed, hidden from us
    elif unkindness == "no credential":
        token = None
    elif unkindness == "throttled for long":
        stand_in.throttle(100, retry_after=120)

    sentence = one_sentence(
        run_azure_pylib(tmp_path, azure, *arguments, token=token, **env)
    )

    assert sentence.startswith("azure_pylib ")
    assert expected in sentence
    assert "expired-pat-Qw3eR5tY" not in sentence


def test_the_azure_cli_account_is_used_when_no_pat_is_set(azure, tmp_path):
    az = azure_cli(tmp_path / "bin", ADMIN_PAT)

    result = run_azure_pylib(tmp_path, azure, *SETUP, token=None, PATH=str(az))

    assert result.returncode == 0, result.stderr
    assert azure.org.feeds[0]["name"] == "python-internal"


def test_an_azure_devops_server_is_reached_at_the_url_it_is_given(azure, tmp_path):
    result = run_azure_pylib(
        tmp_path,
        azure,
        *SETUP,
        AZURE_DEVOPS_SERVICE_URL=f"https://{SERVER_HOST}/tfs/",
    )

    assert result.returncode == 0, result.stderr
    assert set(azure.network.connects) == {SERVER_HOST}
    assert azure.org.feeds[0]["upstreamEnabled"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"<html>Corporate proxy: please log in</html>", "text/html"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),  # nested too deep
    ],
)
def test_an_answer_that_is_not_azure_devops_json_is_one_sentence(
    azure, tmp_path, body, kind
):
    from tests.azure_network import Answer

    azure.network.route(
        "feeds.dev.azure.com",
        lambda request: Answer(200, body, [("Content-Type", kind)]),
    )

    sentence = one_sentence(run_azure_pylib(tmp_path, azure, *SETUP))

    assert re.search(rf"is not JSON \(HTTP 200, {kind}\): a proxy", sentence)


def test_an_id_that_is_not_an_id_is_one_sentence_and_changes_nothing(azure, tmp_path):
    from tests.azure_network import Answer

    project = bake(tmp_path)
    run_azure_pylib(tmp_path, azure, "setup", project.path.name)
    changes = azure.org.changes

    def odd_repository(request):
        if "/git/repositories/" in request.path:
            return Answer.json(200, '{"id": [], "name": 3}')
        return azure.stand_in.app(request)

    azure.network.route("dev.azure.com", odd_repository)
    result = run_azure_pylib(tmp_path, azure, "setup", project.path.name, "--pipeline")

    assert "lacks id: a proxy" in one_sentence(result)
    assert azure.org.changes == changes


def test_the_tools_need_nothing_but_the_standard_library():
    """They run from a clone of the template with nothing installed (-S: no
    site-packages on the path)."""
    imported = subprocess.run(
        [sys.executable, "-S", "-c", "import sys; sys.path.insert(0, '.');"
         " import azure_pylib.__main__, azure_pylib.feed_setup,"
         " azure_pylib.template_update, azure_pylib.releases"],
        cwd=TEMPLATE, capture_output=True, text=True,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
