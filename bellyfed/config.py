"""Configuration read from the environment, with safe local defaults.

Every setting has a development default so a fresh clone runs on local services; production
(``BELLYFED_ENV=production``) refuses to start when a secret or the database URL is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

ENVIRONMENTS = ("development", "test", "production")
DEV_SECRET_KEY = "dev-only-insecure-secret-key"  # noqa: S105 - refused in production below
DEV_PASSWORD_PEPPER = "dev-only-insecure-password-pepper"  # noqa: S105 - refused in production
DEV_TOTP_ENCRYPTION_KEY = "dev-only-insecure-totp-key"  # refused in production
# Secrets production refuses to start without, each at least 32 random characters.
PRODUCTION_SECRETS = {
    "SECRET_KEY": DEV_SECRET_KEY,
    "PASSWORD_PEPPER": DEV_PASSWORD_PEPPER,
    "TOTP_ENCRYPTION_KEY": DEV_TOTP_ENCRYPTION_KEY,
}
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bellyfed"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
T = TypeVar("T")


class ConfigError(RuntimeError):
    """Raised when the configuration cannot run safely in the selected environment."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return _parsed(env, name, default, int, "a whole number")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def _parsed(env: Mapping[str, str], name: str, default: T, parse: Callable[[str], T],
            what: str) -> T:  # fmt: skip
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from exc


SEARCH_WORD_SIMILARITY = 0.5  # bellyfed.search.text.WORD_SIMILARITY (a test keeps them equal)


def _csv(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _listed(names: list[str]) -> str:
    """Names as a phrase: A; A and B; A, B and C."""
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def engine_options(env: Mapping[str, str]) -> dict[str, Any]:
    """SQLAlchemy pool settings, chosen on purpose (see docs/architecture.md#connection-pooling)."""
    statement_timeout_ms = _int(env, "DB_STATEMENT_TIMEOUT_MS", 15_000)
    return {
        # Per process: gunicorn runs WEB_CONCURRENCY processes, each with its own pool.
        "pool_size": _int(env, "DB_POOL_SIZE", 5),
        "max_overflow": _int(env, "DB_MAX_OVERFLOW", 5),
        # Wait at most this long for a free connection, then fail the request instead of piling up.
        "pool_timeout": _int(env, "DB_POOL_TIMEOUT", 5),
        # Recycle before server-side idle timeouts (RDS proxies, load balancers) cut connections.
        "pool_recycle": _int(env, "DB_POOL_RECYCLE", 1800),
        # A cheap liveness check on checkout so a restarted PostgreSQL costs one retry, not a 500.
        "pool_pre_ping": True,
        "connect_args": {
            "connect_timeout": _int(env, "DB_CONNECT_TIMEOUT", 5),
            "application_name": env.get("DB_APPLICATION_NAME", "bellyfed"),
            # JIT off: OLTP statements whose estimated cost passes jit_above_cost run in
            # milliseconds, and compiling them cost 20-30 ms more (measured on searches). The
            # typo threshold of search's word similarity (bellyfed/search/text.py): set here,
            # not by a statement per search.
            "options": f"-c statement_timeout={statement_timeout_ms} -c jit=off "
            f"-c pg_trgm.word_similarity_threshold={SEARCH_WORD_SIMILARITY}",
        },
    }


OPERATIONS_SETTINGS = (
    "BACKUP_LOCATION", "POSTGRES_BIN_DIR",  # flask backup
    "PREFERENCES_STORE",  # where diners' preferences are read and written (flask data)
    "DYNAMODB_PROVISIONED_UNITS", "DYNAMODB_AUTOSCALING", "DYNAMODB_AUTOSCALING_MIN_UNITS",
    "DYNAMODB_AUTOSCALING_MAX_UNITS", "DYNAMODB_AUTOSCALING_TARGET", "DYNAMODB_PITR",
    "AWS_ENDPOINT_URL_APPLICATION_AUTOSCALING",  # flask dynamo apply-capacity
    "DYNAMODB_PRICE_READ_PER_MILLION", "DYNAMODB_PRICE_WRITE_PER_MILLION",
    "DYNAMODB_PRICE_RCU_HOUR", "DYNAMODB_PRICE_WCU_HOUR",
    "DYNAMODB_PRICE_STORAGE_GB_MONTH",  # flask cost report
    "METRICS_ALLOWED_NETWORKS", "METRICS_TOKEN", "SLOW_QUERY_MS", "READYZ_TIMEOUT_SECONDS",
    "READYZ_DYNAMODB_TABLE", "READYZ_CACHE_SECONDS",  # bellyfed/ops
)  # fmt: skip


def _clamd_address(env: Mapping[str, str], production: bool) -> str:
    """CLAMD_ADDRESS: clamd's unix socket path or host:port; "off" (or, outside production,
    empty) turns the virus scan of uploads off (bellyfed/photos/scan.py)."""
    raw = env.get("CLAMD_ADDRESS", "").strip()
    if raw.lower() == "off":
        return ""
    if not raw and production:
        raise ConfigError(
            "Refusing to start in production without CLAMD_ADDRESS: set it to clamd's socket "
            '(a path or host:port), or to "off" to store uploads without a virus scan.'
        )
    host, _, port = raw.rpartition(":")
    if raw and not raw.startswith("/") and not (host and port.isdigit()):
        raise ConfigError(
            f"CLAMD_ADDRESS must be a socket path (/run/clamav/clamd.ctl) or host:port, got {raw!r}"
        )
    return raw


RETIRED_SECRETS = ("PASSWORD_PEPPERS_RETIRED", "TOTP_ENCRYPTION_KEYS_RETIRED")


def _check_secrets_apart(env: Mapping[str, str]) -> None:
    """Production: each secret its own value (one leaked must not give away another), and
    retired ones as strong as current ones."""
    names = list(PRODUCTION_SECRETS)
    for index, name in enumerate(names):
        for other in names[index + 1 :]:
            if env[name] == env[other]:
                raise ConfigError(
                    f"Refusing to start in production: {name} and {other} must be different "
                    "values (a leak of one must not give away the other)."
                )
    for name in RETIRED_SECRETS:
        if any(len(value) < 32 for value in _csv(env, name)):
            raise ConfigError(
                f"Refusing to start in production: every value in {name} must be a random "
                "value of at least 32 characters."
            )


def load_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    bellyfed_env = env.get("BELLYFED_ENV", "development")
    if bellyfed_env not in ENVIRONMENTS:
        raise ConfigError(
            f"BELLYFED_ENV must be one of {', '.join(ENVIRONMENTS)}, got {bellyfed_env!r}"
        )
    production = bellyfed_env == "production"
    if production:
        required = ("SECRET_KEY", "DATABASE_URL", "PASSWORD_PEPPER", "TOTP_ENCRYPTION_KEY")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ConfigError(
                f"Refusing to start in production without {_listed(missing)}: "
                "set them in the environment."
            )
        if not env.get("TRUSTED_HOSTS", "").strip():
            raise ConfigError(
                "Refusing to start in production without TRUSTED_HOSTS: set it to the host names "
                "the app is served on (emailed links and API links are built from the Host header)."
            )
        for name, development_value in PRODUCTION_SECRETS.items():
            if env[name] == development_value or len(env[name]) < 32:
                raise ConfigError(
                    f"Refusing to start in production: {name} must be a random value "
                    "of at least 32 characters."
                )
        _check_secrets_apart(env)

    if env.get("SESSION_BACKEND", "dynamodb") not in ("dynamodb", "cookie"):
        raise ConfigError(
            f"SESSION_BACKEND must be dynamodb or cookie, got {env['SESSION_BACKEND']!r}"
        )
    redis_url = env.get("REDIS_URL", DEFAULT_REDIS_URL)
    # Operations settings, validated where they are used (each module names the bad value and the
    # expected form): taken from the environment when set, else that module's default applies.
    # See README "Configuration".
    operations = {name: env[name] for name in OPERATIONS_SETTINGS if env.get(name, "").strip()}
    return operations | {
        "BELLYFED_ENV": bellyfed_env,
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET_KEY),
        # The password hashes' secret key (bellyfed/accounts/passwords.py); retired ones, comma-
        # separated, still verify old hashes, which are re-made with the current one at log-in.
        "PASSWORD_PEPPER": env.get("PASSWORD_PEPPER", DEV_PASSWORD_PEPPER),
        "PASSWORD_PEPPERS_RETIRED": _csv(env, "PASSWORD_PEPPERS_RETIRED"),
        # Encrypts the authenticator apps' secrets (bellyfed/accounts/two_factor.py); retired
        # keys, comma-separated, still decrypt, and a secret moves to the current key when used.
        "TOTP_ENCRYPTION_KEY": env.get("TOTP_ENCRYPTION_KEY", DEV_TOTP_ENCRYPTION_KEY),
        "TOTP_ENCRYPTION_KEYS_RETIRED": _csv(env, "TOTP_ENCRYPTION_KEYS_RETIRED"),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(env),
        "SQLALCHEMY_RECORD_QUERIES": False,
        "REDIS_URL": redis_url,
        "CELERY": {
            "broker_url": env.get("CELERY_BROKER_URL", redis_url),
            # Tasks are idempotent and acknowledged after they finish: a worker that dies mid-task
            # leaves the message to be redelivered, once the visibility timeout has passed.
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "task_ignore_result": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            # A broker outage of any length: the worker keeps trying (every few seconds, backing
            # off to 30 s) instead of exiting after 100 attempts, and picks up when Redis returns.
            "broker_connection_max_retries": None,
            # Tasks running when the broker connection drops cannot be acknowledged: stop them and
            # let the broker redeliver (they are idempotent). Celery 6's default, set explicitly.
            "worker_cancel_long_running_tasks_on_connection_loss": True,
            "broker_transport_options": {
                "visibility_timeout": _int(env, "CELERY_VISIBILITY_TIMEOUT", 3600),
            },
        },
        "AWS_REGION": env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "ap-southeast-1")),
        # boto3 reads these itself; kept here so the app can show and pass them explicitly.
        "AWS_ENDPOINT_URL_DYNAMODB": env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
        "AWS_ENDPOINT_URL_S3": env.get("AWS_ENDPOINT_URL_S3") or None,
        "DYNAMODB_TABLE_PREFIX": env.get("DYNAMODB_TABLE_PREFIX", f"bellyfed-{bellyfed_env}-"),
        # on-demand for unpredictable traffic; provisioned (with auto-scaling) once it is steady.
        "DYNAMODB_CAPACITY": env.get("DYNAMODB_CAPACITY", "on-demand"),
        "TRENDING_HALF_LIFE_HOURS": float(env.get("TRENDING_HALF_LIFE_HOURS", "6")),
        # How long a cached search page may be served (open-now pages: to the end of their slot);
        # 0 turns the search cache off.
        "SEARCH_CACHE_SECONDS": _int(env, "SEARCH_CACHE_SECONDS", 600),
        # How long a public API response is kept in DynamoDB (0: off; ETags work either way).
        "API_CACHE_SECONDS": _int(env, "API_CACHE_SECONDS", 300),
        # API rate limits (bellyfed/api/limits.py), in Flask-Limiter's notation.
        "API_RATE_LIMIT_TOKEN": env.get("API_RATE_LIMIT_TOKEN", "300 per minute"),
        "API_RATE_LIMIT_ANONYMOUS": env.get("API_RATE_LIMIT_ANONYMOUS", "60 per minute"),
        "API_RATE_LIMIT_ADDRESS": env.get("API_RATE_LIMIT_ADDRESS", "1000 per minute"),
        # How long each web process serves a page it rendered to signed-out visitors (0: off), and
        # how much it keeps (bellyfed/core/pagecache.py). Signed-in diners always get fresh pages.
        "PAGE_CACHE_SECONDS": _int(env, "PAGE_CACHE_SECONDS", 15),
        "PAGE_CACHE_MAX_BYTES": _int(env, "PAGE_CACHE_MAX_BYTES", 64 * 1024 * 1024),
        # Counts over every restaurant and board (home page, dish index) kept per process this long.
        "AGGREGATE_CACHE_SECONDS": _int(env, "AGGREGATE_CACHE_SECONDS", 60),
        "FLAGS_CACHE_SECONDS": _int(env, "FLAGS_CACHE_SECONDS", 30),  # staleness vs DynamoDB reads
        # Off only to measure what tracking costs (bench/suite.py).
        "ANALYTICS_ENABLED": env.get("ANALYTICS_ENABLED", "1") == "1",
        # Each web process folds its events and sends them to Redis this often (0: every request).
        "ANALYTICS_BATCH_SECONDS": _float(env, "ANALYTICS_BATCH_SECONDS", 1.0),
        "PHOTO_BUCKET": env.get("PHOTO_BUCKET", f"bellyfed-{bellyfed_env}-photos"),
        # Uploads: per photo, photos per review, and the request as a whole (-> 413 beyond it).
        "PHOTO_MAX_BYTES": _int(env, "PHOTO_MAX_BYTES", 8 * 1024 * 1024),
        "PHOTO_MAX_PIXELS": _int(env, "PHOTO_MAX_PIXELS", 40_000_000),
        # What one diner's photos may take in all (the originals as stored, re-encoded).
        "PHOTO_QUOTA_BYTES": _int(env, "PHOTO_QUOTA_BYTES", 500 * 1024 * 1024),
        # clamd scans each upload before it is decoded; unreachable, uploads pause (fail closed).
        "CLAMD_ADDRESS": _clamd_address(env, production),
        "CLAMD_TIMEOUT_SECONDS": _float(env, "CLAMD_TIMEOUT_SECONDS", 10.0),
        "REVIEW_MAX_PHOTOS": _int(env, "REVIEW_MAX_PHOTOS", 4),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_UPLOAD_BYTES", 34 * 1024 * 1024),
        # How many proxies (load balancer, ...) set X-Forwarded-For/-Proto in front of the app;
        # 0 trusts none. Per-address login limits need the real client address.
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0),
        # "dynamodb": server-side sessions (bellyfed/accounts/sessions.py). "cookie": Flask's signed
        # cookie, an escape hatch only: no idle timeout, no session list, logout ends nothing.
        "SESSION_BACKEND": env.get("SESSION_BACKEND", "dynamodb"),
        "SESSION_IDLE_SECONDS": _int(env, "SESSION_IDLE_SECONDS", 30 * 60),
        "SESSION_ABSOLUTE_SECONDS": _int(env, "SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60),
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # Host names the app answers to (comma-separated); any other Host header is a 400. Set it
        # in production: emailed links (password reset) are built from the request's host.
        "TRUSTED_HOSTS": [h.strip() for h in env["TRUSTED_HOSTS"].split(",") if h.strip()]
        if env.get("TRUSTED_HOSTS")
        else None,
        # Password-reset links work once, for this long.
        "PASSWORD_RESET_SECONDS": _int(env, "PASSWORD_RESET_SECONDS", 30 * 60),
        # How long a half-finished multi-step form (creating an API token) is kept.
        "FORM_STATE_SECONDS": _int(env, "FORM_STATE_SECONDS", 30 * 60),
        # Outgoing email (bellyfed/core/mail.py): "console" writes messages to the log (local
        # development), "smtp" sends through MAIL_HOST, "memory" keeps them for the tests.
        "MAIL_BACKEND": env.get("MAIL_BACKEND", "smtp" if production else "console"),
        "MAIL_FROM": env.get("MAIL_FROM", "Bellyfed <no-reply@bellyfed.example>"),
        "MAIL_HOST": env.get("MAIL_HOST", "localhost"),
        "MAIL_PORT": _int(env, "MAIL_PORT", 587),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_STARTTLS": env.get("MAIL_STARTTLS", "1") == "1",
        # Send from the worker (a slow or failing mail server never holds a request) or inline.
        "MAIL_VIA_WORKER": env.get("MAIL_VIA_WORKER", "1") == "1",
    }
