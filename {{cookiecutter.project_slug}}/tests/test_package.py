from importlib.metadata import version

import pytest

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.__main__ import main

DISTRIBUTION = "{{ cookiecutter.project_slug }}"


def test_version_is_the_installed_distribution_version() -> None:
    assert {{ cookiecutter.package_name }}.__version__ == version(DISTRIBUTION)


def test_running_the_package_prints_name_and_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main()
    assert capsys.readouterr().out == f"{DISTRIBUTION} {version(DISTRIBUTION)}\n"
