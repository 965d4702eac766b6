from pathlib import Path

import pytest
{%- if cookiecutter.database != "postgresql" %}
from pydantic import SecretStr, field_validator
{%- endif %}
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


{% if cookiecutter.database == "postgresql" -%}
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user:hunter2@db:5432/app",
        "postgres://user:hunter2@db:5432/app",
        "postgresql+psycopg://user:hunter2@db:5432/app",
    ],
)
def test_the_database_url_platforms_hand_out_gets_the_driver(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    settings = Settings.from_environment()

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == (
        "postgresql+psycopg://user:hunter2@db:5432/app"
    )
    assert "hunter2" not in repr(settings)


def test_the_pool_settings_come_from_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOL_SIZE", "20")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "0")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "2.5")
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT", "3")

    settings = Settings.from_environment()

    assert (settings.database_pool_size, settings.database_max_overflow) == (20, 0)
    assert (settings.database_pool_timeout, settings.database_connect_timeout) == (2.5, 3)


@pytest.mark.parametrize("url", ["mysql://user:hunter2@db/app", "user:hunter2@db/app"])
def test_a_wrong_database_url_is_named_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(SettingsError) as raised:
        Settings.from_environment()

    assert "DATABASE_URL: " in str(raised.value)
    assert "postgresql://" in str(raised.value)
    assert "hunter2" not in str(raised.value)
    assert "mysql" not in str(raised.value)


def test_the_database_url_comes_from_a_secret_file(tmp_path: Path) -> None:
    (tmp_path / "database_url").write_text("postgres://user:hunter2@db/app\n", encoding="utf-8")

    class SettingsFromFiles(Settings):
        model_config = SettingsConfigDict(secrets_dir=tmp_path)

    settings = SettingsFromFiles()

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://user:hunter2@db/app"
    assert "hunter2" not in repr(settings)
{%- else -%}
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
{%- endif %}
