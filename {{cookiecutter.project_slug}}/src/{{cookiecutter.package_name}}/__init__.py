"""{{ (cookiecutter.project_name ~ ": " ~ cookiecutter.description ~ ".") | wordwrap(82) }}"""

from importlib.metadata import version

from {{ cookiecutter.package_name }}.batching import chunked

__all__ = ["__version__", "chunked"]

__version__ = version("{{ cookiecutter.project_slug }}")
