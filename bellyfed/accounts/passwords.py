"""Password hashing with argon2id, and the check that refuses common (breached) passwords.

Hashing parameters are RFC 9106's "low-memory" profile (argon2-cffi's default), pinned here so a
library upgrade can never lower them silently: 64 MiB, 3 passes, 4 lanes, above OWASP's minimum
for argon2id (19 MiB, 2 passes, 1 lane). A hash made with other parameters is upgraded at the next
successful log-in (``needs_rehash``; see ``services.authenticate``).

A pepper (ASVS 2.4.5): before argon2 sees it, the password goes through HMAC-SHA256 keyed with
``PASSWORD_PEPPER``, a secret kept in the environment, never in the database. Stored hashes say
which pepper made them, by an id that is a short digest of the pepper (never the pepper), so a
pepper can be rotated: the new one in ``PASSWORD_PEPPER``, the old ones in
``PASSWORD_PEPPERS_RETIRED`` until ``flask users key-report`` counts no hash under them. The
stored forms:

- ``pepper:<id>:<PHC string>``: argon2id over HMAC-SHA256(pepper, password). Every new hash.
- ``pepperwrap:<id>:$<variant>$v=<version>$m=<KiB>,t=<passes>,p=<lanes>,l=<length>$<salt>$<mac>``:
  a hash from before peppers, peppered without its password by ``flask users pepper-hashes``.
  The fields are the old PHC string's, ``l`` its digest's length in bytes, and ``<mac>`` (in
  place of the digest) is HMAC-SHA256(pepper, raw argon2 digest), base64 without padding like
  the salt. To verify, argon2 runs over the password with those parameters and salt, and the
  HMAC of its raw digest is compared in constant time. The next log-in replaces it with a
  ``pepper:`` hash (``needs_rehash``).
- A bare PHC string: a hash from before peppers, not yet wrapped. It still verifies with the
  password alone and is peppered at the next log-in.

So a stolen copy of the users table alone is worth nothing offline, however weak a password,
only once ``flask users pepper-hashes`` has run after the deploy that brought the pepper: until
then, an account that has not logged in since keeps a bare hash that can be cracked as before.
After it, ``key-report`` counts no bare hash, and hashes made with another pepper (or a forged
id) verify nothing.

Common passwords come from a shipped list (``data/common-passwords.txt.gz``, see its README):
nothing is sent anywhere to check a password.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from contextlib import suppress
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import (
    HashingError,
    InvalidHashError,
    VerificationError,
    VerifyMismatchError,
)
from argon2.low_level import hash_secret, hash_secret_raw
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
WRAP_TAG = "pepperwrap"
_VARIANTS = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
_B64 = r"[A-Za-z0-9+/]+"
# A PHC string as argon2 writes it (no "v=" before version 19 of the algorithm: 16).
_BARE = re.compile(
    rf"\$(argon2id|argon2i|argon2d)\$(?:v=(16|19)\$)?m=(\d+),t=(\d+),p=(\d+)\$({_B64})\$({_B64})"
)
_WRAPPED = re.compile(
    rf"\$(argon2id|argon2i|argon2d)\$v=(16|19)\$m=(\d+),t=(\d+),p=(\d+),l=(\d+)\$({_B64})\$({_B64})"
)


def pepper_id(pepper: str) -> str:
    """What a stored hash names its pepper by: 32 bits of a digest, nothing to guess it from."""
    return hashlib.sha256(b"bellyfed password pepper\0" + pepper.encode()).hexdigest()[:8]


def current_pepper_id() -> str:
    """The id new hashes are made under (``PASSWORD_PEPPER``'s)."""
    return pepper_id(current_app.config["PASSWORD_PEPPER"])


def _peppers() -> tuple[str, dict[str, str]]:
    """The current pepper's id, and every pepper a stored hash may name (current and retired)."""
    current = current_app.config["PASSWORD_PEPPER"]
    retired = current_app.config.get("PASSWORD_PEPPERS_RETIRED", ())
    return pepper_id(current), {pepper_id(p): p for p in (*retired, current)}


def _peppered(password: str, pepper: str) -> bytes:
    return hmac.new(pepper.encode(), password.encode(), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")  # PHC: standard alphabet, no padding


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


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


def wrap_bare_hash(phc: str) -> str | None:
    """A hash from before peppers, peppered with the current pepper without its password (the
    ``pepperwrap:`` form above); None when ``phc`` is not an argon2 PHC string."""
    parsed = _BARE.fullmatch(phc)
    if parsed is None:
        return None
    variant, version, memory, passes, lanes, salt, digest = parsed.groups()
    try:
        _b64decode(salt)
        raw = _b64decode(digest)
    except binascii.Error:
        return None
    current, peppers = _peppers()
    mac = hmac.new(peppers[current].encode(), raw, hashlib.sha256).digest()
    params = f"m={memory},t={passes},p={lanes},l={len(raw)}"
    return f"{WRAP_TAG}:{current}:${variant}$v={version or 16}${params}${salt}${_b64encode(mac)}"


def phc_string(password_hash: str) -> str:
    """The argon2 PHC string inside a stored hash (its parameters, salt and digest)."""
    return _split(password_hash)[2]


def _split(password_hash: str) -> tuple[str | None, str | None, str]:
    """(tag, pepper id, the rest); (None, None, the whole value) for a bare PHC string, and for
    a malformed value too, which argon2 then refuses: a mismatch, never an exception."""
    tag, _, rest = password_hash.partition(":")
    key, colon, body = rest.partition(":")
    if tag in (PEPPER_TAG, WRAP_TAG) and key and colon:
        return tag, key, body
    return None, None, password_hash


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed hash is a mismatch, not an error. Every
    mismatch costs one argon2 run, so a bad or unknown hash takes no less time than a wrong
    password."""
    tag, key, body = _split(password_hash)
    secret: str | bytes = password
    if tag is not None:
        pepper = _peppers()[1].get(key)
        if pepper is None:
            log.error("A password hash names pepper %s, which is not configured", key)
            _spend_argon2(password)
            return False
        if tag == WRAP_TAG:
            return _verify_wrapped(body, password, pepper)
        secret = _peppered(password, pepper)
    try:
        return _hasher.verify(body, secret)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):  # argon2 could not read it: nothing ran
        _spend_argon2(password)
        return False


def _verify_wrapped(body: str, password: str, pepper: str) -> bool:
    parsed = _WRAPPED.fullmatch(body)
    if parsed is None:
        _spend_argon2(password)
        return False
    variant, version, memory, passes, lanes, length, salt, mac = parsed.groups()
    try:
        raw = hash_secret_raw(
            password.encode(), _b64decode(salt), time_cost=int(passes), memory_cost=int(memory),
            parallelism=int(lanes), hash_len=int(length), type=_VARIANTS[variant],
            version=int(version),
        )  # fmt: skip
        stored = _b64decode(mac)
    except (HashingError, binascii.Error):
        _spend_argon2(password)
        return False
    return hmac.compare_digest(hmac.new(pepper.encode(), raw, hashlib.sha256).digest(), stored)


@cache
def _dummy_phc() -> str:
    return _hasher.hash(secrets.token_bytes(32))


def _spend_argon2(password: str) -> None:
    """One argon2 verification with the current parameters, its result thrown away."""
    with suppress(VerificationError):
        _hasher.verify(_dummy_phc(), password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with another pepper (or none, or wrapped: see above) or with
    other parameters."""
    tag, key, body = _split(password_hash)
    if tag != PEPPER_TAG or key != _peppers()[0]:
        return True
    try:
        return _hasher.check_needs_rehash(body)
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
