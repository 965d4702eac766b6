"""The {{ cookiecutter.project_slug }} package."""

from importlib.metadata import version

# The distribution this package is installed from (pyproject.toml's project.name).
__distribution__ = "{{ cookiecutter.project_slug }}"
__version__ = version(__distribution__)
