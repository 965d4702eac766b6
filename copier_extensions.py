"""copier's view of this cookiecutter template: the same files from the same answers.

copier loads these extensions through copier-template-extensions (`_jinja_extensions` in copier.yml), from
the template's own commit. They give copier what cookiecutter gives the template: the `cookiecutter`
namespace (every answer, and cookiecutter.json's private constants), the `now` tag and the `slugify` filter;
template_extensions.py's filters; and the pre-generation hook's answer check (find_problems), so a bad answer
gets the same message under both tools, and a bad `--data` no traceback.
"""

import datetime
import importlib.util
from pathlib import Path

from copier.errors import UserMessageError
from copier_template_extensions import ContextHook
from jinja2 import nodes
from jinja2.ext import Extension


def _load_template_extensions():
    spec = importlib.util.spec_from_file_location(
        f"template_extensions_for_copier_{id(object())}", Path(__file__).with_name("template_extensions.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# copier-template-extensions executes this file anew for each render (an update renders the old and the new
# commit, each its own file), and this file loads its commit's template_extensions.py the same way.
shared = _load_template_extensions()
QUESTIONS = shared.QUESTIONS
CHOICES = {
    key: value for key, value in shared.COOKIECUTTER_JSON.items() if isinstance(value, list) and key in QUESTIONS
}
# What cookiecutter adds to its namespace besides the answers: the private constants (_uv_version, ...).
CONSTANTS = {key: value for key, value in shared.COOKIECUTTER_JSON.items() if key.startswith("_") and key[1] != "_"}
COPIER_NOTHING_GENERATED = "Nothing was generated. Run copier again with these answers fixed."


def refuse(problems, closing):
    raise UserMessageError("\n".join([*(f"error: {problem}" for problem in problems), closing]))


def check_choices(data):
    """Answers given with --data or --data-file for a question with choices must be one of them."""
    problems = [
        f"{key} {value!r} is not one of the choices: {', '.join(CHOICES[key])}."
        for key, value in data.items()
        if key in CHOICES and value not in CHOICES[key]
    ]
    if problems:
        refuse(problems, COPIER_NOTHING_GENERATED)


class CookiecutterContext(ContextHook):
    """Provides the `cookiecutter` namespace, and refuses bad answers by name before a file is written."""

    checked = None

    def hook(self, context):
        answers = {key: context[key] for key in QUESTIONS if key in context}
        context["cookiecutter"] = {**CONSTANTS, **answers}
        phase = str(context.get("_copier_phase", ""))
        if phase == "prompt":
            check_choices(dict(context["_copier_conf"]["data"]))
        elif phase == "render" and len(answers) == len(QUESTIONS) and answers != self.checked:
            problems = shared.answer_rules.find_problems(context["cookiecutter"])
            if problems:
                refuse(problems, COPIER_NOTHING_GENERATED)
            self.checked = answers


def slugify(text, **options):
    """cookiecutter's slugify filter (python-slugify), for the default of project_slug."""
    try:
        from slugify import slugify as python_slugify
    except ImportError:
        raise UserMessageError(
            "error: project_slug has no answer, and its default needs python-slugify, which is not installed next "
            "to copier: answer it (--data project_slug=my-service), or install python-slugify with copier."
        ) from None
    return python_slugify(text, **options)


class CookiecutterFilters(Extension):
    """template_extensions.py's filters, cookiecutter's slugify, and cookiecutter's `{% now 'utc', '%Y' %}`."""

    tags = frozenset({"now"})

    def __init__(self, environment):
        super().__init__(environment)
        shared.EscapeExtension(environment)
        environment.filters["slugify"] = slugify

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        timezone = parser.parse_expression()
        time_format = parser.parse_expression() if parser.stream.skip_if("comma") else nodes.Const("%Y-%m-%d")
        return nodes.Output([self.call_method("_now", [timezone, time_format], lineno=lineno)], lineno=lineno)

    @staticmethod
    def _now(timezone, time_format):
        if timezone != "utc":
            raise UserMessageError(f"the template's now tag supports 'utc' only, not {timezone!r}")
        return datetime.datetime.now(datetime.UTC).strftime(time_format)
