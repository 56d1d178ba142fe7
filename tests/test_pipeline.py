"""The generated azure-pipelines.yml: valid for Azure, publishes the right versions.

Every combination of answers is validated against the Azure Pipelines schema
that check-jsonschema vendors, plus rules the schema cannot express. One baked
project is then run through the pipeline locally (tests/pipeline_runner.py)
for a tag, main, a feature branch and a tag that does not match the version,
against a password-protected local index standing in for the feed.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import uv
import yaml

from tests.baking import (
    DEFAULTS,
    BakedProject,
    GIT_IDENTITY,
    TEMPLATE,
    all_combinations,
    bake,
    combination_id,
    copy_template,
)
from tests.azure_stand_in import feed_on, run_azure_pylib
from tests.static_checks import azure_pipelines_schema_errors
from tests.feed_stand_in import running_feed
from tests.index_server import IndexServer
from tests.pipeline_runner import (
    RUNNING_PYTHON,
    Build,
    LocalAgent,
    PipelineError,
    TemplateSource,
    evaluate,
    secret_probe,
)

# The vendored schema knows the task name but has no inputs for version 2 of
# this task, so any use of it fails validation (python-jsonschema/check-jsonschema
# vendors microsoft/azure-pipelines-vscode's service-schema.json as is).
UNKNOWN_TO_SCHEMA = "PublishCodeCoverageResults@2"
SCHEMA_GAP_MESSAGE = f"'{UNKNOWN_TO_SCHEMA}' does not match '^PowerShell@2$'"
PIPELINE = "azure-pipelines.yml"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def steps_of(pipeline: dict[str, Any]):
    """(stage, job, index, step) for every step."""
    for stage in pipeline["stages"]:
        for job in stage["jobs"]:
            for index, step in enumerate(job["steps"]):
                yield stage, job, index, step


def without_schema_gap(pipeline: dict[str, Any]) -> dict[str, Any]:
    for stage in pipeline["stages"]:
        for job in stage["jobs"]:
            job["steps"] = [
                s for s in job["steps"] if s.get("task") != UNKNOWN_TO_SCHEMA
            ]
    return pipeline


@pytest.fixture(scope="module")
def baked(baked_combination) -> list[tuple[dict[str, Any], str]]:
    """(answers, azure-pipelines.yml) of every combination."""
    return [
        (answers, baked_combination(answers).read(PIPELINE))
        for answers in all_combinations()
    ]


def distinct(baked, mode: str) -> dict[str, list[str]]:
    """Every distinct pipeline of a mode -> the combinations that generate it."""
    by_text: dict[str, list[str]] = {}
    for answers, text in baked:
        if answers["pipeline"] == mode:
            by_text.setdefault(text, []).append(combination_id(answers))
    return by_text


@pytest.fixture(scope="module")
def pipelines(baked) -> dict[str, list[str]]:
    """The self-contained pipelines: the whole definition in the one file."""
    return distinct(baked, "self-contained")


@pytest.fixture(scope="module")
def shared_pipelines(baked) -> dict[str, list[str]]:
    return distinct(baked, "shared")


@pytest.fixture(scope="module")
def expanded(baked_combination, template_repository, tmp_path_factory) -> list:
    """(answers, pipeline) of every combination, both modes: the pipeline as
    Azure expands it, its step templates and `extends` included."""
    templates = TemplateSource(
        {"myproject/cookiecutter-azure-pylib": template_repository}
    )
    work = tmp_path_factory.mktemp("expand")
    found = []
    for answers in all_combinations():
        project = baked_combination(answers)
        agent = LocalAgent(project.path, None, work / "1", templates=templates)
        found.append((answers, agent.load(project.path / PIPELINE)))
    return found


@pytest.fixture(scope="module")
def template_repository(tmp_path_factory) -> Path:
    """The template in a git repository tagged with its release, as in Azure Repos."""
    repository = copy_template(tmp_path_factory.mktemp("azure-repos") / "template")
    env = {**os.environ, **GIT_IDENTITY}
    for command in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["commit", "--quiet", "-m", "Release"],
        ["tag", "-a", f"v{DEFAULTS['_template_version']}", "-m", "Release"],
    ):
        subprocess.run(["git", *command], cwd=repository, env=env, check=True)
    return repository


def test_every_pipeline_is_valid_for_the_azure_schema_but_its_known_gap(
    pipelines, shared_pipelines, tmp_path
):
    originals, stripped = [], []
    for number, text in enumerate(pipelines):
        original = tmp_path / f"{number}-azure-pipelines.yml"
        original.write_text(text)
        copy = tmp_path / f"{number}-without-coverage-step.yml"
        copy.write_text(yaml.safe_dump(without_schema_gap(yaml.safe_load(text))))
        originals.append(original)
        stripped.append(copy)

    shared = []
    for number, text in enumerate(shared_pipelines):
        shared.append(tmp_path / f"{number}-shared-azure-pipelines.yml")
        shared[-1].write_text(text)
    templates = sorted(map(str, (TEMPLATE / "pipelines").rglob("*.yml")))
    prepare = TEMPLATE / "{{cookiecutter.project_slug}}" / "pipelines"
    (step_template,) = prepare.glob("*prepare.yml*")
    baked_steps = tmp_path / "prepare.yml"
    baked_steps.write_text(
        step_template.read_text()
        .removeprefix("{%- raw -%}\n")
        .removesuffix("{%- endraw %}\n")
    )
    templates.append(str(baked_steps))
    assert templates

    errors = azure_pipelines_schema_errors(
        originals + stripped + shared + list(map(Path, templates))
    )

    for path in shared:
        assert errors[str(path)] == [], errors[str(path)]
    for template in templates:
        # Only the library template has the coverage step the schema does not know.
        assert [e["best_deep_match"]["message"] for e in errors[template]] == (
            [SCHEMA_GAP_MESSAGE] if template.endswith("library.yml") else []
        ), errors[template]

    for copy in stripped:
        assert errors[str(copy)] == [], errors[str(copy)]
    for original, text in zip(originals, pipelines):
        gaps = [
            f"$.stages[{stages_index}].jobs[{jobs_index}].steps[{index}].task"
            for stages_index, stage in enumerate(yaml.safe_load(text)["stages"])
            for jobs_index, job in enumerate(stage["jobs"])
            for index, step in enumerate(job["steps"])
            if step.get("task") == UNKNOWN_TO_SCHEMA
        ]
        # Exactly one error, and the deepest reason is the coverage step.
        (error,) = errors[str(original)]
        assert error["best_deep_match"] == {
            "path": gaps[0],
            "message": SCHEMA_GAP_MESSAGE,
        }, pipelines[text]


def test_the_schema_check_catches_a_misspelled_task_input(tmp_path):
    """Guards the check above: it fails for a real mistake, not only for the gap."""
    steps = yaml.safe_load(
        (TEMPLATE / "pipelines" / "steps" / "prepare.yml").read_text()
    )
    for step in steps["steps"]:
        if step.get("task") == "PipAuthenticate@1":
            step["inputs"]["artifactFeed"] = step["inputs"].pop("artifactFeeds")
    broken = tmp_path / "prepare.yml"
    broken.write_text(yaml.safe_dump(steps))
    assert azure_pipelines_schema_errors([broken])[str(broken)]


def test_every_combination_generates_a_pipeline(pipelines, shared_pipelines):
    generated = [*pipelines.values(), *shared_pipelines.values()]
    assert sum(map(len, generated)) == len(all_combinations())


def test_shared_pipeline_is_short_and_pinned_to_the_template_release(
    shared_pipelines,
):
    for text in shared_pipelines:
        assert len(text.splitlines()) <= 30
        (repository,) = yaml.safe_load(text)["resources"]["repositories"]
        assert repository == {
            "repository": "templates",
            "type": "git",
            "name": "myproject/cookiecutter-azure-pylib",
            "ref": f"refs/tags/v{DEFAULTS['_template_version']}",
        }


SCENARIOS = {
    "tag": Build("refs/tags/v1.2.0"),
    "main after a tag": Build("refs/heads/main"),
    "feature branch": Build("refs/heads/feature/retries"),
    "mismatched tag": Build("refs/tags/v1.3.0"),
}


def test_both_modes_plan_the_same_run_in_every_scenario(
    baked_combination, template_repository, tmp_path
):
    def key(answers):
        return (
            answers["minimum_python"],
            answers["include_dockerfile"],
            answers["versioning"],
        )

    files = {
        (answers["pipeline"], key(answers)): baked_combination(answers).path / PIPELINE
        for answers in all_combinations()
    }
    templates = TemplateSource(
        {"myproject/cookiecutter-azure-pylib": template_repository}
    )
    agent = LocalAgent(tmp_path, None, tmp_path / "work" / "1", templates=templates)
    compared = 0
    for (mode, variant), shared_file in files.items():
        if mode != "shared":
            continue
        plans = {}
        for scenario, build in SCENARIOS.items():
            shared = agent.plan(shared_file, build)
            own = agent.plan(files[("self-contained", variant)], build)
            assert shared == own, (variant, scenario)
            plans[scenario] = shared
        # The scenarios differ, so equal plans are not a plan that ignores them.
        assert plans["tag"] != plans["feature branch"] != plans["main after a tag"]
        compared += 1
    assert compared == 16  # 4 minimum Pythons x Docker or not x 2 versionings


def test_stage_and_job_names_are_valid_on_azure(expanded):
    for _, pipeline in expanded:
        for stage in pipeline["stages"]:
            assert NAME.match(stage["stage"]), stage["stage"]
            for job in stage["jobs"]:
                assert NAME.match(job["job"]), job["job"]
                for leg in (job.get("strategy") or {}).get("matrix", {}):
                    assert re.match(r"^[A-Za-z][A-Za-z0-9_]{0,99}$", leg), leg


def test_jobs_run_on_a_hosted_ubuntu_image(expanded):
    for _, pipeline in expanded:
        assert pipeline["pool"] == {"vmImage": "ubuntu-24.04"}


def test_jobs_that_compute_a_version_fetch_full_history_and_tags(expanded):
    for _, pipeline in expanded:
        for job in jobs_of(pipeline):
            scripts = " ".join(s.get("script", "") for s in job["steps"])
            if not re.search(r"-s (tests|publish)\b|hatchling", scripts):
                continue
            (checkout,) = [s for s in job["steps"] if "checkout" in s]
            assert checkout["fetchDepth"] == "0", job["job"]
            assert checkout["fetchTags"] == "true", job["job"]


def test_feed_is_the_only_index_and_uploads_never_skip_existing(expanded):
    for _, pipeline in expanded:
        text = yaml.safe_dump(pipeline)
        assert "extra-index-url" not in text
        assert "onlyAddExtraIndex" not in text
        assert "--skip-existing" not in text


def test_ci_runs_every_check_of_a_bare_nox_and_fails_on_a_missing_python(expanded):
    """tests on every supported Python, typecheck and lint: what `nox` runs."""
    for _, pipeline in expanded:
        calls = [
            s["script"]
            for _, _, _, s in steps_of(pipeline)
            if re.search(r"\bnox\b.* -s (tests|typecheck|lint)", s.get("script", ""))
        ]
        assert len(calls) == 3, calls  # tests: install, then run; typecheck lint
        assert any("-s typecheck lint" in call for call in calls)
        for call in calls:
            assert "--error-on-missing-interpreters" in call, call


def matrix_pythons(project) -> list[str]:
    pipeline = yaml.safe_load(project.read("azure-pipelines.yml"))
    (tests,) = [j for j in pipeline["stages"][0]["jobs"] if j["job"] == "tests"]
    return [leg["python.version"] for leg in tests["strategy"]["matrix"].values()]


def test_matrix_covers_the_supported_pythons_from_the_minimum(tmp_path):
    project = bake(tmp_path, minimum_python="3.12")
    supported = DEFAULTS["_pythons"]
    assert matrix_pythons(project) == supported[supported.index("3.12") :]


def test_a_new_python_is_one_line_in_cookiecutter_json(tmp_path):
    template = copy_template(tmp_path / "template")
    config = template / "cookiecutter.json"
    line = f'  "_pythons": {json.dumps(DEFAULTS["_pythons"])},\n'
    assert line in config.read_text()
    pythons = [*DEFAULTS["_pythons"], "3.16"]
    config.write_text(
        config.read_text().replace(line, f'  "_pythons": {json.dumps(pythons)},\n')
    )

    project = bake(tmp_path / "bake", template=template, minimum_python="3.13")

    assert matrix_pythons(project) == pythons[pythons.index("3.13") :]


def test_docker_job_exists_only_with_a_dockerfile(tmp_path):
    for include in (True, False):
        project = bake(tmp_path / str(include), include_dockerfile=include)
        jobs = [
            job["job"]
            for stage in yaml.safe_load(project.read("azure-pipelines.yml"))["stages"]
            for job in stage["jobs"]
        ]
        assert ("docker" in jobs) is include


def test_docker_build_gets_the_index_as_a_secret_and_the_version_from_git(
    tmp_path,
):
    scm = bake(tmp_path / "scm", include_dockerfile=True, versioning="git-tags")
    static = bake(tmp_path / "static", include_dockerfile=True, versioning="static")
    for project in (scm, static):
        text = project.read("azure-pipelines.yml")
        assert "--secret id=pip_index_url,env=PIP_INDEX_URL" in text
        assert "--build-arg PIP_INDEX_URL" not in text
    assert "--build-arg VERSION=$(version)" in scm.read("azure-pipelines.yml")
    assert "VERSION" not in static.read("azure-pipelines.yml")


def test_docs_show_the_badge_and_how_releases_reach_the_feed(tmp_path):
    project = bake(tmp_path, azure_project="Data Platform")
    readme = project.read("README.md")
    status = "https://dev.azure.com/myorg/Data%20Platform/_apis/build/status/"
    assert f"({status}{project.distribution}?branchName=main)" in readme
    assert "(docs/pipeline.md)" in readme
    section = project.read("docs/pipeline.md")
    assert "a `v1.2.0` tag publishes `1.2.0`" in section
    assert "Build validation" in section
    assert "Feed Publisher" in section


def jobs_of(pipeline: dict[str, Any]):
    for stage in pipeline["stages"]:
        yield from stage["jobs"]


def installs(step: dict[str, Any]) -> bool:
    """Whether a step may download a package."""
    script = step.get("script", "")
    return bool(re.search(r"\b(pip|uv|nox)\b", script)) or step.get("task") in (
        "PipAuthenticate@1",  # the boundary itself
    )


def test_nothing_is_installed_before_the_feed_is_authenticated(expanded):
    for _, pipeline in expanded:
        for job in jobs_of(pipeline):
            steps = job["steps"]
            (authenticate,) = [
                i for i, s in enumerate(steps) if s.get("task") == "PipAuthenticate@1"
            ]
            early = [s for s in steps[:authenticate] if installs(s)]
            assert early == [], (job["job"], early)
            # The feed comes from pyproject.toml, read by Python alone.
            (read,) = [s for s in steps[:authenticate] if "script" in s]
            assert read["script"].startswith("python - <<'EOF'\nimport shlex, tomllib")


def test_ci_tools_come_from_one_pinned_group_in_pyproject(expanded, tmp_path):
    project = bake(tmp_path)
    pins = project.pyproject["dependency-groups"]["ci"]
    names = [re.split(r"==", pin)[0] for pin in pins]
    assert {"nox", "uv", "cookiecutter-azure-pylib"} <= set(names)
    assert all(re.fullmatch(r"[a-z0-9-]+==[0-9][0-9.]*", pin) for pin in pins), pins
    for _, pipeline in expanded:
        installs_of_tools = {
            step["script"].split("||")[0].strip()
            for _, _, _, step in steps_of(pipeline)
            if re.search(r"pip install", step.get("script", ""))
        }
        assert installs_of_tools - {
            'UV_DEFAULT_INDEX="$PIP_INDEX_URL" uv pip install --python python'
            " --group test"
        } == {"python -m pip install $(tools)"}


def test_the_build_backend_is_pinned_exactly(tmp_path):
    for versioning in ("git-tags", "static"):
        requires = bake(tmp_path / versioning, versioning=versioning).pyproject[
            "build-system"
        ]["requires"]
        assert all(re.fullmatch(r"[a-z-]+==[0-9.]+", r) for r in requires), requires


def read_pyproject_variables(tools: str, project: Path) -> dict[str, str]:
    """The variables the step template's Read step sets, run on `project`."""
    steps = yaml.safe_load(
        (TEMPLATE / "pipelines" / "steps" / "prepare.yml").read_text()
    )
    (read,) = [s for s in steps["steps"] if "Read the feed" in s.get("displayName", "")]
    script = read["script"].replace("${{ parameters.tools }}", tools)
    printed = subprocess.run(
        ["bash", "-c", script], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    return dict(
        re.fullmatch(r"##vso\[task\.setvariable variable=(\w+)\](.*)", line).groups()
        for line in printed.splitlines()
    )


def test_the_same_steps_start_every_job_in_both_modes():
    """The library's own step template is the template repository's."""
    (baked,) = (TEMPLATE / "{{cookiecutter.project_slug}}" / "pipelines").glob(
        "*prepare.yml*"
    )
    own = (
        baked.read_text().removeprefix("{%- raw -%}\n").removesuffix("{%- endraw %}\n")
    )
    shared = (TEMPLATE / "pipelines" / "steps" / "prepare.yml").read_text()
    assert own.replace("azure-pipelines.yml", "library.yml") == shared


def test_ci_tools_reach_pip_as_written_whatever_their_markers(tmp_path):
    project = bake(tmp_path)
    pyproject = project.path / "pyproject.toml"
    written = ["nox==2026.10.20", "coverage>=7.17; python_version >= '3.11'"]
    pyproject.write_text(
        re.sub(r"(?ms)^ci = \[.*?^\]", f"ci = {written!r}", pyproject.read_text())
    )
    variables = read_pyproject_variables("ci", project.path)
    assert variables["artifactFeed"] == "myproject/python-internal"
    install = f"python -m pip install {variables['tools']}"
    # `python` stands in for pip: it prints the arguments the shell gave it.
    received = subprocess.run(
        ["bash", "-c", f'python() {{ printf "%s\\n" "$@"; }}\n{install}'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert received == ["-m", "pip", "install", *written]
    assert not list(tmp_path.glob("=*"))  # no redirection made a file


def test_every_cached_folder_is_made_by_its_own_job(expanded):
    """Cache@2's post-job save fails on a missing folder, whenever no other job
    saved the key first (microsoft/azure-pipelines-tasks#12268)."""
    makes = {"$(UV_CACHE_DIR)": re.compile(r"^(nox|uv) ", re.M)}
    checked = 0
    for answers, pipeline in expanded:
        for job in jobs_of(pipeline):
            steps = job["steps"]
            for index, step in enumerate(steps):
                if step.get("task") != "Cache@2":
                    continue
                path = step["inputs"]["path"]
                later = "\n".join(s.get("script", "") for s in steps[index + 1 :])
                assert makes[path].search(later), (combination_id(answers), job["job"])
                checked += 1
    assert checked == len(expanded)  # the tests job's uv cache


def test_publish_steps_get_the_job_token_mapped_and_write_no_pypirc(expanded):
    for _, pipeline in expanded:
        publishing = [
            step
            for _, _, _, step in steps_of(pipeline)
            if step.get("script", "").startswith("nox -s publish")
        ]
        assert len(publishing) == 2
        for step in publishing:
            assert step["env"] == {"TWINE_PASSWORD": "$(System.AccessToken)"}
        text = yaml.safe_dump(pipeline)
        assert "TwineAuthenticate" not in text and "PYPIRC" not in text


def test_one_coverage_report_for_all_pythons(expanded):
    for _, pipeline in expanded:
        jobs = {job["job"]: job for job in jobs_of(pipeline)}
        reports = [
            job["job"]
            for job in jobs.values()
            for step in job["steps"]
            if step.get("task") == "PublishCodeCoverageResults@2"
        ]
        assert reports == ["coverage"]
        assert jobs["coverage"]["dependsOn"] == "tests"
        scripts = " ".join(s.get("script", "") for s in jobs["coverage"]["steps"])
        assert "coverage combine" in scripts and "coverage xml" in scripts
        published = [
            s["inputs"]["artifact"]
            for s in jobs["tests"]["steps"]
            if s.get("task") == "PublishPipelineArtifact@1"
        ]
        assert published == ["reports-$(python.version)"]


def test_result_steps_run_only_after_tests_that_ran(expanded):
    """A failed install is one red error, not one more per missing result file."""
    for _, pipeline in expanded:
        tests = next(j for j in jobs_of(pipeline) if j["job"] == "tests")
        for step in tests["steps"]:
            condition = step.get("condition", "succeeded()")
            if "succeededOrFailed()" in condition or "always()" in condition:
                assert "eq(variables['testsRan'], 'true')" in condition, step


def test_setup_docs_name_both_build_identities_and_the_parallelism_grant(
    tmp_path,
):
    project = bake(tmp_path, azure_project="Data Platform", azure_organization="acme")
    docs = pipeline_docs(project)
    assert "Project Collection Build Service (acme)" in docs
    assert "Data Platform Build Service (acme)" in docs
    assert "Limit job authorization scope" in docs
    assert "parallelism" in docs and "one after another" in docs


def pipeline_docs(project) -> str:
    """docs/pipeline.md, or the README's Continuous integration section, with
    its lines joined."""
    if project.exists("docs/pipeline.md"):
        text = project.read("docs/pipeline.md")
    else:
        readme = project.read("README.md")
        text = readme[readme.index("## Continuous integration") :]
        text = text[: text.find("\n## ", 1)]
    return " ".join(text.split())


# --- the condition evaluator the local run relies on -------------------------

PUBLISH = (
    "and(succeeded(), ne(variables['Build.Reason'], 'PullRequest'), "
    "or(startsWith(variables['Build.SourceBranch'], 'refs/tags/v'), "
    "eq(variables['Build.SourceBranch'], 'refs/heads/main')))"
)


@pytest.mark.parametrize(
    "branch, reason, succeeded, expected",
    [
        ("refs/tags/v1.2.0", "IndividualCI", True, True),
        ("refs/heads/main", "BatchedCI", True, True),
        ("refs/heads/feature/x", "IndividualCI", True, False),
        ("refs/pull/7/merge", "PullRequest", True, False),
        ("refs/heads/main", "PullRequest", True, False),
        ("refs/tags/v1.2.0", "IndividualCI", False, False),
        ("refs/tags/release-1", "IndividualCI", True, False),
    ],
)
def test_publish_condition(branch, reason, succeeded, expected):
    variables = {"Build.SourceBranch": branch, "Build.Reason": reason}
    assert evaluate(PUBLISH, variables, {"succeeded": succeeded}) is expected


def test_condition_evaluator_refuses_what_it_does_not_know():
    with pytest.raises(PipelineError, match="contains"):
        evaluate("contains('abc', 'b')", {}, {"succeeded": True})


# --- the local pipeline run ----------------------------------------------------


@pytest.mark.parametrize(
    "checkout, version",
    [
        ({}, "0.1.dev1"),  # Azure's default for new pipelines: shallow, no tags
        ({"fetchDepth": "0", "fetchTags": "true"}, "1.2.1.dev1"),
    ],
)
def test_local_checkout_is_as_shallow_as_azures_unless_told_otherwise(
    tmp_path, checkout, version
):
    project = bake(tmp_path / "bake", versioning="git-tags")
    project.git("tag", "-a", "v1.2.0", "-m", "Release 1.2.0")
    project.commit("After the release")
    pipeline = tmp_path / "azure-pipelines.yml"
    script = f"{sys.executable} -m hatchling version"
    steps = [{"checkout": "self", **checkout}, {"script": script}]
    pipeline.write_text(
        yaml.safe_dump(
            {"stages": [{"stage": "S", "jobs": [{"job": "J", "steps": steps}]}]}
        )
    )
    agent = LocalAgent(project.path, None, tmp_path / "agent" / "work" / "1")

    result = agent.run(pipeline, Build("refs/heads/main"))

    assert result.succeeded, result.output
    assert result.ran("J", script).output.splitlines()[-1] == version


@pytest.mark.slow
def test_pipeline_publishes_tag_releases_and_main_dev_versions_only(
    tmp_path: Path, index_server: IndexServer, template_repository: Path, azure
):
    project = bake(
        tmp_path / "bake",
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        azure_project="Data Platform",
        feed_scope="project",
        include_dockerfile=False,  # no Docker engine here
        versioning="git-tags",
    )
    dist = project.distribution.replace("-", "_")
    add_secret_probe(project, index_server.password)
    project.git("tag", "-a", "v1.2.0", "-m", "Release 1.2.0")
    # Azure DevOps: an empty organisation whose feed the template's command sets
    # up; its Python endpoints store in the index, whose password is the job token.
    org = azure.org
    org.add_project("Data Platform", repositories=[project.distribution])
    org.add_job_token(index_server.password, "Data Platform")
    feed = feed_on(azure, index_server, project="Data Platform")
    org.published = lambda feed, package, version: any(
        name.startswith(f"{dist}-{version}") for name in index_server.files()
    )
    setup = ("setup", str(project.path), "--pipeline")
    made = run_azure_pylib(tmp_path, azure, *setup)
    assert made.returncode == 0, made.stderr
    again = run_azure_pylib(tmp_path, azure, *setup)
    assert again.stdout.startswith("Nothing to change"), again.stdout + again.stderr
    templates = TemplateSource(
        {"Data Platform/cookiecutter-azure-pylib": template_repository}
    )
    agent = LocalAgent(
        project.path, feed, tmp_path / "agent" / "work" / "1",
        templates=templates, team_project="Data Platform",
    )  # fmt: skip
    pipeline = project.path / "azure-pipelines.yml"

    def run(source_branch: str, build_id: int):
        result = agent.run(pipeline, Build(source_branch, build_id=build_id))
        assert index_server.password not in result.output
        return result

    # A release tag publishes exactly its version, then promotes it to @Release.
    tag = run("refs/tags/v1.2.0", 1)
    assert tag.succeeded, tag.output
    assert tag.stages == {"Test": "succeeded", "Publish": "succeeded"}
    assert tag.ran("publish", "Publish a development version").outcome == "skipped"
    release = [f"{dist}-1.2.0-py3-none-any.whl", f"{dist}-1.2.0.tar.gz"]
    assert index_server.files() == release
    promoted = tag.ran("promote", "Promote the release to @Release")
    assert promoted.output.strip().endswith(
        f"Promoted {project.distribution} 1.2.0 to python-internal@Release"
    )
    assert list(org.versions.values()) == [["Local", "Release"]]

    # main one commit later publishes the next version's first dev release.
    project.commit("Faster chunking")
    main = run("refs/heads/main", 2)
    assert main.succeeded, main.output
    assert main.ran("publish", "Publish the release of this tag").outcome == "skipped"
    assert "promote" in main.jobs_skipped  # development versions stay out of views
    development = [f"{dist}-1.2.1.dev1-py3-none-any.whl", f"{dist}-1.2.1.dev1.tar.gz"]
    assert index_server.files() == sorted(release + development)

    # Other branches are tested but publish nothing.
    project.run("git", "switch", "--quiet", "-c", "feature/retries")
    project.commit("Retries")
    feature = run("refs/heads/feature/retries", 3)
    assert feature.succeeded, feature.output
    assert feature.stages == {"Test": "succeeded", "Publish": "skipped"}
    assert index_server.files() == sorted(release + development)

    # A tag added to a commit whose version is another one fails, naming both.
    project.run("git", "tag", "v1.3.0", "v1.2.0^{commit}")
    mismatch = run("refs/tags/v1.3.0", 4)
    assert not mismatch.succeeded
    assert mismatch.stages == {"Test": "succeeded", "Publish": "failed"}
    released_commit = project.run("git", "rev-parse", "v1.2.0^{commit}").stdout.strip()
    assert f"at {released_commit}," in mismatch.ran("publish", "checkout").output
    failed = mismatch.ran("publish", "Publish the release of this tag")
    assert failed.outcome == "failed"
    assert "v1.3.0" in failed.output and "1.2.0" in failed.output
    assert index_server.files() == sorted(release + development)

    # Without the Feed Publisher role the promotion fails, naming role and identities.
    feed = org.feeds[0]
    org.roles[feed["id"]][
        org.build_identity("Data Platform").descriptor
    ] = "collaborator"
    project.run("git", "switch", "--quiet", "main")
    project.git("tag", "-a", "v1.2.1", "-m", "Release 1.2.1")
    refused = run("refs/tags/v1.2.1", 5)
    assert refused.stages == {"Test": "succeeded", "Publish": "failed"}
    failure = refused.ran("promote", "Promote the release to @Release").output
    assert (
        "Feed Publisher (Contributor) role on python-internal for the pipeline's"
        in failure
    )
    assert "Data Platform Build Service (myorg)" in failure

    # One coverage report, combined from the data the tests job published.
    downloaded = main.ran("coverage", "Download the coverage data").output
    assert f"reports-{RUNNING_PYTHON}/.coverage" in downloaded
    published = main.ran("coverage", "PublishCodeCoverageResults@2").output
    assert re.fullmatch(
        r"coverage: coverage\.xml \([1-9]\d* of [1-9]\d* lines\)", published
    )


@pytest.mark.slow
def test_a_type_error_fails_the_run_and_nothing_is_published(
    tmp_path: Path, index_server: IndexServer
):
    """mypy runs in CI as in a bare `nox`: tests, black and flake8 all pass."""
    project = bake(
        tmp_path / "bake",
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        include_dockerfile=False,
    )
    module = project.path / "src" / project.package / "typed.py"
    module.write_text('def answer() -> int:\n    return "forty-two"\n')
    project.git("add", "--all")
    project.git("commit", "--quiet", "-m", "A function that lies about its type")
    with running_feed(index_server, tmp_path / "network") as feed:
        agent = LocalAgent(project.path, feed, tmp_path / "agent" / "work" / "1")

        result = agent.run(
            project.path / "azure-pipelines.yml", Build("refs/heads/main")
        )

    failed = [(s.job, s.name) for s in result.steps if s.outcome == "failed"]
    assert failed == [("lint", "nox -s typecheck lint")], result.output
    checked = result.ran("lint", "nox -s typecheck lint").output
    assert 'Incompatible return value type (got "str", expected "int")' in checked
    assert result.stages["Publish"] == "skipped"
    assert index_server.files() == []


@pytest.mark.slow
def test_a_failed_install_is_the_one_red_error_of_its_job(
    tmp_path: Path, index_server: IndexServer
):
    project = bake(
        tmp_path / "bake",
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        include_dockerfile=False,
    )
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "dependencies = []", 'dependencies = ["not-on-the-feed-anywhere"]'
        )
    )
    project.git("commit", "--quiet", "-am", "Depend on a package the feed lacks")
    with running_feed(index_server, tmp_path / "network") as feed:
        agent = LocalAgent(project.path, feed, tmp_path / "agent" / "work" / "1")

        result = agent.run(
            project.path / "azure-pipelines.yml", Build("refs/heads/main")
        )

    failed = [(s.job, s.name) for s in result.steps if s.outcome == "failed"]
    # Each job that installs the project: one red error, its install's.
    assert failed == [
        ("tests py3{}".format(sys.version_info.minor), "Install the test environment"),
        ("lint", "nox -s typecheck lint"),
    ], result.output
    assert (
        "not-on-the-feed-anywhere" in result.ran("lint", "nox -s typecheck lint").output
    )
    assert "coverage" in result.jobs_skipped
    assert index_server.password not in result.output


@pytest.mark.slow
def test_a_wrong_feed_name_fails_the_first_step_after_the_feed_with_its_cause(
    tmp_path: Path, index_server: IndexServer
):
    project = bake(
        tmp_path / "bake",
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        include_dockerfile=False,
        feed_name="python",  # the organisation's feed is python-internal
    )
    with running_feed(index_server, tmp_path / "network") as feed:
        agent = LocalAgent(project.path, feed, tmp_path / "agent" / "work" / "1")

        result = agent.run(
            project.path / "azure-pipelines.yml", Build("refs/heads/main")
        )

    failed = {s.name for s in result.steps if s.outcome == "failed"}
    assert failed == {"Install the tools pinned in pyproject.toml"}, result.output
    leg = "tests py3{}".format(sys.version_info.minor)
    install = result.ran(leg, "Install the tools pinned in pyproject.toml").output
    assert "404" in install
    assert (
        "##vso[task.logissue type=error]pip could not install the tools of"
        " pyproject.toml from the feed myproject/python (why: above)" in install
    )
    assert result.ran(leg, "Check that the feed answers").outcome == "skipped"
    assert index_server.password not in result.output


def add_secret_probe(project: BakedProject, secret: str) -> None:
    """Commit a test to the library that fails if it can read `secret`."""
    probe = project.path / "tests" / "test_secret_probe.py"
    probe.write_text(secret_probe(secret))
    project.git("add", str(probe))
    project.git("commit", "--quiet", "-m", "A test that looks for the feed token")


needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="the pipeline's tests step runs as a user of its own: runuser needs root",
)


@pytest.mark.slow
@needs_root
@pytest.mark.parametrize("mode", ["self-contained", "shared"])
def test_the_library_tests_cannot_reach_the_job_token(
    tmp_path: Path, index_server: IndexServer, template_repository: Path, mode: str
):
    """The agent holds the job token in every task process's environment; the
    probe looks in its own environment, its ancestors' /proc/<pid>/environ and
    every file it can read. Without the step's own user, it finds the token."""
    project = bake(
        tmp_path / "bake",
        minimum_python=RUNNING_PYTHON,
        include_dockerfile=False,
        pipeline=mode,
    )
    add_secret_probe(project, index_server.password)
    templates = TemplateSource(
        {"myproject/cookiecutter-azure-pylib": template_repository}
    )
    with running_feed(index_server, tmp_path / "network") as feed:
        agent = LocalAgent(
            project.path, feed, tmp_path / "work" / "1", templates=templates
        )
        pipeline = agent.load(project.path / "azure-pipelines.yml")
        (test_stage,) = [s for s in pipeline["stages"] if s["stage"] == "Test"]
        (tests_job,) = [j for j in test_stage["jobs"] if j["job"] == "tests"]
        pipeline["stages"] = [{"stage": "Test", "jobs": [tests_job]}]
        as_generated = tmp_path / "tests-job.yml"
        as_generated.write_text(yaml.safe_dump(pipeline))
        (step,) = [s for s in tests_job["steps"] if "sudo" in s.get("script", "")]
        step["script"] = "nox --force-python $(python.version) -s tests -R"
        as_the_agents_user = tmp_path / "tests-job-as-the-agents-user.yml"
        as_the_agents_user.write_text(yaml.safe_dump(pipeline))
        leg = f"tests py3{sys.version_info.minor}"

        kept_out = agent.run(as_generated, Build("refs/heads/main"))
        exposed = agent.run(as_the_agents_user, Build("refs/heads/main", build_id=2))

    assert kept_out.succeeded, kept_out.output
    ran = kept_out.ran(leg, "nox -s tests, as a user without the job token").output
    assert "passed" in ran
    assert not exposed.succeeded
    failed = exposed.ran(leg, "nox -s tests, as a user without the job token")
    assert "FAILED tests/test_secret_probe.py" in failed.output
    assert "ENDPOINT_AUTH" not in failed.output  # the probe names no secret either
    assert index_server.password not in kept_out.output + exposed.output


def python_step(pipeline: dict[str, Any]) -> dict[str, Any]:
    """The tests job's step that provides the Python under test."""
    (step,) = [
        s
        for _, job, _, s in steps_of(pipeline)
        if job["job"] == "tests" and s.get("displayName") == "Python $(python.version)"
    ]
    return step


@pytest.mark.parametrize(
    ("version", "found"), [(RUNNING_PYTHON, True), ("3.99", False)]
)
def test_the_python_under_test_is_the_images_or_uvs_and_a_missing_one_fails_clearly(
    expanded, tmp_path, version, found
):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "uv").symlink_to(uv.find_uv_bin())
    steps = [
        {"task": "UsePythonVersion@0", "inputs": {"versionSpec": RUNNING_PYTHON}},
        {"script": f'echo "##vso[task.prependpath]{tools}"'},
        python_step(expanded[0][1]),
        {"script": f"command -v python{version}", "displayName": "found"},
    ]
    pipeline = tmp_path / "azure-pipelines.yml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "variables": {"python.version": version},
                "stages": [{"stage": "S", "jobs": [{"job": "J", "steps": steps}]}],
            }
        )
    )
    repository = bake(tmp_path / "bake").path
    agent = LocalAgent(repository, None, tmp_path / "work" / "1")

    result = agent.run(pipeline, Build("refs/heads/main"))

    step = result.ran("J", "Python $(python.version)")
    if found:
        assert result.succeeded, result.output
        tool_cache = tmp_path / "work" / "_tool" / "Python"
        assert f"Testing on Python {platform.python_version()}" in step.output
        assert f"from {tool_cache}" in step.output  # the image's own
        located = Path(result.ran("J", "found").output.strip())
        assert located.name == f"python{version}"
        assert located.is_relative_to(tool_cache)
    else:
        assert step.outcome == "failed"
        assert (
            f"##vso[task.logissue type=error]No CPython {version} on this image, and"
            " uv could not install it (above): a newer uv in the ci group of"
            " pyproject.toml knows newer Pythons." in step.output
        )
        assert result.ran("J", "found").outcome == "skipped"


def test_coverage_is_combined_by_the_tests_coverage_with_the_sources_named(
    pipelines, tmp_path
):
    library = (TEMPLATE / "pipelines" / "library.yml").read_text()
    for text in [*pipelines, library]:
        assert "--group test" in text  # the coverage the tests resolved, not a pin
        assert "pathToSources: $(System.DefaultWorkingDirectory)" in text
    ci_group = bake(tmp_path).pyproject["dependency-groups"]["ci"]
    assert not [pin for pin in ci_group if pin.startswith("coverage")]


def test_the_docs_say_how_to_keep_publishing_rights_out_of_pull_requests(tmp_path):
    docs = pipeline_docs(bake(tmp_path))
    assert "Publishing rights and pull requests" in docs
    assert "Feed and Upstream Reader (Collaborator)" in docs
    assert "Branch control" in docs and "refs/heads/main,refs/tags/v*" in docs
    assert "The tests run without the feed token" in docs
    assert "UV_PYTHON_INSTALL_MIRROR" in docs  # the Pythons, where GitHub is closed


def test_the_docker_docs_say_how_to_avoid_docker_hubs_pull_limits(tmp_path):
    docs = " ".join(bake(tmp_path).read("docs/docker.md").split())
    assert "BUILDKIT_SYNTAX=" in docs and "--build-arg PYTHON_IMAGE=" in docs
    assert "command: login" in docs


def test_the_publishing_docs_name_the_first_release_window_and_keyring_pythons(
    tmp_path,
):
    docs = " ".join(bake(tmp_path).read("docs/publishing.md").split())
    assert "Before the first release" in docs
    assert "Azure blocks external versions of a name only once an internal" in docs
    assert "on Linux with Python 3.14 or 3.15 it has none" in docs
    assert "artifacts-keyring>=2.0.0rc5" in docs
