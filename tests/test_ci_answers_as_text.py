"""Every answer reaches every generated CI file as the text it is: a CI file generated from hostile answers parses
to the same shape, with the same type at every place, as one generated from the defaults, and each answer is
found as itself. YAML reads unquoted yes, off, 1.0, 0755, 2024-01-01 or null as a boolean, number, date or null.
"""

from pathlib import Path

import pytest
import yaml

from template_harness import COOKIECUTTER_JSON, bake, hook_summary, load_hook

CI_FILES = {
    "github": [".github/workflows/ci.yml", ".github/workflows/template-update.yml", ".github/dependabot.yml"],
    "gitlab": [".gitlab-ci.yml"],
}
# Valid image references that YAML would read as other than a string.
IMAGES_YAML_WOULD_TYPE = ["yes", "off", "on", "no", "true", "null", "1.0", "1e3", "0755", "0x1f", "2024-01-01", "12:30"]
HOSTILE_TEXT = {
    "project_slug": "hostile",
    "project_name": "Yes: no # off {&a *b} !tag - [x] | > % @ ` 'q' \"qq\"",
    "description": "null: ~ #comment ${ github.token } $CI_JOB_TOKEN *alias &anchor",
    "author_name": "- item: 1.0",
    "package_index_url": "https://idx.example.com/~team/a%20b/simple/?x=1&y=(2);z=*+,!",
    "repository_url": "https://git.example.com/a/b#yes",
}


def parsed_ci_files(project: Path, provider: str) -> dict:
    return {name: yaml.safe_load((project / name).read_text(encoding="utf-8")) for name in CI_FILES[provider]}


def differences(baseline, hostile, where="") -> list[str]:
    """Each place where the two documents differ in shape or in the type of a value."""
    if isinstance(baseline, dict):
        if not isinstance(hostile, dict) or set(baseline) != set(hostile):
            return [f"{where}: keys {sorted(map(str, baseline))} became {hostile!r}"]
        return [problem for key in baseline for problem in differences(baseline[key], hostile[key], f"{where}.{key}")]
    if isinstance(baseline, list):
        if not isinstance(hostile, list) or len(baseline) != len(hostile):
            return [f"{where}: a list of {len(baseline)} became {hostile!r}"]
        pairs = enumerate(zip(baseline, hostile, strict=True))
        return [problem for i, pair in pairs for problem in differences(*pair, f"{where}[{i}]")]
    if type(baseline) is not type(hostile):
        return [f"{where}: {type(baseline).__name__} {baseline!r} became {type(hostile).__name__} {hostile!r}"]
    return []


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """Each provider's CI files from answers YAML reads plainly (an index, so its lines are there too)."""
    answers = {"package_index_url": "https://pypi.example.com/simple/"}
    return {
        provider: parsed_ci_files(
            bake(tmp_path_factory.mktemp(provider), ci_provider=provider, **answers).project, provider
        )
        for provider in CI_FILES
    }


# GitHub's files hold no image: two bakes suffice there.
CASES = [("gitlab", image) for image in IMAGES_YAML_WOULD_TYPE] + [("github", "yes"), ("github", "1.0")]


@pytest.mark.parametrize(("provider", "image"), CASES)
def test_hostile_answers_reach_every_ci_file_as_text(tmp_path, baseline, provider, image):
    result = bake(tmp_path, ci_provider=provider, docker_base_image=image, validate_build="static", **HOSTILE_TEXT)
    assert result.returncode == 0, result.output

    documents = parsed_ci_files(result.project, provider)

    assert differences(baseline[provider], documents) == []
    values = list(strings(documents))
    if provider == "gitlab":
        pipeline = documents[".gitlab-ci.yml"]
        images = [job["image"] for job in pipeline.values() if isinstance(job, dict) and "image" in job]
        assert images.count(image) == 2, images
        assert any(value.startswith("machine idx.example.com login ") for value in values)
    (ci_step,) = [row for row in hook_summary(result.stdout) if row["name"] == "CI files"]
    assert ci_step["result"] == "ok"


def test_the_hooks_ci_step_refuses_a_value_yaml_types(tmp_path, monkeypatch):
    post_gen = load_hook("post_gen_project")
    monkeypatch.chdir(tmp_path)
    Path(".gitlab-ci.yml").write_text("check:\n  image: 2024-01-01\n  script: [true]\n", encoding="utf-8")

    with pytest.raises(post_gen.StepFailed, match=r"image: datetime.date\(2024, 1, 1\)"):
        post_gen.check_ci_files({})


def test_every_default_python_version_stays_text_in_ci(tmp_path):
    versions = COOKIECUTTER_JSON["python_version"]
    for version in versions:
        project = bake(tmp_path / version, ci_provider="github", python_version=version).project
        workflow = parsed_ci_files(project, "github")[".github/workflows/ci.yml"]
        set_up = [step for step in workflow["jobs"]["check"]["steps"] if "setup-python" in step.get("uses", "")]
        assert set_up[0]["with"]["python-version"] == version
