from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.settings import Settings, SettingsError, convert


def test_defaults_need_no_environment() -> None:
    assert Settings.from_environment({}) == Settings()


def test_each_setting_comes_from_its_variable_in_capitals() -> None:
{%- if cookiecutter.app_type == "fastapi" %}
    environ = {
        "PORT": "9000",
        "LOG_LEVEL": "debug",
        "DATA_DIR": "/var/lib/app",
        "HEALTH_PATH": "/ready",
    }
{%- else %}
    environ = {"LOG_LEVEL": "debug", "DATA_DIR": "/var/lib/app"}
{%- endif %}

    settings = Settings.from_environment(environ)

{%- if cookiecutter.app_type == "fastapi" %}
    assert settings.port == 9000
    assert settings.health_path == "/ready"
{%- endif %}
    assert settings.log_level == "debug"
    assert settings.data_dir == Path("/var/lib/app")


def test_a_value_of_the_wrong_type_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="WORKERS='many'"):
        convert("WORKERS", "many", int)


def test_yes_and_no_words_are_booleans() -> None:
    assert convert("DEBUG", "Yes", bool) is True
    assert convert("DEBUG", "off", bool) is False
    with pytest.raises(SettingsError, match="DEBUG='maybe'"):
        convert("DEBUG", "maybe", bool)
