"""Configuration: safe local defaults, env overrides, production refuses to start without secrets."""

import os
import subprocess
import sys
from itertools import combinations

import pytest

from bellyfed import PROJECT_ROOT, create_app
from bellyfed.config import (
    DEV_SECRET_KEY,
    PRODUCTION_SECRETS,
    RETIRED_SECRETS,
    ConfigError,
    load_config,
)

STRONG_KEY = "k" * 48
PROD_DB = "postgresql+psycopg://app@db.internal:5432/bellyfed"


def test_development_defaults_point_at_local_services():
    config = load_config({})
    assert config["BELLYFED_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert config["CELERY"]["broker_url"] == config["REDIS_URL"]
    assert config["AWS_ENDPOINT_URL_DYNAMODB"] is None
    assert config["SESSION_COOKIE_SECURE"] is False


def test_environment_overrides_defaults():
    config = load_config({
        "DATABASE_URL": "postgresql+psycopg://u@h/db", "REDIS_URL": "redis://r:6379/2",
        "CELERY_BROKER_URL": "redis://b:6379/3", "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4566",
    })  # fmt: skip
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert config["CELERY"]["broker_url"] == "redis://b:6379/3"
    assert config["AWS_REGION"] == "eu-west-1"
    assert config["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:4566"


def test_pool_is_configured_on_purpose():
    options = load_config({"DB_POOL_SIZE": "8", "DB_STATEMENT_TIMEOUT_MS": "2500"})[
        "SQLALCHEMY_ENGINE_OPTIONS"
    ]
    assert options["pool_size"] == 8
    assert options["pool_pre_ping"] is True
    assert options["pool_timeout"] == 5
    assert options["connect_args"]["options"] == (
        "-c statement_timeout=2500 -c jit=off -c pg_trgm.word_similarity_threshold=0.5"
    )
    assert options["connect_args"]["connect_timeout"] == 5


HOSTS = {"TRUSTED_HOSTS": "bellyfed.example"}
SCANNER = {"CLAMD_ADDRESS": "/run/clamav/clamd.ctl"}
PEPPER = {"PASSWORD_PEPPER": "p" * 8 + STRONG_KEY, "TOTP_ENCRYPTION_KEY": "t" * 8 + STRONG_KEY}
READY = {"SECRET_KEY": STRONG_KEY, "DATABASE_URL": PROD_DB, **HOSTS, **PEPPER}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": PROD_DB, **PEPPER}, "without SECRET_KEY:"),
        ({"SECRET_KEY": STRONG_KEY, **PEPPER}, "without DATABASE_URL:"),
        (
            {"SECRET_KEY": STRONG_KEY, "DATABASE_URL": PROD_DB},
            "without PASSWORD_PEPPER and TOTP_ENCRYPTION_KEY:",
        ),
        ({}, "without SECRET_KEY, DATABASE_URL, PASSWORD_PEPPER and TOTP_ENCRYPTION_KEY:"),
        ({"SECRET_KEY": "", "DATABASE_URL": PROD_DB, **PEPPER}, "without SECRET_KEY:"),
        ({"SECRET_KEY": STRONG_KEY, "DATABASE_URL": PROD_DB, **PEPPER}, "without TRUSTED_HOSTS"),
        (
            {"SECRET_KEY": "short", "DATABASE_URL": PROD_DB, **PEPPER, **HOSTS},
            "SECRET_KEY must be a random value of at least 32 characters",
        ),
        (
            {"SECRET_KEY": DEV_SECRET_KEY, "DATABASE_URL": PROD_DB, **PEPPER, **HOSTS},
            "SECRET_KEY must be a random value of at least 32 characters",
        ),
        *[
            (
                {"SECRET_KEY": STRONG_KEY, "DATABASE_URL": PROD_DB, **HOSTS, **PEPPER, name: value},
                f"{name} must be a random value of at least 32 characters",
            )
            for name, development_value in PRODUCTION_SECRETS.items()
            for value in ("short", development_value)
        ],
        *[  # one value reused: a leaked SECRET_KEY must not give away the pepper
            (
                {**READY, one: "s" * 40, other: "s" * 40},
                f"{one} and {other} must be different values",
            )
            for one, other in combinations(PRODUCTION_SECRETS, 2)
        ],
        *[
            (
                {**READY, name: "r" * 40 + ",short"},
                f"every value in {name} must be a random value of at least 32 characters",
            )
            for name in RETIRED_SECRETS
        ],
    ],
)
def test_production_refuses_to_start_without_secrets(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config({"BELLYFED_ENV": "production", **env})


def test_production_with_secrets_uses_secure_cookies():
    config = load_config(
        {"BELLYFED_ENV": "production", "SECRET_KEY": STRONG_KEY, "DATABASE_URL": PROD_DB,
         **PEPPER, **HOSTS, **SCANNER, "PASSWORD_PEPPERS_RETIRED": "r" * 32 + ", " + "s" * 40,
         "TOTP_ENCRYPTION_KEYS_RETIRED": "u" * 32}
    )  # fmt: skip
    assert config["PASSWORD_PEPPERS_RETIRED"] == ("r" * 32, "s" * 40)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["PREFERRED_URL_SCHEME"] == "https"


@pytest.mark.parametrize(("env", "message"), [
    ({"BELLYFED_ENV": "staging"}, "BELLYFED_ENV must be one of"),
    ({"DB_POOL_SIZE": "lots"}, "DB_POOL_SIZE must be a whole number"),
    ({"ANALYTICS_BATCH_SECONDS": "soon"}, "ANALYTICS_BATCH_SECONDS must be a number"),
])  # fmt: skip
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_create_app_refuses_production_without_secrets(monkeypatch):
    monkeypatch.setenv("BELLYFED_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_the_wsgi_entry_point_exits_with_a_clear_message_in_production():
    required = ("SECRET_KEY", "DATABASE_URL", "PASSWORD_PEPPER", "TOTP_ENCRYPTION_KEY")
    env = {k: v for k, v in os.environ.items() if k not in required}
    env["BELLYFED_ENV"] = "production"
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "bellyfed: Refusing to start in production without SECRET_KEY, DATABASE_URL, "
        "PASSWORD_PEPPER and TOTP_ENCRYPTION_KEY: "
        "set them in the environment."
    )


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(database_url):
    from flask import request

    from tests.conftest import make_test_app

    app = make_test_app(database_url, TRUSTED_PROXIES=1)
    app.add_url_rule("/_addr", "addr", lambda: request.remote_addr)
    response = app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_data(as_text=True) == "203.0.113.7"
    untrusting = make_test_app(database_url)
    untrusting.add_url_rule("/_addr", "addr", lambda: request.remote_addr)
    assert (
        untrusting.test_client()
        .get("/_addr", headers={"X-Forwarded-For": "203.0.113.7"})
        .get_data(as_text=True)
        == "127.0.0.1"
    )


def test_trusted_hosts_refuse_a_forged_host_header():
    from bellyfed import create_app

    app = create_app({"TRUSTED_HOSTS": ["bellyfed.example"]})
    client = app.test_client()
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert load_config({"TRUSTED_HOSTS": "a.example, b.example"})["TRUSTED_HOSTS"] == [
        "a.example",
        "b.example",
    ]
    assert load_config({})["TRUSTED_HOSTS"] is None


def test_operations_settings_pass_through_from_the_environment():
    config = load_config({"PREFERENCES_STORE": "dual", "SLOW_QUERY_MS": "50", "METRICS_TOKEN": " "})
    assert config["PREFERENCES_STORE"] == "dual"
    assert config["SLOW_QUERY_MS"] == "50"
    assert "METRICS_TOKEN" not in config  # blank: the module's default (off) applies


def test_production_refuses_to_start_without_a_virus_scanner_unless_told_off():
    """ASVS 12.4.2: uploads are scanned by clamd; production must name it or say "off"."""
    ready = {"BELLYFED_ENV": "production", "SECRET_KEY": STRONG_KEY, "DATABASE_URL": PROD_DB,
             **PEPPER, **HOSTS}  # fmt: skip
    for unset in ({}, {"CLAMD_ADDRESS": " "}):
        with pytest.raises(ConfigError, match=r'without CLAMD_ADDRESS: .* or to "off"'):
            load_config(ready | unset)
    assert load_config(ready | SCANNER)["CLAMD_ADDRESS"] == "/run/clamav/clamd.ctl"
    assert load_config(ready | {"CLAMD_ADDRESS": "clamav.internal:3310"})["CLAMD_ADDRESS"] == (
        "clamav.internal:3310"
    )
    assert load_config(ready | {"CLAMD_ADDRESS": "OFF"})["CLAMD_ADDRESS"] == ""


def test_the_virus_scanner_is_off_by_default_outside_production_and_its_address_is_checked():
    config = load_config({})
    assert config["CLAMD_ADDRESS"] == ""
    assert config["CLAMD_TIMEOUT_SECONDS"] == 10.0
    assert load_config({"CLAMD_TIMEOUT_SECONDS": "2.5"})["CLAMD_TIMEOUT_SECONDS"] == 2.5
    for bad in ("clamd", "clamav.internal:clam", ":3310", "run/clamd.ctl"):
        with pytest.raises(ConfigError, match="CLAMD_ADDRESS must be a socket path"):
            load_config({"CLAMD_ADDRESS": bad})
    with pytest.raises(ConfigError, match="CLAMD_TIMEOUT_SECONDS must be a number"):
        load_config({"CLAMD_TIMEOUT_SECONDS": "soon"})
