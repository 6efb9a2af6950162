"""Login throttling: per account and per address, in real Redis, and harmless when Redis is down."""

import logging
from concurrent.futures import ThreadPoolExecutor

from bellyfed.accounts import services, throttle
from tests.accounts.support import attempt_login, log_out
from tests.conftest import free_port
from tests.factories import TEST_PASSWORD, UserFactory
from tests.web import text

WRONG = "definitely not the password"
ACCOUNT_LOCKED = "Too many failed attempts for this account. Try again in 15 minutes."
ADDRESS_LOCKED = "Too many failed attempts from your network. Try again in 15 minutes."


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def fail(client, identifier: str, times: int, **kw) -> None:
    for _ in range(times):
        response = attempt_login(client, identifier, WRONG, **kw)
        assert response.status_code == 200, text(response)


def test_an_account_is_locked_after_five_failures_even_for_the_right_password(client):
    UserFactory(username="siti")
    fail(client, "siti", throttle.MAX_FAILURES_PER_ACCOUNT)

    response = attempt_login(client, "siti", TEST_PASSWORD)

    assert response.status_code == 429
    assert ACCOUNT_LOCKED in text(response)
    assert 840 < int(response.headers["Retry-After"]) <= throttle.WINDOW_SECONDS
    assert client.get("/account").status_code == 302


def test_the_lock_holds_from_another_address_and_by_email(client):
    UserFactory(username="siti", email="siti@example.com")
    fail(client, "siti", 3, **from_address("10.0.0.1"))
    fail(client, "SITI@example.com", 2, **from_address("10.0.0.2"))

    response = attempt_login(client, "siti@example.com", TEST_PASSWORD, **from_address("10.0.0.3"))

    assert response.status_code == 429
    assert ACCOUNT_LOCKED in text(response)


def test_other_accounts_are_not_locked(client):
    UserFactory(username="siti")
    UserFactory(username="ahmad")
    fail(client, "siti", throttle.MAX_FAILURES_PER_ACCOUNT)
    assert attempt_login(client, "ahmad").status_code == 302


def test_unknown_names_are_locked_just_like_real_ones(client):
    fail(client, "nobody_here", throttle.MAX_FAILURES_PER_ACCOUNT)
    response = attempt_login(client, "NOBODY_HERE", WRONG)
    assert response.status_code == 429
    assert ACCOUNT_LOCKED in text(response)


def test_a_locked_account_does_not_even_check_passwords(client, monkeypatch):
    UserFactory(username="siti")
    checks = []
    real_authenticate = services.authenticate
    monkeypatch.setattr(
        "bellyfed.accounts.views.authenticate",
        lambda user, password: checks.append(password) or real_authenticate(user, password),
    )
    fail(client, "siti", throttle.MAX_FAILURES_PER_ACCOUNT)
    for _ in range(5):
        assert attempt_login(client, "siti", WRONG).status_code == 429
    assert len(checks) == throttle.MAX_FAILURES_PER_ACCOUNT


def test_a_successful_login_clears_the_account_failures(client, redis_client):
    UserFactory(username="siti")
    fail(client, "siti", throttle.MAX_FAILURES_PER_ACCOUNT - 1)
    assert attempt_login(client, "siti").status_code == 302
    log_out(client)

    fail(client, "siti", throttle.MAX_FAILURES_PER_ACCOUNT - 1)
    assert attempt_login(client, "siti").status_code == 302


def test_an_address_is_refused_after_thirty_failures(client, monkeypatch):
    # Thirty real argon2 checks would only slow the test; the throttle is what is under test.
    monkeypatch.setattr(services, "verify_password", lambda password_hash, password: False)
    attacker = from_address("203.0.113.7")
    for n in range(throttle.MAX_FAILURES_PER_ADDRESS):
        fail(client, f"victim_{n // throttle.MAX_FAILURES_PER_ACCOUNT}", 1, **attacker)

    response = attempt_login(client, "someone_new", WRONG, **attacker)

    assert response.status_code == 429
    assert ADDRESS_LOCKED in text(response)
    assert 840 < int(response.headers["Retry-After"]) <= throttle.WINDOW_SECONDS
    assert (
        attempt_login(client, "someone_new", WRONG, **from_address("198.51.100.1")).status_code
        == 200
    )


def test_successful_logins_do_not_count_against_the_address(client, redis_client):
    UserFactory(username="siti")
    fail(client, "nobody", 2)
    attempt_login(client, "siti")
    keys = {key.decode(): int(redis_client.get(key)) for key in redis_client.keys("login:fail:*")}
    assert keys["login:fail:address:127.0.0.1"] == 2
    assert all(key.startswith("login:fail:") for key in keys)
    assert not any("nobody" in key for key in keys), "names are stored hashed"


def test_parallel_guesses_cannot_overshoot_the_limit(app, redis_client):
    def attempt(_: int) -> bool:
        with app.app_context():
            return throttle.take_attempt("user:42", "192.0.2.1") is None

    with ThreadPoolExecutor(max_workers=10) as pool:
        allowed = sum(pool.map(attempt, range(40)))

    assert allowed == throttle.MAX_FAILURES_PER_ACCOUNT


def test_the_hourly_ceiling_stays_far_below_one_hundred():
    windows_per_hour = 3600 / throttle.WINDOW_SECONDS
    assert throttle.MAX_FAILURES_PER_ACCOUNT * windows_per_hour <= 100


def test_login_still_works_when_redis_is_down(app, client, monkeypatch, caplog):
    # Nothing listens on the port; get_redis() builds its client afresh, as in production.
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setitem(app.extensions, "redis", None)
    UserFactory(username="siti")

    with caplog.at_level(logging.WARNING, logger="bellyfed.accounts.throttle"):
        failed = attempt_login(client, "siti", WRONG)
        response = attempt_login(client, "siti")

    assert failed.status_code == 200
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert "Login throttling is off: Redis is unavailable" in caplog.text


def test_refusals_speak_in_whole_minutes():
    assert throttle.Refusal("account", 61).message.endswith("Try again in 2 minutes.")
    assert throttle.Refusal("address", 5).message.endswith("Try again in 1 minute.")
