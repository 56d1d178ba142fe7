"""Unusual but valid answers bake into projects that pass the core static checks."""

from __future__ import annotations

import re
import tomllib
from urllib.parse import unquote, urlsplit

import pytest

from tests.baking import bake
from tests.static_checks import assert_static_checks_pass

UNUSUAL = {
    "unicode project name": {"project_name": "Über Daten — Werkzeuge"},
    "non-latin project name": {"project_name": "数据工具 Data Tools"},
    "single letters": {
        "project_name": "A", "package_name": "a", "azure_organization": "a",
        "azure_project": "P", "feed_name": "f", "author_email": "a@b.co",
    },
    "dots and underscores": {
        "project_name": "acme.data_tools", "feed_name": "team.feed_v2",
        "azure_project": "data.platform_2",
    },
    "spaces and symbols in the Azure project": {
        "azure_project": "Data Platform & R-D (2025) 100%",
    },
    "longest names": {
        "project_name": "P" * 100, "project_slug": "a" * 36, "package_name": "b" * 36,
        "description": ("A long description " * 11)[:199] + "x",
        "author_name": "N" * 100, "azure_organization": "o" * 50,
        "azure_project": "p" * 64, "feed_name": "f" * 64,
    },
    "soft keyword package": {"package_name": "match"},
    "unusual extras and version": {
        "extras": " s3 , azure-blob,x1 ", "versioning": "static",
        "version": "1!2.0rc1.post3.dev4",
    },
    "organization feed with unicode author": {
        "feed_scope": "organization", "author_name": "Zoë O'Brien-Łukasz",
        "description": "Ça marche: {fast}, small & <safe>",
    },
}  # fmt: skip


@pytest.mark.parametrize("answers", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_unusual_answers_bake_into_a_project_that_passes_the_static_checks(
    tmp_path, answers
):
    project = bake(tmp_path, **answers)
    assert_static_checks_pass(project)


def test_an_azure_project_with_spaces_renders_correctly_everywhere(tmp_path):
    azure_project = "Data Platform & R-D 100%"
    project = bake(tmp_path, azure_project=azure_project, feed_scope="project")
    encoded = "Data%20Platform%20%26%20R-D%20100%25"

    pyproject = tomllib.loads(project.read("pyproject.toml"))
    assert pyproject["tool"]["azure-artifacts"]["project"] == azure_project
    for url in pyproject["project"]["urls"].values():
        assert urlsplit(url).path.split("/")[2] == encoded
        assert unquote(urlsplit(url).path.split("/")[2]) == azure_project

    docs = "\n".join(project.documentation().values())
    feed_urls = re.findall(r"https://\S*pkgs\.dev\.azure\.com/\S+", docs)
    assert feed_urls
    for url in feed_urls:  # the feed, or its @Release view
        assert re.search(
            f"/{encoded}/_packaging/python-internal(@Release)?/pypi/simple/", url
        )
    # The plain name appears only where a value, not a URL, is expected:
    # the feed coordinates, and the build identity named in the docs.
    for path in project.files():
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if azure_project in line and "://" in line:
                raise AssertionError(f"{path}: unencoded in a URL: {line}")
    assert f'project = "{azure_project}"' in project.read("pyproject.toml")
    assert f"*{azure_project} Build Service (myorg)*" in docs
