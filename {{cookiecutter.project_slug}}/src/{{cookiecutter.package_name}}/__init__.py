"""The {{ cookiecutter.project_slug }} package."""

from importlib.metadata import version

__version__ = version("{{ cookiecutter.project_slug }}")
