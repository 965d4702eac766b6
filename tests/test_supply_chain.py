"""Supply chain of the CI files: every action the workflows use is pinned by a full commit SHA.

A tag can be moved to other code; a commit SHA cannot. The version stays in a comment after the SHA
(`uses: actions/checkout@<40 hex> # v7.0.1`), the form OpenSSF Scorecard accepts and Dependabot updates,
SHA and comment together.
"""

import re
from pathlib import Path

import pytest
from conftest import TEMPLATE_DIR, matrix_id
from test_ci import GITHUB_OPTIONS, GITHUB_WORKFLOW, TEMPLATE_WORKFLOW

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<reference>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+\.\d+\.\d+$")


def unpinned_actions(workflow: Path) -> list[str]:
    """The `uses:` lines of a workflow that are not `owner/repo@<40 hex> # vX.Y.Z`."""
    lines = workflow.read_text(encoding="utf-8").splitlines()
    uses = [match for match in map(USES.match, lines) if match]
    assert uses, f"{workflow} uses no action: the check would pass vacuously"
    return [
        match[0].strip()
        for match in uses
        if not (PINNED.match(match["reference"]) and VERSION_COMMENT.match(match["comment"]))
    ]


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_generated_workflow_pins_every_action_by_commit_sha(baked_project, options):
    assert unpinned_actions(baked_project(options) / GITHUB_WORKFLOW) == []


def test_template_workflow_pins_every_action_by_commit_sha():
    assert unpinned_actions(TEMPLATE_WORKFLOW) == []


def test_a_tag_or_a_short_sha_is_caught(tmp_path):
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        "jobs:\n  a:\n    steps:\n"
        "      - uses: actions/checkout@v7\n"
        "      - uses: actions/checkout@3d3c42e # v7.0.1\n"
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1\n"
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n",
        encoding="utf-8",
    )
    assert len(unpinned_actions(workflow)) == 3


def test_dependabot_updates_the_template_workflows_actions():
    """The template's own pins stay current the same way as a generated project's."""
    dependabot = TEMPLATE_DIR / ".github" / "dependabot.yml"
    assert dependabot.is_file(), "the template repository needs a Dependabot file for its own actions"
    assert "package-ecosystem: github-actions" in dependabot.read_text(encoding="utf-8")
