"""Rewrite the generated blocks of README.md and docs/*.md from the code they describe.

usage: python scripts/generate-docs.py [--check]        (poetry run poe docs [--check])

A block is the text between `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`; GENERATORS
below says what writes each NAME. With --check nothing is written: each stale block is named with the command
that refreshes it, and the exit status is 1 (the fast tier runs this). A NAME in HAND_WRITTEN is left as it
is; any other unknown NAME is an error, so a typo cannot hide a block from the check.
"""

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the benchmark's report renders its own block

from benchmarks import config as benchmark_config  # noqa: E402
from benchmarks import report as benchmark_report  # noqa: E402

COOKIECUTTER_JSON = ROOT / "cookiecutter.json"
# What each answer means: the one source of the prose in the answers table (cookiecutter.json has the rest).
ANSWER_MEANINGS = ROOT / "docs" / "answers.toml"
PYPROJECT = ROOT / "pyproject.toml"
REFRESH_COMMAND = "poetry run poe docs"
BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<end><!-- END generated: (?P=name) -->)",
    re.DOTALL,
)
# Blocks marked for generation whose generator does not exist yet: left as they are, and said so.
HAND_WRITTEN: dict[str, str] = {}
JINJA = re.compile(r"{{.*?}}|{%.*?%}")


class DocsError(Exception):
    """A source the generator reads is incomplete: the message names what and where."""


def markdown_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def code(value: str) -> str:
    return f"`{value}`" if value != "" else "empty"


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def questions() -> dict:
    """cookiecutter.json's questions (not its private keys), in its order."""
    return {key: value for key, value in load_json(COOKIECUTTER_JSON).items() if not key.startswith("_")}


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def rendered_defaults() -> dict:
    """Each answer's default as cookiecutter renders it with --no-input (a derived default, e.g. the slug,
    from the other defaults). The template's own Jinja extensions are left out: no default uses them."""
    context = generate_context(context_file=str(COOKIECUTTER_JSON))
    context["cookiecutter"].pop("_extensions", None)
    return prompt_for_config(context, no_input=True)


def default_cell(name: str, value, rendered: dict) -> str:
    if isinstance(value, list):
        return code(value[0])
    sources = re.findall(r"cookiecutter\.(\w+)", value)
    if JINJA.search(value):
        return f"{code(rendered[name])} (from {', '.join(code(source) for source in dict.fromkeys(sources))})"
    return code(value)


def prompt_texts(name: str, prompts: dict) -> tuple[str, dict]:
    """The question's prompt and, for a choice, each option's own text."""
    prompt = prompts.get(name, name)
    if isinstance(prompt, dict):
        return prompt.get("__prompt__", name), {key: text for key, text in prompt.items() if key != "__prompt__"}
    return prompt, {}


def choices_cell(value, option_texts: dict) -> str:
    if not isinstance(value, list):
        return ""
    cells = []
    for option in value:
        text = option_texts.get(option, "").removeprefix(f"{option}:").strip()
        cells.append(f"{code(option)}: {text}" if text else code(option))
    return "; ".join(cells) if option_texts else ", ".join(cells)


def answer_meanings(names: list[str]) -> dict[str, str]:
    """docs/answers.toml: one meaning per question, and none for a question cookiecutter.json lacks."""
    meanings = tomllib.loads(ANSWER_MEANINGS.read_text(encoding="utf-8"))
    relative = ANSWER_MEANINGS.relative_to(ROOT)
    missing = [name for name in names if "meaning" not in meanings.get(name, {})]
    unknown = [name for name in meanings if name not in names]
    if missing:
        raise DocsError(f"{relative} has no meaning for {', '.join(missing)}: add a [{missing[0]}] table")
    if unknown:
        raise DocsError(f"{relative} describes {', '.join(unknown)}, which cookiecutter.json does not ask")
    return {name: meanings[name]["meaning"] for name in names}


def answers_table() -> str:
    """Every question: its prompt, default, choices (with each option's prompt text) and meaning."""
    asked = questions()
    prompts = load_json(COOKIECUTTER_JSON).get("__prompts__", {})
    meanings = answer_meanings(list(asked))
    rendered = rendered_defaults()
    rows = []
    for name, value in asked.items():
        prompt, option_texts = prompt_texts(name, prompts)
        choices = choices_cell(value, option_texts)
        rows.append((code(name), prompt, default_cell(name, value, rendered), choices, meanings[name]))
    return markdown_table(("answer", "prompt", "default", "choices", "meaning"), rows)


def answers_summary() -> str:
    """Every question with its default and, for a choice, the other options."""
    rendered = rendered_defaults()
    rows = []
    for name, value in questions().items():
        others = ", ".join(code(option) for option in value[1:]) if isinstance(value, list) else ""
        rows.append((code(name), default_cell(name, value, rendered), others))
    return markdown_table(("answer", "default", "other choices"), rows)


def template_tasks() -> str:
    """The template's own poe tasks and their help, in pyproject.toml's order."""
    tasks = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["poe"]["tasks"]
    return markdown_table(("task", "what it does"), [(code(name), task["help"]) for name, task in tasks.items()])


def benchmark_tables() -> str:
    """The recorded benchmark run (docs/benchmark-run.json, written by `python -m benchmarks --docs` from a saved
    run) as the benchmark reports it today: tables, ratios and targets."""
    return benchmark_report.recorded_markdown(load_json(benchmark_config.RECORDED_RUN))


GENERATORS = {
    "answers": answers_table,
    "answers-summary": answers_summary,
    "template-tasks": template_tasks,
    "benchmark": benchmark_tables,
}


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def refreshed(text: str, path: Path, cache: dict) -> str:
    """The text with each generated block rewritten."""

    def rewrite(match: re.Match) -> str:
        name = match["name"]
        if name in HAND_WRITTEN:
            return match[0]
        if name not in GENERATORS:
            raise DocsError(f"{path.relative_to(ROOT)}: no generator for the block '{name}' (known: {known_names()})")
        if name not in cache:
            cache[name] = GENERATORS[name]()
        return match["begin"] + cache[name] + match["end"]

    return BLOCK.sub(rewrite, text)


def known_names() -> str:
    return ", ".join(sorted([*GENERATORS, *HAND_WRITTEN]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated block is stale")
    check = parser.parse_args(argv).check
    cache: dict[str, str] = {}
    stale = []
    try:
        for path in documents():
            text = path.read_text(encoding="utf-8")
            new = refreshed(text, path, cache)
            if new == text:
                continue
            if check:
                names = [match["name"] for match in BLOCK.finditer(text) if match[0] not in new]
                stale.append(f"{path.relative_to(ROOT)}: {', '.join(names)}")
            else:
                path.write_text(new, encoding="utf-8")
                print(f"rewrote {path.relative_to(ROOT)}")
    except DocsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if stale:
        print("error: generated blocks are stale: " + "; ".join(stale), file=sys.stderr)
        print(f"Run `{REFRESH_COMMAND}` and commit what it rewrites.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
