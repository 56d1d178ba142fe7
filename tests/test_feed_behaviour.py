"""The pipeline's Publish stage against a feed that answers like Azure Artifacts.

The Publish stage of the generated azure-pipelines.yml runs as written through
tests/pipeline_runner.py (the Test stage is covered by tests/test_pipeline.py),
with tests/feed_stand_in.py in front of pypiserver as the feed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.baking import BakedProject, bake
from tests.feed_stand_in import Feed, running_feed
from tests.index_server import IndexServer, running_index_server
from tests.pipeline_runner import Build, LocalAgent, RunResult

PUBLISH_STEPS = ("Publish a development version", "Publish the release of this tag")


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Iterator[Feed]:
    with running_index_server(tmp_path_factory.mktemp("index")) as index:
        with running_feed(index) as feed:
            yield feed


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> BakedProject:
    return bake(
        tmp_path_factory.mktemp("bake"),
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        include_dockerfile=False,  # no Docker engine here
        versioning="git-tags",
    )


@pytest.fixture(scope="module")
def publish_stage(project, tmp_path_factory) -> Path:
    """The generated pipeline's Publish stage alone, as written."""
    pipeline = yaml.safe_load(project.read("azure-pipelines.yml"))
    (stage,) = [s for s in pipeline["stages"] if s["stage"] == "Publish"]
    stage["dependsOn"] = []
    pipeline["stages"] = [stage]
    path = tmp_path_factory.mktemp("pipeline") / "azure-pipelines.yml"
    path.write_text(yaml.safe_dump(pipeline))
    return path


def run(agent: LocalAgent, pipeline: Path, build: Build, *secrets: str) -> RunResult:
    result = agent.run(pipeline, build)
    for secret in secrets:
        assert secret not in result.output
    return result


def published_step(result: RunResult):
    (step,) = [
        s for s in result.steps if s.name in PUBLISH_STEPS and s.outcome != "skipped"
    ]
    return step


@pytest.mark.slow
def test_a_requeued_main_build_is_green_and_publishes_nothing_new(
    tmp_path, project, feed, publish_stage
):
    project.commit("Faster chunking")
    agent = LocalAgent(project.path, feed.server, tmp_path / "agent" / "work" / "1")
    main = Build("refs/heads/main", build_id=1)
    first = run(agent, publish_stage, main, feed.index.password)
    files = feed.index.files()

    requeued = run(
        agent,
        publish_stage,
        dataclasses.replace(main, build_id=2, reason="Manual"),
        feed.index.password,
    )

    assert first.succeeded, first.output
    assert any(".dev" in name for name in files)
    assert requeued.succeeded, requeued.output
    step = published_step(requeued)
    assert step.outcome == "succeeded"
    assert "is already on" in step.output and "nothing new to publish" in step.output
    assert feed.index.files() == files


@pytest.mark.slow
def test_a_tag_whose_feed_redirects_to_sign_in_is_red_with_the_credentials_message(
    tmp_path, project, feed, publish_stage
):
    project.commit("Release")
    project.git("tag", "-a", "v2.0.0", "-m", "Release 2.0.0")
    expired: IndexServer = dataclasses.replace(
        feed.server, password="expired-" + feed.index.password[::-1]
    )
    agent = LocalAgent(
        project.path, feed.server, tmp_path / "agent" / "work" / "1", expired
    )

    result = run(
        agent,
        publish_stage,
        Build("refs/tags/v2.0.0"),
        feed.index.password,
        expired.password,
    )

    assert not result.succeeded
    step = published_step(result)
    assert step.outcome == "failed"
    assert (
        f"{feed.server.upload_url} refused the credentials (the sign-in page)"
        in step.output
    )
    assert not any("2.0.0" in name for name in feed.index.files())
