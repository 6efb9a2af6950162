"""Login throttling in Redis: failed attempts counted per account and per client address.

Keys (fixed 15-minute windows, the TTL set by the first failure of a window):
    ``login:fail:account:user:<user id>``  an existing account, whichever name it was typed as
    ``login:fail:account:name:<sha256>``   an unknown username/email (normalized, never stored raw)
    ``login:fail:account:code:<user id>``  wrong two-step codes of an account (``code_subject``)
    ``login:fail:address:<ip>``            the client address

An attempt takes a slot in both counters *before* the password is checked, atomically, so a burst
of parallel guesses cannot overshoot the limit; a successful login gives the slots back (the
account counter is cleared). At most 5 failures per account per window: 20 an hour, far below the
100-an-hour ceiling. Redis being down degrades the feature, never a password log-in: we log and
allow (argon2 keeps guessing slow); two-step codes, cheap to guess, are refused instead.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

import redis

from bellyfed.redis_client import get_redis

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 30

# KEYS: address, account; ARGV: window, address limit, account limit.
# Returns {0, 0} when a slot was taken, else {1 for address | 2 for account, ms left in window}.
_TAKE_SLOT = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    return {i, redis.call('PTTL', key)}
  end
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return {0, 0}
"""

# KEYS: address, account. The address keeps counting only failures; DECR keeps its TTL.
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return redis.call('DEL', KEYS[2])
"""

# KEYS: address, account. A right password half-way through a log-in (a code still to come):
# its slot goes back to both counters, but the account's earlier failures stay counted.
_GIVE_BACK_SLOT = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt was refused, and for how long."""

    scope: str  # "account", "address", or "unavailable" (Redis down, for a fail-closed check)
    retry_after: int  # seconds

    @property
    def message(self) -> str:
        """What to tell the person at the keyboard."""
        minutes = max(1, math.ceil(self.retry_after / 60))
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        if self.scope == "unavailable":
            return "Checking codes is briefly unavailable. Try again in a minute."
        if self.scope == "account":
            return f"Too many failed attempts for this account. Try again in {wait}."
        return f"Too many failed attempts from your network. Try again in {wait}."


def account_subject(user_id: int | None, identifier: str) -> str:
    """The account counter's name: the user's id when known, else the normalized name typed."""
    if user_id is not None:
        return f"user:{user_id}"
    normalized = identifier.strip().lower().encode()
    return f"name:{hashlib.sha256(normalized).hexdigest()}"


def code_subject(user_id: int) -> str:
    """The counter of an account's wrong two-step codes: apart from its password failures, so a
    right password (on the log-in or an account page) never clears it; only a right code does."""
    return f"code:{user_id}"


def _keys(account: str, address: str | None) -> list[str]:
    return [f"login:fail:address:{address or 'unknown'}", f"login:fail:account:{account}"]


def take_attempt(account: str, address: str | None, *, fail_closed: bool = False) -> Refusal | None:
    """Count one attempt against both limits; a Refusal when either is already used up.

    Redis down: a password check goes ahead (argon2 makes guessing slow anyway); a check with
    ``fail_closed`` (a 6-digit code, cheap to guess) is refused until Redis is back.
    """
    try:
        script = get_redis().register_script(_TAKE_SLOT)
        limits = [WINDOW_SECONDS, MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_ACCOUNT]
        refused_by, ms_left = script(keys=_keys(account, address), args=limits)
    except redis.RedisError as exc:
        if fail_closed:
            log.warning("Refusing a code check: Redis is unavailable for throttling (%s)", exc)
            return Refusal(scope="unavailable", retry_after=60)
        log.warning("Login throttling is off: Redis is unavailable (%s)", exc)
        return None
    if refused_by == 0:
        return None
    scope = "address" if refused_by == 1 else "account"
    return Refusal(scope=scope, retry_after=max(1, math.ceil(int(ms_left) / 1000)))


def attempt_succeeded(account: str, address: str | None) -> None:
    """Clear the account's failures and give the address its slot back."""
    try:
        get_redis().register_script(_GIVE_BACK)(keys=_keys(account, address))
    except redis.RedisError as exc:
        log.warning("Could not clear login failures: Redis is unavailable (%s)", exc)


def attempt_passed(account: str, address: str | None) -> None:
    """A right password with a second step to come: give this attempt's slots back, but keep
    the account's failures, which are cleared when the code is right (``attempt_succeeded``)."""
    try:
        get_redis().register_script(_GIVE_BACK_SLOT)(keys=_keys(account, address))
    except redis.RedisError as exc:
        log.warning("Could not give a login slot back: Redis is unavailable (%s)", exc)


def forget_failures(account: str) -> None:
    """Clear an account counter without giving any address slot back (a log-in finished by its
    second step: the password's failures go too)."""
    try:
        get_redis().delete(f"login:fail:account:{account}")
    except redis.RedisError as exc:
        log.warning("Could not clear login failures: Redis is unavailable (%s)", exc)
