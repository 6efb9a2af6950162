"""Two-step sign-in (ASVS 2.8, 4.3.1): an authenticator app's codes (TOTP, RFC 6238) after the
password, with one-use recovery codes for a lost phone. Any diner may turn it on; operators must,
and /admin opens only to a session that gave a code (``admin.views.admin_required``).

- The app's secret is 160 random bits (RFC 4226's recommendation), always encrypted (Fernet, a
  key derived from ``TOTP_ENCRYPTION_KEY``, kept outside the database: ASVS 2.8.2): in the
  session, bound to its account, until the first code confirms it; then in PostgreSQL. Retired
  keys in ``TOTP_ENCRYPTION_KEYS_RETIRED`` still decrypt, and a secret is re-encrypted under the
  current key the next time it is used.
- A code is good for its 30-second step and one step either side (clock drift), and only once:
  the newest accepted step is stored, and a code must be for a later step, checked and moved in
  one UPDATE so two requests racing with the same code cannot both pass (ASVS 2.8.4). A used
  code offered again is logged; at log-in its account's owner is emailed (ASVS 2.8.5).
- Ten recovery codes of 16 characters (about 79 bits each), shown once; only their SHA-256 is
  stored, and each works once. Making new ones voids the old.
- Wrong codes are throttled apart from passwords (``two_factor_views``): per account and
  address in Redis (refused, not allowed, while Redis is down), and five per half-way log-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from datetime import UTC, datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, select, update

from bellyfed.accounts.models import RecoveryCode, TwoFactor, User
from bellyfed.extensions import db

log = logging.getLogger(__name__)

ISSUER = "Bellyfed"
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # a code of the step before or after this one is accepted too
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper, typed
RECOVERY_LENGTH = 16
LOGIN_PENDING_SECONDS = 5 * 60  # from the right password to the code


def new_secret() -> str:
    """A fresh base32 secret for an authenticator app (160 bits)."""
    return pyotp.random_base32(length=32)


def grouped(secret: str) -> str:
    """The secret as people type it from the screen: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, user: User) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    return totp.provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_code(uri: str) -> Markup:
    """The address as an inline SVG QR code (no script, no style attribute: CSP-clean)."""
    svg = segno.make(uri, error="m").svg_inline(  # quiet zone included, dark on white
        scale=5,
        dark="#1f2328",
        light="#ffffff",
        svgclass="qr-code",
        lineclass=None,
        omitsize=True,  # a viewBox: the stylesheet sizes it
        title="QR code to scan with your authenticator app",  # what a screen reader says
    )
    return Markup(svg)  # noqa: S704 - segno's own markup; the address is inside a path, not text


def fernets() -> list[Fernet]:
    """The current key first, then the retired ones."""
    config = current_app.config
    keys = (config["TOTP_ENCRYPTION_KEY"], *config.get("TOTP_ENCRYPTION_KEYS_RETIRED", ()))
    return [Fernet(_derived(key)) for key in keys]


def _derived(key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"bellyfed totp secrets")
    return base64.urlsafe_b64encode(hkdf.derive(key.encode()))


def encrypt(secret: str) -> str:
    """The secret as stored, under the current key."""
    return fernets()[0].encrypt(secret.encode()).decode()


def decrypt(token: str) -> str | None:
    """A secret ``encrypt`` made (with the current or a retired key), or None."""
    try:
        return MultiFernet(fernets()).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def _decrypt(record: TwoFactor) -> str | None:
    """The app's secret; re-encrypted under the current key when a retired key made it."""
    current, *retired = fernets()
    token = record.secret.encode()
    try:
        return current.decrypt(token).decode()
    except InvalidToken:
        pass
    try:
        secret = MultiFernet(retired).decrypt(token).decode() if retired else None
    except InvalidToken:
        secret = None
    if secret is None:
        current_app.logger.error(
            "The two-step secret of user %s does not decrypt with TOTP_ENCRYPTION_KEY or a "
            "retired key", record.user_id,
        )  # fmt: skip
        return None
    record.secret = encrypt(secret)
    return secret


def code_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step (within the drift allowed) whose code this is, or None."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    match = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            match = step  # no early exit: the same work whichever step matches
    return match


def is_enabled(user: User) -> bool:
    """Whether the account has two-step sign-in on."""
    return db.session.get(TwoFactor, user.id) is not None


def _digits(code: str) -> str:
    return "".join(code.split()).replace("-", "")


def _is_app_code(code: str) -> bool:
    """Six ASCII digits (``str.isdigit`` alone would take other scripts' digits)."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def check_app_code(user: User, code: str) -> str:
    """ "ok" for a code from the account's app for a step later than any accepted before (then
    used up); "reused" for the right code of a step already used (logged: ASVS 2.8.5); "wrong"."""
    code = _digits(code)
    record = db.session.get(TwoFactor, user.id)
    if record is None or not _is_app_code(code):
        return "wrong"
    secret = _decrypt(record)
    step = None if secret is None else code_step(secret, code)
    if step is None:
        return "wrong"
    used = db.session.execute(
        update(TwoFactor)
        .where(TwoFactor.user_id == user.id, TwoFactor.last_step < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount == 1:
        return "ok"
    log.warning("A used two-step code was offered again for user %s (step %s)", user.id, step)
    return "reused"


def check_setup_code(secret: str, code: str) -> int | None:
    """The step a code shown by a not yet confirmed app is for (None: wrong code)."""
    code = _digits(code)
    if not _is_app_code(code):
        return None
    return code_step(secret, code)


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_digits(code).lower().encode()).hexdigest()


def check_recovery_code(user: User, code: str) -> bool:
    """An unused recovery code of the account (then used up)."""
    if len(_digits(code)) != RECOVERY_LENGTH:
        return False
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return used.rowcount == 1


def check_code(user: User, code: str) -> str:
    """ "app" or "recovery" for a good code of either kind (then used up), "reused" for a code of
    the app used already, else "wrong"."""
    verdict = check_app_code(user, code)
    if verdict == "ok":
        return "app"
    if verdict == "wrong" and check_recovery_code(user, code):
        return "recovery"
    return verdict


def enable(user: User, secret: str, step: int) -> list[str]:
    """Store the confirmed app (its confirming code used up) and return new recovery codes."""
    db.session.add(TwoFactor(user_id=user.id, secret=encrypt(secret), last_step=step))
    return replace_recovery_codes(user)


def disable(user: User) -> None:
    """Turn two-step sign-in off: the app and every recovery code are forgotten."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))


def replace_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes, ``xxxx-xxxx-xxxx-xxxx``; the old ones stop working."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(c)) for c in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    """How many of the account's recovery codes are unused."""
    query = select(func.count()).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
    )
    return db.session.scalar(query) or 0
