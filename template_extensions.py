"""Jinja extensions of the template: filters that escape user text for each file format, the derived answers,
the record of the answers, and the answer check.

Cookiecutter imports this module from the template root (``_extensions`` in cookiecutter.json), and copier
through copier_extensions.py (``_jinja_extensions`` in copier.yml). An update renders two commits of the
template in one process: each extension forgets this module once it is set up (``forget_this_module``), so
the next render imports its own commit's version, not the one Python cached from the first render.
It runs in whatever Python runs cookiecutter or copier: the standard library, Jinja and PyYAML (which both
tools depend on); cookiecutter only inside the cookiecutter-only parts.
"""

import atexit
import importlib.util
import inspect
import json
import logging
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path, PurePosixPath

import yaml
from jinja2 import TemplateSyntaxError, pass_context, pass_environment
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
# The one manifest of conditional files, UNSELECTED_PATHS, is the post-generation hook's.
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


def base_image(answers) -> str:
    """The Dockerfile's base image: docker_base_image, or when it is empty the default for python_version."""
    return answer_rules.docker_base_image(answers)


def unselected_paths(answers) -> str:
    """The paths the answers leave out (UNSELECTED_PATHS), one a line, and the folders that would hold
    nothing else (the post-generation hook removes those when empty): copier's _exclude reads it."""
    left_out = generation_steps.unselected_paths(answers)
    project = TEMPLATE_ROOT / PROJECT_FOLDER
    files = [
        path.relative_to(project).as_posix().replace("{{cookiecutter.package_name}}", answers["package_name"])
        for path in project.rglob("*")
        if path.is_file()
    ]
    folders = {parent.as_posix() for path in left_out for parent in PurePosixPath(path).parents[:-1]}
    emptied = sorted(
        folder for folder in folders if all(file in left_out for file in files if file.startswith(folder + "/"))
    )
    return "\n".join(left_out + emptied)


# The record of the answers (.copier-answers.yml) holds these first, then the answers in question order.
RECORD_HEADER = (
    "# The template this project was made from, its release or commit, and the answers given. copier reads it\n"
    "# to update the project (poetry run poe update-template); change an answer with --data KEY=VALUE, not here.\n"
)


def without_credentials(url: str) -> str:
    """A URL without its user:password@ (or token@) part; anything else as it is."""
    parts = urllib.parse.urlsplit(str(url))
    if not parts.scheme or "@" not in parts.netloc:
        return str(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def git_output(folder, *arguments):
    """A git command's output in folder, or None when git fails or is missing."""
    try:
        completed = subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def recorded_source(source: str, folder) -> str:
    """Where updates fetch the template: a URL without credentials; for a local clone whose origin is a
    remote URL, that URL (the folder is this machine's only); else the folder's absolute path."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[\w.-]+@[\w.-]+:|^(gh|gl|bb):", source):
        return without_credentials(source)
    origin = git_output(folder, "remote", "get-url", "origin") if folder else None
    if origin and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://(?!/)|^[\w.-]+@[\w.-]+:", origin):
        return without_credentials(origin)
    return str(Path(folder or source).resolve())


def cookiecutter_source(answers):
    """(source, commit) of a cookiecutter run: the template argument, and its clone's `git describe`."""
    folder = answers.get("_repo_dir")
    if not folder:
        return None, None
    folder = Path(folder)
    if not folder.is_absolute():  # relative to the shell's folder (cookiecutter renders in the template's)
        folder = Path(os.environ.get("PWD", "")) / folder
    tracked = git_output(folder, "ls-files", "--error-unmatch", "cookiecutter.json") is not None
    commit = git_output(folder, "describe", "--tags", "--always") if tracked else None
    return recorded_source(answers.get("_template") or str(folder), folder), commit


@pass_context
def answers_record(context, answers) -> str:
    """The text of .copier-answers.yml: the template's source and commit, then every answer as data.

    copier gives the source and commit (_copier_answers); under cookiecutter they come from its clone.
    The same answers give the same bytes under both tools.
    """
    copier_answers = context.get("_copier_answers")
    if copier_answers is not None:
        source = copier_answers.get("_src_path")
        source = recorded_source(source, source if source and Path(source).is_dir() else None) if source else None
        commit = copier_answers.get("_commit")
    else:
        source, commit = cookiecutter_source(answers)
    record = {"_commit": commit, "_src_path": source}
    record = {key: value for key, value in record.items() if value}
    record.update((question, answers[question]) for question in QUESTIONS if question in answers)
    dumped = yaml.safe_dump(record, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1 << 30)
    return RECORD_HEADER + dumped


TEMPLATE_ROOT = Path(__file__).parent
COOKIECUTTER_JSON = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
QUESTIONS = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]


class EscapeExtension(Extension):
    """Registers the filters: toml_string, yaml_string, markdown_text, dockerfile_string, pep440_version,
    url_host, base_image, unselected_paths, answers_record."""

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
            base_image=base_image,
            unselected_paths=unselected_paths,
            answers_record=answers_record,
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
    from cookiecutter.exceptions import FailedHookException

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
        from cookiecutter.exceptions import FailedHookException

        if self.answer_files_checked:
            return
        self.answer_files_checked = True
        problems = answers_typed_by_a_file()
        if problems:
            answer_rules.print_problems(problems)
            raise FailedHookException(answer_rules.NOTHING_GENERATED)

    def check_syntax(self, field, source):
        from cookiecutter.exceptions import FailedHookException

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
