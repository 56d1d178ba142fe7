"""The machinery of cookiecutter-azure-pylib, written and tested once in the
template's repository and released with it: Azure DevOps' REST API (the feed's
setup, promotions, pull requests), template updates and the template's release
checks. Standard library only, so `python3 -m azure_pylib` runs from a clone
of the template without installing anything.
"""
