"""Generated CI (GitHub Actions, GitLab CI, Dependabot) and the template's own workflow, checked statically.

actionlint (with shellcheck on the `run:` scripts) and GitLab's and Dependabot's JSON schemas judge the files;
the scripts that matter (reading the Poetry version, the smoke test, the label filter) run for real in bash.
"""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from template_harness import (
    CI_OPTIONS,
    COOKIECUTTER_JSON,
    GITHUB_OPTIONS,
    GITHUB_WORKFLOW,
    GITLAB_CI,
    GITLAB_OPTIONS,
    OPTION_MATRIX,
    POETRY_VERSION,
    PYTHON_VERSIONS,
    TEMPLATE_DIR,
    TEMPLATE_WORKFLOW,
    Bake,
    assert_main_ci_file_is_valid,
    bake,
    gitlab_poetry_version_lines,
    lint_workflow,
    load_yaml,
    matrix_id,
    poe_tasks,
    run_bash,
    validate_schema,
    workflow_triggers,
)

DEPENDABOT = Path(".github/dependabot.yml")
CI_FILES = {"github": [GITHUB_WORKFLOW, DEPENDABOT], "gitlab": [GITLAB_CI], "none": []}
# Free text with what YAML, GitHub expressions (${{ }}) and GitLab variables ($VAR) would interpret.
TRICKY_TEXT = {
    "project_name": 'Café "Q" \\ {{x}} ${{ y }} $HOME',
    "description": "Ünïcødé 'single' \"double\" \\ ${{ github.token }} $CI_JOB_TOKEN #not-a-comment: {x: y}",
}
# What a developer's tools would be if CI ran them directly instead of through poe.
DIRECT_TOOL = re.compile(r"(?<![\w-])(ruff|mypy|pytest)(?![\w-])")


def github_steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def github_step(workflow: dict, job: str, step_id: str) -> dict:
    return next(step for step in workflow["jobs"][job]["steps"] if step.get("id") == step_id)


def gitlab_scripts(pipeline: dict) -> list[str]:
    return [
        line
        for job in pipeline.values()
        if isinstance(job, dict)
        for key in ("before_script", "script", "after_script")
        for line in job.get(key, [])
    ]


def ci_scripts(project: Path, provider: str) -> list[str]:
    """Every shell script the provider's CI file runs."""
    if provider == "github":
        return [step["run"] for step in github_steps(load_yaml(project / GITHUB_WORKFLOW)) if "run" in step]
    return gitlab_scripts(load_yaml(project / GITLAB_CI))


def github_output(script: str, cwd: Path, tmp_path: Path, **env: str) -> str:
    """What a step's script writes to $GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    output.write_text("")
    completed = run_bash(script, cwd, GITHUB_OUTPUT=str(output), **env)
    assert completed.returncode == 0, completed.stderr
    return output.read_text()


@pytest.mark.parametrize("options", OPTION_MATRIX, ids=matrix_id)
def test_ci_files_are_those_of_the_provider(baked_project, options):
    project = baked_project(options)
    every_ci_file = {path for paths in CI_FILES.values() for path in paths}

    present = {path for path in every_ci_file if (project / path).exists()}

    assert present == set(CI_FILES[options["ci_provider"]])


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_github_workflow_passes_actionlint(baked_project, actionlint, options):
    linted = lint_workflow(actionlint, baked_project(options) / GITHUB_WORKFLOW)

    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_dependabot_covers_python_docker_and_actions(baked_project, options):
    path = baked_project(options) / DEPENDABOT

    validated = validate_schema("vendor.dependabot", path)

    assert validated.returncode == 0, validated.stdout + validated.stderr
    updates = {(update["package-ecosystem"], update["directory"]) for update in load_yaml(path)["updates"]}
    assert updates == {("pip", "/"), ("docker", "/"), ("github-actions", "/")}


@pytest.mark.parametrize("options", GITLAB_OPTIONS, ids=matrix_id)
def test_gitlab_ci_is_valid_against_gitlabs_schema(baked_project, options):
    validated = validate_schema("vendor.gitlab-ci", baked_project(options) / GITLAB_CI)

    assert validated.returncode == 0, validated.stdout + validated.stderr


@pytest.mark.parametrize("options", CI_OPTIONS, ids=matrix_id)
def test_ci_runs_the_checks_through_existing_poe_tasks(baked_project, options):
    project = baked_project(options)
    scripts = ci_scripts(project, options["ci_provider"])

    called = {task for script in scripts for task in re.findall(r"\bpoe ([a-z][\w-]*)", script)}

    assert "check" in called
    assert called <= poe_tasks(project / "pyproject.toml")
    assert [script for script in scripts if DIRECT_TOOL.search(script)] == []


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_github_ci_installs_the_poetry_the_dockerfile_pins(baked_project, options, tmp_path):
    project = baked_project(options)
    workflow = load_yaml(project / GITHUB_WORKFLOW)
    read_version = github_step(workflow, "check", "poetry-version")
    install = next(step for step in workflow["jobs"]["check"]["steps"] if step.get("name") == "Install Poetry")

    written = github_output(read_version["run"], project, tmp_path)

    assert written == f"version={POETRY_VERSION}\n"
    assert install["env"]["POETRY_VERSION"] == "${{ steps.poetry-version.outputs.version }}"
    assert "--require-hashes -r poetry-requirements.txt" in install["run"]
    assert '"^poetry==$POETRY_VERSION "' in install["run"]
    assert POETRY_VERSION not in (project / GITHUB_WORKFLOW).read_text(encoding="utf-8")


@pytest.mark.parametrize("options", GITLAB_OPTIONS, ids=matrix_id)
def test_gitlab_ci_installs_the_poetry_the_dockerfile_pins(baked_project, options):
    project = baked_project(options)
    script = load_yaml(project / GITLAB_CI)["check"]["script"]
    install = next(line for line in script if "pip install" in line)

    completed = run_bash("\n".join([*gitlab_poetry_version_lines(script), 'printf %s "$POETRY_VERSION"']), project)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == POETRY_VERSION
    assert "--require-hashes -r poetry-requirements.txt" in install
    assert any('"^poetry==$POETRY_VERSION "' in line for line in gitlab_poetry_version_lines(script))
    assert POETRY_VERSION not in (project / GITLAB_CI).read_text(encoding="utf-8")


@pytest.mark.parametrize("options", CI_OPTIONS, ids=matrix_id)
def test_ci_fails_when_the_dockerfile_pins_no_poetry(baked_project, options, tmp_path):
    project = baked_project(options)
    (tmp_path / "Dockerfile").write_text("FROM python:3.13-slim\nARG POETRY_VERSION\n", encoding="utf-8")
    if options["ci_provider"] == "github":
        script = github_step(load_yaml(project / GITHUB_WORKFLOW), "check", "poetry-version")["run"]
    else:
        script = "\n".join(gitlab_poetry_version_lines(load_yaml(project / GITLAB_CI)["check"]["script"]))

    completed = run_bash(script, tmp_path, GITHUB_OUTPUT=str(tmp_path / "github_output"))

    assert completed.returncode != 0
    assert "ARG POETRY_VERSION=x.y.z" in completed.stdout + completed.stderr


@pytest.mark.parametrize("provider", ["github", "gitlab"])
@pytest.mark.parametrize("python_version", PYTHON_VERSIONS)
def test_ci_uses_the_answered_python_version(baked_project, provider, python_version):
    project = baked_project({"ci_provider": provider, "python_version": python_version})

    if provider == "github":
        setup_python = github_step(load_yaml(project / GITHUB_WORKFLOW), "check", "python")
        assert setup_python["with"]["python-version"] == python_version
    else:
        # The Dockerfile's base image, so the checks run on the Python the image ships.
        check = load_yaml(project / GITLAB_CI)["check"]
        assert check["image"] == f"python:{python_version}-slim-trixie"
        assert check["cache"]["key"]["prefix"] == f"python-{python_version}"


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_github_smoke_test_runs_the_image_poe_docker_build_tags(baked_project, options):
    project = baked_project(options)
    workflow = load_yaml(project / GITHUB_WORKFLOW)
    docker_build = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"]["tasks"][
        "docker-build"
    ]["cmd"]
    build = next(step for step in workflow["jobs"]["image"]["steps"] if step.get("name") == "Build")

    assert f"--tag {workflow['env']['IMAGE']} " in docker_build
    assert build["with"]["tags"] == "${{ env.IMAGE }}"
    assert build["with"]["load"] is True


CACHE_MOUNTS_COMMAND = "sh scripts/docker-cache-mounts.sh"
SMOKE_TEST_COMMAND = "sh scripts/docker-smoke-test.sh"


@pytest.mark.parametrize("options", CI_OPTIONS, ids=matrix_id)
def test_ci_smoke_test_is_the_projects_own_script(baked_project, options):
    """CI runs the script `poe docker-smoke` runs (proven on a real engine in test_docker.py)."""
    project = baked_project(options)
    if options["ci_provider"] == "github":
        workflow = load_yaml(project / GITHUB_WORKFLOW)
        smoke = next(step for step in workflow["jobs"]["image"]["steps"] if step.get("name") == "Smoke test")
        command, env = smoke["run"], smoke["env"]
        assert command == f'{SMOKE_TEST_COMMAND} "$IMAGE"'
        assert env == {"SMOKE_TEST_ENV": "${{ vars.SMOKE_TEST_ENV }}"}
    else:
        pipeline = load_yaml(project / GITLAB_CI)
        assert [pipeline[job]["stage"] for job in ("check", "hadolint", "build", "smoke-test", "publish")] == [
            "check",
            "check",
            "build",
            "test",
            "publish",
        ]
        assert pipeline["smoke-test"]["script"][-1] == f'{SMOKE_TEST_COMMAND} "$PIPELINE_IMAGE"'
    poe_task = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"]["tasks"]
    assert poe_task["docker-smoke"]["cmd"].startswith(f"{SMOKE_TEST_COMMAND} my-service:dev ")


@pytest.mark.parametrize("app_type", ["fastapi", "cli"])
@pytest.mark.parametrize("script", ["scripts/docker-smoke-test.sh", "scripts/docker-cache-mounts.sh"])
def test_ci_scripts_pass_shellcheck(baked_project, app_type, script):
    project = baked_project({"app_type": app_type, "ci_provider": "none", "license": "MIT"})
    shellcheck = shutil.which("shellcheck")

    completed = subprocess.run([shellcheck, "--shell=sh", script], cwd=project, capture_output=True, text=True)

    assert completed.returncode == 0, completed.stdout


@pytest.mark.parametrize("options", CI_OPTIONS, ids=matrix_id)
def test_ci_image_build_loads_the_cache_mounts_before_and_saves_them_after(baked_project, options):
    """The builder's cache mounts come back from CI's cache before the image build and go into it after;
    the script itself is proven on a real engine in test_dependency_cache.py."""
    project = baked_project(options)
    if options["ci_provider"] == "github":
        workflow = load_yaml(project / GITHUB_WORKFLOW)
        steps = workflow["jobs"]["image"]["steps"]
        restore = github_step(workflow, "image", "cache-mounts")
        runs = [step.get("run", "") for step in steps]
        load_at = runs.index(f'{CACHE_MOUNTS_COMMAND} load "$RUNNER_TEMP/cache-mounts"')
        build_at = next(index for index, step in enumerate(steps) if step.get("name") == "Build")
        save_at = runs.index(f'{CACHE_MOUNTS_COMMAND} save "$RUNNER_TEMP/cache-mounts"')
        assert steps.index(restore) < load_at < build_at < save_at
        assert restore["with"]["path"] == "${{ runner.temp }}/cache-mounts"
        assert restore["with"]["key"] == (
            restore["with"]["restore-keys"] + "${{ hashFiles('poetry.lock', 'Dockerfile') }}"
        )
        assert steps[save_at]["if"] == "steps.cache-mounts.outputs.cache-hit != 'true'"
    else:
        job = load_yaml(project / GITLAB_CI)["build"]
        script = job["script"]
        load_at = script.index(f"{CACHE_MOUNTS_COMMAND} load .cache/docker-cache-mounts")
        build_at = next(index for index, line in enumerate(script) if line.startswith("docker buildx build"))
        save_at = script.index(f"{CACHE_MOUNTS_COMMAND} save .cache/docker-cache-mounts")
        assert load_at < build_at < save_at
        assert job["cache"]["paths"] == [".cache/docker-cache-mounts"]
        # In the project folder, where GitLab keeps caches: the build context (an allowlist) must leave it out.
        ignored = (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
        assert ignored.index("*") < ignored.index("**/.cache")
        assert not [line for line in ignored if line.startswith("!.cache")]


@pytest.mark.parametrize("options", GITHUB_OPTIONS, ids=matrix_id)
def test_github_workflow_grants_least_privilege_and_publishes_only_releases(baked_project, options):
    workflow = load_yaml(baked_project(options) / GITHUB_WORKFLOW)
    jobs = workflow["jobs"]
    publish = jobs["publish"]
    push = next(step for step in publish["steps"] if step.get("with", {}).get("push") is True)

    assert workflow["permissions"] == {"contents": "read"}
    assert {name: job.get("permissions") for name, job in jobs.items()} == {
        "check": None,
        "image": None,
        "publish": {"contents": "read", "packages": "write"},
    }
    assert workflow["concurrency"] == {"group": "${{ github.workflow }}-${{ github.ref }}", "cancel-in-progress": True}
    assert set(publish["needs"]) == {"check", "image"}
    assert publish["if"] == (
        "github.event_name == 'push' && (github.ref == format('refs/heads/{0}', "
        "github.event.repository.default_branch) || startsWith(github.ref, 'refs/tags/v'))"
    )
    assert push["uses"].startswith("docker/build-push-action@")
    assert push["with"]["provenance"] == "mode=max"
    assert push["with"]["sbom"] is True
    assert push["with"]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert "type=gha" in push["with"]["cache-from"]


def test_github_publish_keeps_the_dockerfiles_title_description_and_licence(baked_project, tmp_path):
    project = baked_project(GITHUB_OPTIONS[0])
    workflow = load_yaml(project / GITHUB_WORKFLOW)
    keep_labels = github_step(workflow, "publish", "labels")
    kept = {
        "org.opencontainers.image.created": "2026-11-21T06:00:00.000Z",
        "org.opencontainers.image.revision": "0123abc",
        "org.opencontainers.image.source": "https://github.com/example/my-service",
        "org.opencontainers.image.url": "https://github.com/example/my-service",
        "org.opencontainers.image.version": "main",
    }
    from_repository = {
        "org.opencontainers.image.description": TRICKY_TEXT["description"],
        "org.opencontainers.image.licenses": "NOASSERTION",
        "org.opencontainers.image.title": "my-service",
    }
    labels = "\n".join(f"{key}={value}" for key, value in sorted({**kept, **from_repository}.items()))

    written = github_output(keep_labels["run"], project, tmp_path, LABELS=labels)

    assert written == "labels<<EOF\n" + "".join(f"{key}={value}\n" for key, value in sorted(kept.items())) + "EOF\n"


@pytest.fixture(scope="module", params=["github", "gitlab"])
def tricky_project(request, tmp_path_factory) -> tuple[str, Path]:
    """A project whose name and description hold quotes, backslashes, braces, $, ${{ }} and non-ASCII."""
    output_dir = tmp_path_factory.mktemp("tricky")
    result: Bake = bake(output_dir, typed=TRICKY_TEXT, ci_provider=request.param)
    assert result.returncode == 0, result.output
    (project,) = output_dir.iterdir()
    return request.param, project


def test_free_text_stays_out_of_ci_files(tricky_project, actionlint):
    provider, project = tricky_project
    ci_files = [project / path for path in CI_FILES[provider]]

    # The CI files take the image's title and description from the Dockerfile's LABELs, never from YAML,
    # where GitHub would evaluate ${{ }} and GitLab expand $VAR.
    assert "Café" in (project / "Dockerfile").read_text(encoding="utf-8")
    for path in ci_files:
        text = path.read_text(encoding="utf-8")
        assert yaml.safe_load(text)
        assert not any(
            word in text for word in ("Café", "Ünïcødé", "$HOME", "$CI_JOB_TOKEN #not-a-comment", "github.token")
        )
    assert_main_ci_file_is_valid(actionlint, provider, project)


def test_actionlint_rejects_an_action_on_a_deprecated_runtime(baked_project, actionlint, tmp_path):
    """actionlint knows which action majors run on a retired Node: the check above is not vacuous."""
    workflow = (baked_project(GITHUB_OPTIONS[0]) / GITHUB_WORKFLOW).read_text(encoding="utf-8")
    outdated = tmp_path / "ci.yml"
    outdated.write_text(re.sub(r"actions/cache@[^\n]+", "actions/cache@v4", workflow), encoding="utf-8")

    linted = lint_workflow(actionlint, outdated)

    assert linted.returncode != 0
    assert '"node20"' in linted.stdout
    assert "actions/cache@v4" in linted.stdout


def test_gitlab_schema_rejects_a_job_without_a_script(baked_project, tmp_path):
    pipeline = load_yaml(baked_project(GITLAB_OPTIONS[0]) / GITLAB_CI)
    pipeline["check"]["scripts"] = pipeline["check"].pop("script")
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text(yaml.safe_dump(pipeline), encoding="utf-8")

    assert validate_schema("vendor.gitlab-ci", broken).returncode != 0


def test_template_workflow_passes_actionlint(actionlint):
    linted = lint_workflow(actionlint, TEMPLATE_WORKFLOW)

    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_template_workflow_runs_the_fast_tier_and_ci_run(tmp_path):
    workflow = load_yaml(TEMPLATE_WORKFLOW)
    scripts = {name: [step["run"] for step in job["steps"] if "run" in step] for name, job in workflow["jobs"].items()}
    read_version = github_step(workflow, "fast", "poetry-version")

    written = github_output(read_version["run"], TEMPLATE_DIR, tmp_path)

    assert "poetry run poe test-fast" in scripts["fast"]
    assert scripts["full"] == ["sudo --preserve-env=CI bash .ci/run"]
    assert (TEMPLATE_DIR / ".ci" / "run").is_file()
    assert "test-fast" in poe_tasks(TEMPLATE_DIR / "pyproject.toml")
    assert written == f"version={POETRY_VERSION}\n"
    assert POETRY_VERSION not in TEMPLATE_WORKFLOW.read_text(encoding="utf-8")
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "push" in workflow_triggers(workflow)


DATABASE_OPTIONS = [
    {"app_type": app_type, "ci_provider": provider, "license": "MIT", "database": "postgresql"}
    for app_type in ("fastapi", "cli")
    for provider in ("github", "gitlab")
]
POSTGRES_IMAGE = f"postgres:{COOKIECUTTER_JSON['_postgres_version']}"
DATABASE_TEST_COMMAND = "sh scripts/docker-database-test.sh"


@pytest.mark.parametrize("options", DATABASE_OPTIONS, ids=matrix_id)
def test_ci_gives_the_checks_and_the_image_a_postgresql_of_the_projects_major(baked_project, actionlint, options):
    """database=postgresql: the tests get TEST_DATABASE_URL from a service container of _postgres_version, and
    the image job migrates a database of that version with the project's own script (run for real in
    tests/test_database.py)."""
    project = baked_project(options)

    assert_main_ci_file_is_valid(actionlint, options["ci_provider"], project)
    if options["ci_provider"] == "github":
        jobs = load_yaml(project / GITHUB_WORKFLOW)["jobs"]
        for job in ("check", "image"):
            assert jobs[job]["services"]["postgres"]["image"] == POSTGRES_IMAGE
            assert jobs[job]["services"]["postgres"]["ports"] == ["5432:5432"]
        assert jobs["check"]["env"]["TEST_DATABASE_URL"].startswith("postgresql://postgres:test@127.0.0.1:5432/")
        step = next(step for step in jobs["image"]["steps"] if DATABASE_TEST_COMMAND in step.get("run", ""))
        assert step["env"]["DATABASE_URL"].startswith("postgresql://postgres:test@127.0.0.1:5432/")
    else:
        pipeline = load_yaml(project / GITLAB_CI)
        service = pipeline["check"]["services"][0]
        assert service["name"] == POSTGRES_IMAGE
        assert f"@{service['alias']}:5432/" in pipeline["check"]["variables"]["TEST_DATABASE_URL"]
        script = "\n".join(pipeline["smoke-test"]["script"])
        assert f"--env POSTGRES_PASSWORD=test {POSTGRES_IMAGE}" in script
        assert f'{DATABASE_TEST_COMMAND} "$PIPELINE_IMAGE"' in script


@pytest.mark.parametrize("app_type", ["fastapi", "cli"])
def test_the_database_test_script_passes_shellcheck_and_is_a_poe_task(baked_project, app_type):
    project = baked_project({"app_type": app_type, "ci_provider": "none", "license": "MIT", "database": "postgresql"})

    completed = subprocess.run(
        [shutil.which("shellcheck"), "--shell=sh", "scripts/docker-database-test.sh"],
        cwd=project,
        capture_output=True,
        text=True,
    )

    assert completed.returncode == 0, completed.stdout
    poe_task = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["poe"]["tasks"]
    assert poe_task["docker-database-test"]["cmd"] == f"{DATABASE_TEST_COMMAND} my-service:dev"
