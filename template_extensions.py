"""Jinja extensions of the template: filters that escape user text for each file format, and the answer check.

Cookiecutter imports this module from the template root (``_extensions`` in cookiecutter.json).
cruft renders two commits of the template in one process, for an update: each extension forgets this
module once it is set up (``forget_this_module``), so the next render imports its own commit's version,
not the one Python cached from the first render.
It runs in whatever Python runs cookiecutter, so it uses the standard library, Jinja and cookiecutter only.
"""

import atexit
import importlib.util
import inspect
import json
import logging
import os
import re
import sys
import urllib.parse
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from jinja2 import TemplateSyntaxError, pass_environment
from jinja2.ext import Extension

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
# Characters that CommonMark (with GitHub's tables and strikethrough) can turn into markup anywhere,
# and the line starts that open a block (list item, quote, heading, setext underline).
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>&|~#!])")
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)(\d+(?=[.)])|[-+=>])")
# What YAML does not allow unescaped in a stream (YAML 1.1 and 1.2, section "Character Set").
_YAML_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Whitespace that Markdown strips at the ends of a paragraph (four spaces in front open a code block).
_MARKDOWN_EDGE_SPACE = re.compile(r"^\s+|\s+$")


def _load_hook(name):
    """The answer rules live in the pre-generation hook, which is importable Python (its Jinja runs only as main)."""
    spec = importlib.util.spec_from_file_location(f"template_{name}", Path(__file__).with_name("hooks") / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


answer_rules = _load_hook("pre_gen_project")
generation_steps = _load_hook("post_gen_project")


def toml_string(text: str) -> str:
    """Quote text as a TOML basic string."""
    escaped = "".join(
        _TOML_ESCAPES.get(char) or (f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in str(text)
    )
    return f'"{escaped}"'


def yaml_string(text: str) -> str:
    """Quote text as a YAML double-quoted scalar (JSON strings are valid YAML, once YAML's non-printable
    characters, which JSON leaves as they are, are escaped too)."""
    return _YAML_NON_PRINTABLE.sub(lambda m: f"\\u{ord(m[0]):04X}", json.dumps(str(text), ensure_ascii=False))


def markdown_text(text: str) -> str:
    """Backslash-escape what Markdown would read as markup, so the text renders as typed.

    Spaces at either end become character references, which Markdown keeps: four in front would
    otherwise open a code block, and both ends would be stripped.
    """
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", str(text))
    escaped = _MARKDOWN_BLOCK_START.sub(lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), escaped)
    return _MARKDOWN_EDGE_SPACE.sub(lambda m: "".join(f"&#{ord(char)};" for char in m[0]), escaped)


def dockerfile_string(text: str) -> str:
    """Quote text as a Dockerfile word, with no variable expansion.

    Each backslash stands outside the double quotes, escaped (`"a"\\\\"b"` is `a\\b`): Docker reads
    `"a\\\\"` too, but hadolint's parser does not, so a text ending in a backslash or holding one
    before a quote would fail the lint.
    """
    quoted = ('"' + part.replace('"', '\\"').replace("$", "\\$") + '"' for part in str(text).split("\\"))
    return "\\\\".join(quoted)


def pep440_version(version: str) -> str:
    """The normalized form of a PEP 440 version, the one Poetry writes into the package metadata."""
    return answer_rules.normalize_version(str(version))


def forget_this_module():
    """Drop this module from Python's import cache: the next import reads the file its template has."""
    sys.modules.pop(__name__, None)


def url_host(url: str) -> str:
    """The host of a URL, as a netrc `machine` names it (no port, no brackets); empty for no URL."""
    return urllib.parse.urlsplit(str(url)).hostname or ""


class EscapeExtension(Extension):
    """Registers the filters: toml_string, yaml_string, markdown_text, dockerfile_string, pep440_version,
    url_host."""

    def __init__(self, environment):
        super().__init__(environment)
        forget_this_module()
        environment.filters.update(
            toml_string=toml_string,
            yaml_string=yaml_string,
            markdown_text=markdown_text,
            dockerfile_string=dockerfile_string,
            pep440_version=pep440_version,
            url_host=url_host,
        )


# The name of the template's project folder, the first thing cookiecutter renders after the questions.
PROJECT_FOLDER = "{{cookiecutter.project_slug}}"


@pass_environment
def template_paths(environment, answers) -> list[str]:
    """Every path the template writes with these answers (files and folders), relative to the project."""
    root = Path(__file__).with_name(PROJECT_FOLDER)
    rendered = (
        environment.from_string(path.relative_to(root).as_posix()).render(cookiecutter=answers)
        for path in root.rglob("*")
    )
    return sorted({path for path in rendered if path and not path.endswith("/")})


def refuse_bad_answers(answers) -> str:
    """Stop generation, naming each bad answer and its fix, before cookiecutter creates a folder."""
    problems = answers_typed_by_a_file() or answer_rules.find_problems(answers)
    if problems:
        answer_rules.print_problems(problems)
        raise FailedHookException(answer_rules.NOTHING_GENERATED)
    restore_user_files_if_generation_stops(answers)
    return ""


# What cookiecutter's own frames hold: the raw answers of a config or replay file, and the output folder.


def cookiecutter_locals(function):
    """The local variables of the innermost running cookiecutter function of this name, or {}."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == function and "cookiecutter" in Path(frame.f_code.co_filename).parts:
            return frame.f_locals
        frame = frame.f_back
    return {}


def answers_typed_by_a_file() -> list[str]:
    """Answers a config file's default_context or a replay file gave as other than text, or as a choice not
    offered: cookiecutter turns the first kind into other text (017 into '15') or a traceback, and drops the
    second kind with every default_context value after it."""
    run = cookiecutter_locals("cookiecutter")
    questions = json.loads(Path(__file__).with_name("cookiecutter.json").read_text(encoding="utf-8"))
    config = run.get("config_dict") or {}
    replayed = (run.get("context_from_replayfile") or {}).get("cookiecutter")
    return answer_rules.find_answers_typed_by_a_file(
        "default_context of your cookiecutter config file", config.get("default_context"), questions
    ) + answer_rules.find_answers_typed_by_a_file("the replay file", replayed, questions)


def restore_user_files_if_generation_stops(answers):
    """When cookiecutter exits, put back the user's files that the pre-generation hook set aside, if the
    post-generation hook never did (the generation into an existing project failed before it)."""
    output_dir = cookiecutter_locals("render_and_create_dir").get("output_dir")
    if output_dir is None or not answers.get("project_slug"):
        return
    project = Path(output_dir, answers["project_slug"]).absolute()
    atexit.register(generation_steps.restore_user_files, project=project, owner=os.getpid(), generation_failed=True)


def question_being_answered():
    """The question whose answer cookiecutter is rendering: the loop variable of its prompt_for_config."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "prompt_for_config":
            return frame.f_locals.get("key")
        frame = frame.f_back
    return None


class _WithoutTraceback(logging.Filter):
    """Drops the traceback cookiecutter logs with a failed hook: the hooks say what failed and how to fix it."""

    def filter(self, record):
        if str(record.msg).startswith("Stopping generation because"):
            record.exc_info = record.exc_text = None
        return True


class AnswerCheckExtension(Extension):
    """Refuses bad answers by name where cookiecutter would otherwise stop with a traceback.

    Cookiecutter renders each answer given on the command line as a Jinja template while it asks the
    questions, and creates the project folder before the pre-generation hook runs: an answer that is
    not a valid template, or a slug too long for a file name, would end in a jinja2 or OSError traceback.
    This sees each template's source first (Jinja's preprocess): an answer's syntax is checked there, and
    the project folder's name is rendered only after the hook's own checks pass.
    """

    def __init__(self, environment):
        super().__init__(environment)
        forget_this_module()
        environment.filters.update(refuse_bad_answers=refuse_bad_answers, template_paths=template_paths)
        self.checking_syntax = False
        self.answer_files_checked = False
        hooks_logger = logging.getLogger("cookiecutter.hooks")
        # By name: each import of this module makes a class of its own.
        if not any(type(existing).__name__ == _WithoutTraceback.__name__ for existing in hooks_logger.filters):
            hooks_logger.addFilter(_WithoutTraceback())

    def preprocess(self, source, name, filename=None):
        # Template files have a name; answers, paths and hooks are rendered from strings.
        if name is not None or self.checking_syntax:
            return source
        if source == PROJECT_FOLDER:
            return "{{ cookiecutter | refuse_bad_answers }}" + source
        field = question_being_answered()
        if field is not None:
            self.check_answer_files()
            self.check_syntax(field, source)
        return source

    def check_answer_files(self):
        """Before the first answer is rendered: the config and replay files' answers are text and choices."""
        if self.answer_files_checked:
            return
        self.answer_files_checked = True
        problems = answers_typed_by_a_file()
        if problems:
            answer_rules.print_problems(problems)
            raise FailedHookException(answer_rules.NOTHING_GENERATED)

    def check_syntax(self, field, source):
        self.checking_syntax = True
        try:
            self.environment.parse(source)
        except TemplateSyntaxError as error:
            print(
                f"error: {field} {source!r} is not a template cookiecutter can render ({error.message}). "
                "Answers given on the command line are Jinja templates: write a literal '{%' as {{ '{%' }} "
                "and '{#' as {{ '{#' }}, or type the answer at the prompt instead.",
                file=sys.stderr,
            )
            raise FailedHookException(answer_rules.NOTHING_GENERATED) from None
        finally:
            self.checking_syntax = False
