"""Secret references, the log redactor, and the connector registry's config checks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from passline.data.connectors import CONNECTORS, FileConnector, build_connector
from passline.data.secrets import SecretRedactor, is_secret_ref, redact, resolve_secret
from passline.errors import InvalidInput, NotFound
from passline.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


# --- references ---------------------------------------------------------------------------


def test_env_ref(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "from-env-123")
    assert resolve_secret("env:DB_PASSWORD", settings) == "from-env-123"


def test_missing_env_names_the_ref_not_a_value(settings: Settings) -> None:
    with pytest.raises(NotFound, match=r"'env:NOPE_NOT_SET' is not set: no environment variable"):
        resolve_secret("env:NOPE_NOT_SET", settings)


def test_file_ref_with_a_dotted_key(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "vault.toml"
    path.write_text('top = "t-value-1"\n[db]\npassword = "nested-value-2"\n')
    assert resolve_secret(f"file:{path}#top", settings) == "t-value-1"
    assert resolve_secret(f"file:{path}#db.password", settings) == "nested-value-2"
    with pytest.raises(NotFound, match=r"has no key 'db.user'") as caught:
        resolve_secret(f"file:{path}#db.user", settings)
    assert "nested-value-2" not in str(caught.value)


def test_file_ref_to_a_missing_file(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        resolve_secret(f"file:{tmp_path}/none.toml#k", settings)


def test_file_ref_to_invalid_toml_or_a_non_string(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("this is = = not toml")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        resolve_secret(f"file:{path}#k", settings)
    path.write_text("port = 5432\n")
    with pytest.raises(InvalidInput, match="must be a string"):
        resolve_secret(f"file:{path}#port", settings)


def test_named_secret_from_the_home_or_the_settings_file(
    settings: Settings, tmp_path: Path
) -> None:
    settings.home.mkdir(parents=True)
    (settings.home / "secrets.toml").write_text('api = "home-secret-1"\n')
    assert resolve_secret("secret:api", settings) == "home-secret-1"
    other = tmp_path / "elsewhere.toml"
    other.write_text('api = "configured-secret-2"\n')
    configured = Settings(home=settings.home, secrets_file=other)
    assert resolve_secret("secret:api", configured) == "configured-secret-2"
    with pytest.raises(NotFound, match="'secret:missing' is not set"):
        resolve_secret("secret:missing", configured)


@pytest.mark.parametrize("ref", ["password123", "env:", "env:1BAD", "file:/x.toml", "vault:x"])
def test_malformed_refs(settings: Settings, ref: str) -> None:
    assert not is_secret_ref(ref)
    with pytest.raises(InvalidInput, match="is not a secret reference; the forms are env:NAME"):
        resolve_secret(ref, settings)


def test_is_secret_ref() -> None:
    assert is_secret_ref("env:PGPASSWORD")
    assert is_secret_ref("file:/etc/passline/secrets.toml#db.password")
    assert is_secret_ref("secret:openai_key")
    assert not is_secret_ref(None)
    assert not is_secret_ref(42)


# --- redaction ----------------------------------------------------------------------------


def test_resolved_values_are_redacted(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONG_SECRET", "very-secret-value-a1")
    monkeypatch.setenv("SHORT_SECRET", "ab")
    resolve_secret("env:LONG_SECRET", settings)
    resolve_secret("env:SHORT_SECRET", settings)
    assert redact("pw=very-secret-value-a1; abc") == "pw=***; abc"  # too short to redact: ab


def test_redactor_filter_cleans_messages_args_and_tracebacks(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TOKEN", "tok-redact-me-42")
    token = resolve_secret("env:TOKEN", settings)
    caplog.handler.addFilter(SecretRedactor())
    log = logging.getLogger("passline.tests.redactor")
    log.warning("connecting with %s", token)
    try:
        raise RuntimeError(f"driver said: bad password {token}")
    except RuntimeError:
        log.exception("failed")
    assert "tok-redact-me-42" not in caplog.text
    assert "connecting with ***" in caplog.text
    assert "bad password ***" in caplog.text


# --- the registry's config checks ----------------------------------------------------------


def test_registry_holds_the_four_kinds() -> None:
    assert set(CONNECTORS) == {"file", "sql", "http", "redis"}


def test_build_connector(settings: Settings) -> None:
    built = build_connector("file", {"path": "data/*.csv", "on_bad_lines": "skip"}, settings)
    assert isinstance(built, FileConnector) and built.on_bad_lines == "skip"


def test_unknown_kind_lists_the_kinds(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="the kinds are file, http, redis, sql"):
        build_connector("ftp", {}, settings)


def test_unknown_key_lists_the_allowed_keys(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match=r"Unknown key 'querry' .* the keys are url, query"):
        build_connector("sql", {"url": "sqlite://", "querry": "SELECT 1"}, settings)


def test_missing_required_key(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="needs query"):
        build_connector("sql", {"url": "sqlite://"}, settings)


def test_ref_keys_must_hold_refs(settings: Settings) -> None:
    config = {"url": "sqlite://", "query": "SELECT 1", "password_ref": "hunter2"}
    with pytest.raises(InvalidInput, match="password_ref .* must be a secret reference"):
        build_connector("sql", config, settings)
    config["password_ref"] = "env:DB_PASSWORD"
    assert build_connector("sql", config, settings).describe()["kind"] == "sql"


@pytest.mark.parametrize(
    ("kind", "config", "says"),
    [
        ("sql", {"url": "postgresql://u:pw@db/x", "query": "SELECT 1"}, "contains a password"),
        ("http", {"url": "https://api/x?api_key=abc"}, "carries 'api_key'"),
        ("http", {"url": "https://api/x", "headers": {"Authorization": "Bearer x"}}, "secret"),
        ("http", {"url": "https://api/x", "params": {"token": "abc"}}, "params.token"),
        ("file", {"path": "s3://b/x.csv", "storage_options": {"secret": "s"}}, "a *_ref key"),
    ],
)
def test_plain_secrets_are_refused(
    settings: Settings, kind: str, config: dict[str, object], says: str
) -> None:
    with pytest.raises(InvalidInput, match=says.replace("*", r"\*")):
        build_connector(kind, config, settings)


def test_config_must_be_plain_json(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="must be plain JSON"):
        build_connector("file", {"path": Path("x.csv")}, settings)
    with pytest.raises(InvalidInput, match="must be plain JSON"):
        build_connector(
            "sql", {"url": "sqlite://", "query": "x", "params": {"v": float("nan")}}, settings
        )


def test_a_value_of_the_wrong_type_is_invalid_input(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="config is invalid"):
        build_connector("sql", {"url": "sqlite://", "query": "x", "chunk_rows": "many"}, settings)
