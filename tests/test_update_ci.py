"""Generated CI for template updates (drift warning, weekly update pull/merge request), checked statically.

The tasks the jobs call run for real in test_update.py; here actionlint and GitLab's schema judge the
files, and the jobs are read for what they promise: when they run, which token they need, what they call.
"""

import re

import pytest

from template_harness import (
    CI_OPTIONS,
    GITHUB_OPTIONS,
    GITLAB_CI,
    GITLAB_OPTIONS,
    TEMPLATE_DIR,
    TEMPLATE_WORKFLOW,
    lint_workflow,
    load_yaml,
    matrix_id,
    poe_tasks,
    validate_schema,
    workflow_triggers,
)

UPDATE_WORKFLOW = TEMPLATE_DIR.joinpath(".github", "workflows", "template-update.yml").relative_to(TEMPLATE_DIR)


def called_poe_tasks(scripts: list[str]) -> set[str]:
    return {task for script in scripts for task in re.findall(r"\bpoe ([a-z][\w-]*)", script)}


def job_scripts(job: dict) -> list[str]:
    if "steps" in job:
        return [step["run"] for step in job["steps"] if "run" in step]
    return [line for key in ("before_script", "script") for line in job.get(key, [])]


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_github_update_workflow_passes_actionlint(baked_project, actionlint, options):
    linted = lint_workflow(actionlint, baked_project(options) / UPDATE_WORKFLOW)

    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_only_github_projects_get_the_update_workflow(baked_project):
    for options in [*CI_OPTIONS, {"ci_provider": "none"}]:
        present = (baked_project(options) / UPDATE_WORKFLOW).exists()
        assert present is (options["ci_provider"] == "github"), options


def test_github_drift_warns_on_pushes_and_the_update_runs_weekly_and_on_demand(baked_project):
    project = baked_project(GITHUB_OPTIONS[0])
    workflow = load_yaml(project / UPDATE_WORKFLOW)
    triggers = workflow_triggers(workflow)
    drift, update = workflow["jobs"]["drift"], workflow["jobs"]["update"]
    drift_script = "\n".join(job_scripts(drift))

    assert set(triggers) == {"push", "pull_request", "schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+ \d+ \* \* [0-6]", triggers["schedule"][0]["cron"])
    assert "schedule" not in drift["if"]
    assert "workflow_dispatch" not in drift["if"]
    assert update["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
    assert "if ! poetry run poe template-check; then" in drift_script
    assert "::warning" in drift_script
    assert "poetry run poe update-template" in job_scripts(update)
    assert {"template-check", "update-template"} <= poe_tasks(project / "pyproject.toml")
    assert workflow["permissions"] == {"contents": "read"}


def test_github_update_pushes_and_opens_its_pull_request_with_the_documented_token(baked_project):
    project = baked_project(GITHUB_OPTIONS[0])
    text = (project / UPDATE_WORKFLOW).read_text(encoding="utf-8")
    steps = load_yaml(project / UPDATE_WORKFLOW)["jobs"]["update"]["steps"]
    names = [step.get("name") or step.get("uses") or step["run"] for step in steps]
    open_pr = steps[-1]

    assert names.index("poetry run poe update-template") < names.index("Open a pull request")
    assert open_pr["env"]["GH_TOKEN"] == "${{ secrets.TEMPLATE_UPDATE_TOKEN }}"
    assert "gh pr create" in open_pr["run"]
    assert "secrets.GITHUB_TOKEN" not in text
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "## Staying up to date with the template" in readme
    assert "TEMPLATE_UPDATE_TOKEN" in readme
    assert "Workflows" in readme


@pytest.mark.parametrize("options", GITLAB_OPTIONS, ids=matrix_id)
def test_gitlab_update_jobs_are_valid_and_call_the_tasks(baked_project, options):
    project = baked_project(options)
    pipeline = load_yaml(project / GITLAB_CI)
    drift, update = pipeline["template-drift"], pipeline["template-update"]
    template = pipeline[".template"]

    validated = validate_schema("vendor.gitlab-ci", project / GITLAB_CI)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert drift["allow_failure"] is True
    assert drift["rules"][0] == {"if": '$TEMPLATE_UPDATE == "true"', "when": "never"}
    assert update["rules"] == [
        {"if": '$TEMPLATE_UPDATE == "true" && ($CI_PIPELINE_SOURCE == "schedule" || $CI_PIPELINE_SOURCE == "web")'}
    ]
    assert pipeline["publish"]["rules"][0] == {"if": '$TEMPLATE_UPDATE == "true"', "when": "never"}
    assert called_poe_tasks(drift["script"]) == {"template-check"}
    assert called_poe_tasks(update["script"]) == {"update-template"}
    assert "poetry install --with template" in template["before_script"]
    assert "merge_request.create" in update["script"][-1]
    assert "$TEMPLATE_UPDATE_TOKEN" in update["script"][-1]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "## Staying up to date with the template" in readme
    assert "TEMPLATE_UPDATE_TOKEN" in readme
    assert "write_repository" in readme


def test_a_project_without_ci_still_documents_updating(baked_project):
    readme = (baked_project({"ci_provider": "none"}) / "README.md").read_text(encoding="utf-8")

    assert "## Staying up to date with the template" in readme
    assert "TEMPLATE_UPDATE_TOKEN" not in readme


def test_template_ci_clones_the_whole_history_for_the_release_update_test():
    full = load_yaml(TEMPLATE_WORKFLOW)["jobs"]["full"]
    checkout = next(step for step in full["steps"] if step.get("uses", "").startswith("actions/checkout@"))

    assert checkout["with"]["fetch-depth"] == 0
