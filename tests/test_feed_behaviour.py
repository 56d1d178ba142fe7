"""The pipeline's Publish stage against a feed that answers like Azure Artifacts.

The Publish stage of the generated azure-pipelines.yml runs as written through
tests/pipeline_runner.py (the Test stage is covered by tests/test_pipeline.py),
with the feed stand-in at pkgs.dev.azure.com (tests/feed_stand_in.py) and the
Azure DevOps stand-in for the promotion.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import yaml

from tests.azure_stand_in import feed_on
from tests.baking import bake
from tests.index_server import running_index_server
from tests.pipeline_runner import Build, LocalAgent, RunResult

PUBLISH_STEPS = ("Publish a development version", "Publish the release of this tag")


def publish_stage(project, folder: Path) -> Path:
    """The generated pipeline's Publish stage alone, as written."""
    pipeline = yaml.safe_load(project.read("azure-pipelines.yml"))
    (stage,) = [s for s in pipeline["stages"] if s["stage"] == "Publish"]
    stage["dependsOn"] = []
    pipeline["stages"] = [stage]
    path = project.path / "publish-only.yml"  # beside pipelines/prepare.yml
    path.write_text(yaml.safe_dump(pipeline))
    return path


def published_step(result: RunResult):
    (step,) = [
        s for s in result.steps if s.name in PUBLISH_STEPS and s.outcome != "skipped"
    ]
    return step


@pytest.mark.slow
def test_a_run_again_of_main_or_of_a_tag_is_green_and_goes_on_to_promote(
    tmp_path, azure
):
    project = bake(
        tmp_path / "bake",
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        include_dockerfile=False,  # no Docker engine here
        versioning="git-tags",
    )
    stage = publish_stage(project, tmp_path)
    project.git("add", "publish-only.yml")
    project.commit("Release")
    project.git("tag", "-a", "v2.0.0", "-m", "Release 2.0.0")
    with running_index_server(tmp_path / "index") as index:
        feed = feed_on(azure, index)
        azure.org.add_job_token(feed.token, "myproject")
        azure.org.published = lambda f, package, version: any(
            f"-{version}-" in name for name in index.files()
        )
        run_azure_setup(azure, project)
        agent = LocalAgent(project.path, feed, tmp_path / "agent" / "work" / "1")
        tag = Build("refs/tags/v2.0.0", build_id=1)

        first = agent.run(stage, tag)
        files = feed.files()
        again = agent.run(stage, dataclasses.replace(tag, build_id=2, reason="Manual"))

    for result in (first, again):
        assert result.succeeded, result.output
        assert feed.token not in result.output
    assert files == ["my_shared_utils-2.0.0-py3-none-any.whl",
                     "my_shared_utils-2.0.0.tar.gz"]  # fmt: skip
    step = published_step(again)
    assert "2.0.0 is on" in step.output and "already, whole" in step.output
    promoted = again.ran("promote", "Promote the release to @Release")
    assert "Promoted my-shared-utils 2.0.0 to python-internal@Release" in (
        promoted.output
    )
    assert feed.files() == files


def run_azure_setup(azure, project) -> None:
    from tests.azure_stand_in import run_azure_pylib

    done = run_azure_pylib(project.path.parent, azure, "setup", project.path.name)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_a_job_token_the_feed_refuses_is_red_at_the_first_install_with_the_causes(
    tmp_path, azure
):
    project = bake(
        tmp_path / "bake",
        minimum_python=f"{sys.version_info.major}.{sys.version_info.minor}",
        include_dockerfile=False,
    )
    stage = publish_stage(project, tmp_path)
    project.git("add", "publish-only.yml")
    project.commit("Release")
    with running_index_server(tmp_path / "index") as index:
        feed = feed_on(azure, index)
        del feed.tokens[feed.token]  # expired
        agent = LocalAgent(project.path, feed, tmp_path / "agent" / "work" / "1")

        result = agent.run(stage, Build("refs/heads/main"))

    assert not result.succeeded
    failed = [s for s in result.steps if s.outcome == "failed"]
    assert [s.name for s in failed] == ["Install the tools pinned in pyproject.toml"]
    assert (
        "##vso[task.logissue type=error]pip could not install the tools of"
        " pyproject.toml from the feed myproject/python-internal" in failed[0].output
    )
    assert feed.token not in result.output
    assert feed.files() == []
