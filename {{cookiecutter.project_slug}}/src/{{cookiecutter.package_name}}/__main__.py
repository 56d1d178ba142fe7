"""``python -m {{ cookiecutter.package_name }}`` prints the installed version."""

from {{ cookiecutter.package_name }} import __version__


def main() -> None:
    print(f"{{ cookiecutter.project_slug }} {__version__}")


if __name__ == "__main__":
    main()
