"""Password hashing with argon2id, and the check that refuses common (breached) passwords.

Hashing parameters are RFC 9106's "low-memory" profile (argon2-cffi's default), pinned here so a
library upgrade can never lower them silently: 64 MiB, 3 passes, 4 lanes, above OWASP's minimum
for argon2id (19 MiB, 2 passes, 1 lane). A hash made with other parameters is upgraded at the next
successful log-in (``needs_rehash``; see ``services.authenticate``).

A pepper (ASVS 2.4.5): before argon2 sees it, the password goes through HMAC-SHA256 keyed with
``PASSWORD_PEPPER``, a secret kept in the environment, never in the database. A stolen copy of
the users table alone is then worth nothing offline, however weak a password. Stored hashes say
which pepper made them (``pepper:<id>:<PHC string>``, the id a short digest of the pepper, never
the pepper), so a pepper can be rotated: the new one in ``PASSWORD_PEPPER``, the old ones in
``PASSWORD_PEPPERS_RETIRED`` until every account has logged in again. Hashes from before peppers
(a bare PHC string) still verify and are peppered at the next log-in, like a parameter change.

Common passwords come from a shipped list (``data/common-passwords.txt.gz``, see its README):
nothing is sent anywhere to check a password.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import hash_secret
from flask import current_app

log = logging.getLogger(__name__)

TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
HASH_LEN = 32
SALT_LEN = 16
# OWASP Password Storage Cheat Sheet, argon2id's minimum configuration.
OWASP_MINIMUM = {"memory_cost_kib": 19 * 1024, "time_cost": 2, "parallelism": 1}

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
COMMON_MESSAGE = (
    "That password is on a list of passwords that attackers try first. "
    "Choose something less common: a short phrase of your own works well."
)
PERSONAL_MESSAGE = "Don't use your username or email as your password."
# What people tack onto a common password to pass a length rule: digits and punctuation.
_SUFFIX = re.compile(r"[\d\W_]+$")
_PREFIX = re.compile(r"^[\d\W_]+")

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LEN,
    salt_len=SALT_LEN,
    type=Type.ID,
)


PEPPER_TAG = "pepper"


def pepper_id(pepper: str) -> str:
    """What a stored hash names its pepper by: 32 bits of a digest, nothing to guess it from."""
    return hashlib.sha256(b"bellyfed password pepper\0" + pepper.encode()).hexdigest()[:8]


def _peppers() -> tuple[str, dict[str, str]]:
    """The current pepper's id, and every pepper a stored hash may name (current and retired)."""
    current = current_app.config["PASSWORD_PEPPER"]
    retired = current_app.config.get("PASSWORD_PEPPERS_RETIRED", ())
    return pepper_id(current), {pepper_id(p): p for p in (*retired, current)}


def _peppered(password: str, pepper: str) -> bytes:
    return hmac.new(pepper.encode(), password.encode(), hashlib.sha256).digest()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """An argon2id hash of the peppered password, tagged with the pepper's id.

    The salt is random unless given (the demo loader derives one, so reruns are identical).
    """
    current, peppers = _peppers()
    secret = _peppered(password, peppers[current])
    if salt is None:
        phc = _hasher.hash(secret)
    else:
        phc = hash_secret(
            secret, salt, time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB,
            parallelism=PARALLELISM, hash_len=HASH_LEN, type=Type.ID,
        ).decode()  # fmt: skip
    return f"{PEPPER_TAG}:{current}:{phc}"


def phc_string(password_hash: str) -> str:
    """The argon2 PHC string inside a stored hash (its parameters, salt and digest)."""
    return _split(password_hash)[1]


def _split(password_hash: str) -> tuple[str | None, str]:
    """(pepper id or None for a hash from before peppers, PHC string)."""
    if password_hash.startswith(PEPPER_TAG + ":"):
        _, key, phc = password_hash.split(":", 2)
        return key, phc
    return None, password_hash


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed hash is a mismatch, not an error."""
    key, phc = _split(password_hash)
    secret: str | bytes = password
    if key is not None:
        _, peppers = _peppers()
        if key not in peppers:
            log.error("A password hash names pepper %s, which is not configured", key)
            return False
        secret = _peppered(password, peppers[key])
    try:
        return _hasher.verify(phc, secret)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with another pepper (or none) or other parameters."""
    key, phc = _split(password_hash)
    try:
        return key != _peppers()[0] or _hasher.check_needs_rehash(phc)
    except InvalidHashError:
        return True


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lowercased (read once per process)."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def _normalized(password: str) -> str:
    return "".join(password.split()).lower()


def _is_repetition(value: str) -> bool:
    """ "aaaaaaaaaaaa", "abcabcabcabc", "passwordpassword": one short unit (or a listed
    password) repeated."""
    for size in range(1, len(value) // 2 + 1):
        unit = value[:size]
        if len(value) % size == 0 and unit * (len(value) // size) == value:
            return size <= 4 or unit in common_passwords()
    return False


def is_common(password: str) -> bool:
    """True for a listed password, also when spaced out, in another case, repeated, or padded
    with digits and punctuation ("Password123!", "!!iloveyou2024")."""
    common = common_passwords()
    value = _normalized(password)
    if not value or value in common or _is_repetition(value):
        return True
    core = _PREFIX.sub("", _SUFFIX.sub("", value))
    return len(core) >= 4 and (core in common or _is_repetition(core))


def is_personal(password: str, personal: Iterable[str | None]) -> bool:
    """True when the password is just one of the user's own names (or that plus digits)."""
    value = _SUFFIX.sub("", _normalized(password)) or _normalized(password)
    for item in personal:
        if not item:
            continue
        names = {_normalized(item)}
        if "@" in item:
            names.add(_normalized(item.split("@", 1)[0]))
        if value in names:
            return True
    return False
