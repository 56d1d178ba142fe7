"""Shared fixtures: bake the template into a temporary folder and look at the result."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azure_stand_in import Azure, running_azure
from tests.baking import BakedProject, bake, bake_once
from tests.feed_stand_in import Feed, running_feed
from tests.index_server import IndexServer, running_index_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: runs real tools (nox, pip, twine) inside a baked project"
    )
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        # Each pytest run of this user makes /tmp/pytest-of-USER private again
        # (pytest's getbasetemp), and the baked projects' tests run pytest by
        # the hundred: the local agent's second user, which passes through the
        # temporary folders (tests/pipeline_runner.py), needs a root of its own.
        root = tempfile.mkdtemp(prefix="cookiecutter-azure-pylib-tests-")
        config.option.basetemp = root
        config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Iterator[IndexServer]:
    """A password-protected pypiserver shared by a module's tests."""
    with running_index_server(tmp_path_factory.mktemp("index")) as server:
        yield server


@pytest.fixture(scope="module")
def feed(index, tmp_path_factory) -> Iterator[Feed]:
    """The Azure Artifacts stand-in in front of `index`, on pkgs.dev.azure.com."""
    with running_feed(index, tmp_path_factory.mktemp("network")) as feed:
        yield feed


@pytest.fixture
def default_project(tmp_path: Path) -> BakedProject:
    """The project `cookiecutter --no-input` bakes from the defaults."""
    return bake(tmp_path)


@pytest.fixture(scope="session")
def baked_combination(
    tmp_path_factory, worker_id: str
) -> Callable[[dict[str, Any]], BakedProject]:
    """Bake a combination of answers once for the whole run; tests only read it."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # every xdist worker's folder is in the run's folder
        shared = shared.parent
    return functools.partial(bake_once, shared / "combinations")


@pytest.fixture
def index_server(tmp_path: Path) -> Iterator[IndexServer]:
    """A password-protected package index on 127.0.0.1, PyPI as its upstream."""
    with running_index_server(tmp_path) as server:
        yield server


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[Azure]:
    """The Azure DevOps stand-in on Azure's own names, with an empty organisation."""
    with running_azure(tmp_path / "network") as azure:
        yield azure
