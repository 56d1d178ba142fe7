"""The template's own azure-pipelines.yml and its release check: tests on every push,
a release only for a tag that CHANGELOG.md and _template_version agree with."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from azure_pylib import releases
from tests.baking import GIT_IDENTITY, TEMPLATE, copy_template
from tests.feed_stand_in import Feed, running_feed
from tests.index_server import running_index_server
from tests.pipeline_runner import Build, LocalAgent
from tests.static_checks import azure_pipelines_schema_errors

PIPELINE = TEMPLATE / "azure-pipelines.yml"
RELEASE = f"v{releases.entries((TEMPLATE / 'CHANGELOG.md').read_text())[0].version}"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory) -> Path:
    """The template in git, its release tagged and a tag that is no release."""
    repository = copy_template(tmp_path_factory.mktemp("repos") / "template")
    env = {**GIT_IDENTITY, "PATH": "/usr/bin:/bin", "HOME": str(repository.parent)}
    for command in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "--all"],
        ["commit", "--quiet", "-m", "Release"],
        ["tag", "-a", RELEASE, "-m", RELEASE],
        ["tag", "-a", "v9.9.9", "-m", "A tag nobody prepared"],
    ):
        subprocess.run(["git", *command], cwd=repository, env=env, check=True)
    return repository


def release_stage_only(tmp_path: Path) -> Path:
    """The pipeline's Release stage as it is, without the Test stage before it
    (which runs this very suite)."""
    pipeline = yaml.safe_load(PIPELINE.read_text())
    (release,) = [s for s in pipeline["stages"] if s["stage"] == "Release"]
    pipeline["stages"] = [release]
    path = tmp_path / "release.yml"
    path.write_text(yaml.safe_dump(pipeline))
    return path


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[Feed]:
    """The organisation's feed, which has no release of the template's tools yet."""
    with running_index_server(tmp_path / "index", tools=False) as index:
        with running_feed(index, tmp_path / "network") as feed:
            yield feed


def agent_for(repository: Path, tmp_path: Path, feed: Feed | None = None):
    return LocalAgent(repository, feed, tmp_path / "work" / "1")


def test_the_template_pipeline_is_valid_and_releases_from_tags_only(tmp_path, hosted):
    assert azure_pipelines_schema_errors([PIPELINE]) == {str(PIPELINE): []}
    agent = agent_for(hosted, tmp_path)

    def stages(ref: str) -> dict[str, str]:
        plan = agent.plan(PIPELINE, Build(ref))
        return {row[1]: row[2] for row in plan if row[0] == "stage"}

    assert stages(f"refs/tags/{RELEASE}") == {"Test": "True", "Release": "True"}
    assert stages("refs/heads/main") == {"Test": "True", "Release": "False"}
    assert stages("refs/heads/feature") == {"Test": "True", "Release": "False"}
    # The Test stage runs .ci/run, which runs README.md's test command.
    (tests,) = [r for r in agent.plan(PIPELINE, Build("refs/heads/main"))
                if r[0] == "step" and ".ci/run" in r[3]]  # fmt: skip
    assert tests[2] == "True"


@pytest.mark.slow
def test_a_release_tag_publishes_its_changelog_entry_and_its_tools(
    tmp_path, hosted, feed
):
    agent = agent_for(hosted, tmp_path, feed)

    result = agent.run(release_stage_only(tmp_path), Build(f"refs/tags/{RELEASE}"))

    assert result.succeeded, result.output
    notes = (agent.artifacts / "release-notes" / "release-notes.md").read_text()
    assert notes.startswith(f"cookiecutter-azure-pylib {RELEASE[1:]} (")
    assert "### Added" in notes
    version = RELEASE[1:]
    assert sorted(path.name for path in feed.index.packages.iterdir()) == [
        f"cookiecutter_azure_pylib-{version}-py3-none-any.whl",
        f"cookiecutter_azure_pylib-{version}.tar.gz",
    ]
    published = result.ran("release", "Publish the template's tools to the feed")
    assert f"Published {version} to {feed.upload_url}" in published.output
    assert feed.token not in result.output


def test_the_release_job_refuses_a_tag_that_disagrees_with_the_template(
    tmp_path, hosted, feed
):
    agent = agent_for(hosted, tmp_path, feed)

    result = agent.run(release_stage_only(tmp_path), Build("refs/tags/v9.9.9"))

    assert not result.succeeded
    check = result.ran("release", "Check that the tag is a whole release")
    assert check.outcome == "failed"
    assert (
        f"cookiecutter.json has _template_version '{RELEASE[1:]}', the tag v9.9.9"
        " says '9.9.9'" in check.output
    )
    assert "The newest release in CHANGELOG.md is" in check.output
    assert not (agent.artifacts / "release-notes").exists()
    assert list(feed.index.packages.iterdir()) == []


@pytest.mark.parametrize(
    "tag, problem",
    [
        ("1.0.0", "1.0.0 is not a release tag: release tags are vX.Y.Z"),
        ("v1.0", "v1.0 is not a release tag"),
        ("v1.0.0-rc1", "v1.0.0-rc1 is not a release tag"),
    ],
)
def test_only_vxyz_tags_are_releases(tag, problem, tmp_path):
    (found,) = releases.problems(tag, tmp_path)
    assert found.startswith(problem)


def test_the_entries_between_two_releases_are_the_newer_ones_only():
    changelog = (
        "## [Unreleased]\n\n- next\n\n"
        "## [1.10.0] - 2026-12-20\n\n- ten\n\n"
        "## [1.9.0] - 2026-12-10\n\n- nine\n\n"
        "## [1.2.0] - 2026-12-02\n\n- two\n"
    )

    between = releases.entries_between(changelog, "1.2.0", "1.10.0")

    # Versions compare as numbers: 1.10.0 is newer than 1.9.0.
    assert [(e.version, e.text) for e in between] == [
        ("1.10.0", "- ten"),
        ("1.9.0", "- nine"),
    ]
