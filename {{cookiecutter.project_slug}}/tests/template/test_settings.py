from pathlib import Path

import pytest
from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from {{ cookiecutter.package_name }}.settings import Settings, SettingsError

SETTINGS_VARIABLES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_environment()

    assert settings == Settings()
    assert settings.log_level == "info"
{%- if cookiecutter.app_type == "fastapi" %}
    assert (settings.host, settings.port, settings.health_path) == ("127.0.0.1", 8000, "/health")
    assert settings.api_docs is True
    assert settings.forwarded_allow_ips == "127.0.0.1,::1"
    assert (settings.header_timeout, settings.keep_alive_timeout) == (10, 5)
{%- endif %}


def test_each_setting_comes_from_its_variable_in_capitals(monkeypatch: pytest.MonkeyPatch) -> None:
{%- if cookiecutter.app_type == "fastapi" %}
    environ = {
        "PORT": "9000",
        "LOG_LEVEL": "DEBUG",
        "DATA_DIR": "/var/lib/app",
        "HEALTH_PATH": "/ready",
        "API_DOCS": "false",
        "HEADER_TIMEOUT": "2.5",
    }
{%- else %}
    environ = {"LOG_LEVEL": "DEBUG", "DATA_DIR": "/var/lib/app"}
{%- endif %}
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)

    settings = Settings.from_environment()

{%- if cookiecutter.app_type == "fastapi" %}
    assert settings.port == 9000
    assert settings.health_path == "/ready"
    assert settings.api_docs is False
    assert settings.header_timeout == 2.5
{%- endif %}
    assert settings.log_level == "debug"
    assert settings.data_dir == Path("/var/lib/app")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOG_LEVEL", "bogus"),
{%- if cookiecutter.app_type == "fastapi" %}
        ("PORT", "many"),
        ("PORT", "70000"),
        ("HEALTH_PATH", "health"),
        ("API_DOCS", "maybe"),
        ("HEADER_TIMEOUT", "0"),
{%- endif %}
    ],
)
def test_a_wrong_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError, match=f"{variable}={value!r}: "):
        Settings.from_environment()


class SettingsWithASecret(Settings):
    database_url: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def postgresql_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("postgresql://"):
            raise ValueError("use a postgresql:// URL")
        return value


def test_a_secret_is_never_shown_in_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://user:hunter2@db/app")

    with pytest.raises(SettingsError) as raised:
        SettingsWithASecret.from_environment()

    assert "DATABASE_URL: " in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_secret_comes_from_a_file_of_its_name(tmp_path: Path) -> None:
    (tmp_path / "database_url").write_text("postgresql://user:hunter2@db/app", encoding="utf-8")

    class SettingsFromFiles(SettingsWithASecret):
        model_config = SettingsConfigDict(secrets_dir=tmp_path)

    settings = SettingsFromFiles()

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://user:hunter2@db/app"
    assert "hunter2" not in repr(settings)
