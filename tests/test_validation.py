"""Post-generation build validation (validate_build): each level on a real engine, and its failures."""

import os
import re
import subprocess
import uuid

import pytest

from template_harness import HOST_PYTHON, PACKAGE_INDEX_URL, bake, hook_summary, load_hook, tool_environment

post_gen = load_hook("post_gen_project")

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def containers_of(docker: str, slug: str) -> list[str]:
    """Containers, running or not, named after the project or made from its image."""
    found = []
    for selector in (f"name={slug}", f"ancestor={slug}:dev"):
        listed = subprocess.run(
            [docker, "ps", "--all", "--quiet", "--filter", selector], capture_output=True, text=True
        )
        found += listed.stdout.split()
    return found


@pytest.fixture
def validated(tmp_path, docker, base_image):
    """validated(level, **answers, env=...) bakes a locked project with that validate_build level.

    Each bake gets its own slug, so its image tag is its own; the fixture removes that image and checks
    that no container outlived the hook.
    """
    slugs = []

    def _validated(level: str, env: dict | None = None, **answers: str):
        slug = f"validate-{level}-{uuid.uuid4().hex[:8]}"
        slugs.append(slug)
        defaults = {
            "project_slug": slug,
            "python_version": HOST_PYTHON,
            "docker_base_image": base_image(HOST_PYTHON),
            "package_index_url": PACKAGE_INDEX_URL,
            "lock_dependencies": "yes",
            "validate_build": level,
        }
        return bake(tmp_path, env=tool_environment(**(env or {})), **{**defaults, **answers})

    yield _validated
    left_behind = [container for slug in slugs for container in containers_of(docker, slug)]
    for slug in slugs:
        subprocess.run([docker, "image", "rm", "--force", f"{slug}:dev"], capture_output=True)
    assert left_behind == [], "the hook left a container behind"


def summary_rows(output: str) -> dict[str, str]:
    """step -> result, from the hook's closing table."""
    return {row["name"]: row["result"] for row in hook_summary(output)}


@pytest.mark.docker
@pytest.mark.parametrize("app_type", ["fastapi", "cli"])
def test_full_builds_and_smoke_runs(validated, docker, app_type):
    result = validated("full", app_type=app_type)

    assert result.returncode == 0, result.output
    rows = summary_rows(result.stdout)
    for step in ("poetry lock", "poetry check --lock", "poetry install", "poe check", "docker build", "docker run"):
        assert rows.get(step) == "ok", (step, result.stdout)
    smoke = "turned healthy" if app_type == "fastapi" else "--help"
    assert smoke in result.stdout
    image = f"{result.answers['project_slug']}:dev"
    assert subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode == 0


@pytest.mark.docker
def test_auto_builds_the_image_when_docker_answers(validated):
    result = validated("auto")

    assert result.returncode == 0, result.output
    rows = summary_rows(result.stdout)
    assert rows["docker build"] == "ok"
    assert rows["docker run"] == "ok"


@pytest.mark.docker
def test_full_names_a_base_image_that_does_not_exist(validated):
    missing = "localhost/no-such-python:0.0"

    result = validated("full", docker_base_image=missing)

    assert result.returncode != 0
    assert f"the base image {missing} is not on this Docker engine and cannot be pulled" in result.stderr
    assert not (result.output_dir / result.answers["project_slug"]).exists()


@pytest.mark.docker
def test_auto_skips_the_image_when_the_base_image_cannot_be_had(validated):
    missing = "localhost/no-such-python:0.0"

    result = validated("auto", docker_base_image=missing)

    assert result.returncode == 0, result.output
    rows = summary_rows(result.stdout)
    assert rows["poe check"] == "ok"
    assert (rows["base image"], rows["docker build"], rows["docker run"]) == ("skipped",) * 3
    assert f"the base image {missing} is not on this Docker engine and cannot be pulled" in result.stdout
    assert (result.output_dir / result.answers["project_slug"] / "poetry.lock").is_file()


@pytest.mark.docker
def test_full_without_an_engine_fails_and_names_the_way_out(validated):
    result = validated("full", env=NO_ENGINE)

    assert result.returncode != 0
    assert "no Docker engine answers" in result.stderr
    assert "start Docker" in result.stderr
    assert "validate_build=auto" in result.stderr


@pytest.mark.docker
def test_auto_without_an_engine_succeeds_and_says_it_skipped_the_image(validated):
    result = validated("auto", env=NO_ENGINE)

    assert result.returncode == 0, result.output
    rows = summary_rows(result.stdout)
    assert rows["docker build"] == "skipped"
    assert rows["poe check"] == "ok"
    assert "skipped: no Docker engine answers" in result.stdout


@pytest.mark.slow
def test_static_checks_lock_dockerfile_and_ci_offline(tmp_path):
    result = bake(tmp_path, package_index_url=PACKAGE_INDEX_URL, lock_dependencies="yes", validate_build="static")

    assert result.returncode == 0, result.output
    rows = summary_rows(result.stdout)
    assert rows["poetry check --lock"] == "ok"
    assert rows["Dockerfile"] == "ok"
    assert rows["CI files"] == "ok"
    assert rows["install, poe check, image"] == "not run"
    assert "poetry install" not in rows


def test_lock_without_poetry_on_path_names_the_way_out(baked, poetry):
    poetry_dir = os.path.dirname(poetry)
    path = os.pathsep.join(entry for entry in os.environ["PATH"].split(os.pathsep) if entry != poetry_dir)

    result = baked(lock_dependencies="yes", env=tool_environment(PATH=path))

    assert result.returncode != 0
    assert "Poetry was not found on PATH. Install Poetry 2" in result.stderr
    assert "lock_dependencies=no" in result.stderr
    assert not result.project.exists()


@pytest.mark.slow
def test_a_failing_step_shows_the_tools_last_lines_and_how_to_reproduce(baked):
    result = baked(lock_dependencies="yes", package_index_url="http://127.0.0.1:9/simple/")

    assert result.returncode != 0
    assert "--- last lines of its output ---" in result.stderr
    assert "All attempts to connect to 127.0.0.1:9 failed" in result.stderr
    assert "to reproduce: generate again with --keep-project-on-failure" in result.stderr
    assert result.stderr.rstrip().endswith("poetry lock")
    assert re.search(r"^poetry lock +FAILED ", result.stdout, re.MULTILINE)


def test_none_runs_nothing(baked):
    result = baked(validate_build="none")

    assert result.returncode == 0, result.output
    assert summary_rows(result.stdout)["validation"] == "not run"


def test_static_refuses_a_dockerfile_without_its_stages(tmp_path, monkeypatch):
    (tmp_path / "Dockerfile").write_text("ARG PYTHON_IMAGE=python:3.13-slim\nFROM ${PYTHON_IMAGE} AS app\n")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(post_gen.StepFailed, match=r"stages are \['app'\].*POETRY_VERSION is not pinned"):
        post_gen.check_dockerfile({"docker_base_image": "python:3.13-slim"})


def test_static_refuses_ci_yaml_that_does_not_parse(tmp_path, monkeypatch):
    (tmp_path / ".gitlab-ci.yml").write_text("stages: [check\n")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(post_gen.StepFailed, match=r"\.gitlab-ci\.yml is not valid YAML"):
        post_gen.check_ci_files({})


def test_full_turns_a_skip_into_a_failure_that_names_the_step():
    def cannot_run(_answers):
        raise post_gen.StepSkipped("no Python 3.13 on PATH")

    with pytest.raises(post_gen.StepFailed, match=r"needs the 'poetry install' step.*no Python 3\.13 on PATH"):
        post_gen.require_step("poetry install", cannot_run, {})


def test_prune_removes_only_the_manifests_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (".gitlab-ci.yml", ".github/workflows/ci.yml", ".github/dependabot.yml", ".github/CODEOWNERS"):
        os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
        (tmp_path / name).write_text("x")
    answers = {
        "app_type": "fastapi",
        "database": "postgresql",
        "ci_provider": "none",
        "license": "MIT",
        "package_name": "pkg",
    }

    post_gen.prune_unselected_files(answers)

    remaining = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert remaining == [".github/CODEOWNERS"]
    assert not (tmp_path / ".github" / "workflows").exists()


def test_hook_summary_reads_the_hooks_own_table(capsys):
    report = post_gen.Report()
    report.rows = [
        ("poetry lock", "ok", 4.1, "poetry.lock written"),
        ("poetry install", "skipped", 0.0, "no Python 3.13 on PATH"),
        ("install, poe check, image", "not run", 0.0, "validate_build=static"),
        ("docker build", "ok", 5.5, "image bench-validate:dev"),
    ]
    report.print_summary()
    output = "==> poetry lock\n" + capsys.readouterr().out + "\nMy Service is ready in /tmp/x\n"

    rows = hook_summary(output)

    assert [(row["name"], row["result"], row["seconds"]) for row in rows] == [
        ("poetry lock", "ok", 4.1),
        ("poetry install", "skipped", 0.0),
        ("install, poe check, image", "not run", 0.0),
        ("docker build", "ok", 5.5),
    ]
