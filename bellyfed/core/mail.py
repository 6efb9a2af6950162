"""Outgoing email: a ``Message`` and ``send``, through the backend named by ``MAIL_BACKEND``.

Backends: "console" logs the whole message at INFO (local development: the link shows in the
terminal), "smtp" sends through ``MAIL_HOST`` (production), "memory" keeps messages in
``app.extensions["outbox"]`` (tests). With ``MAIL_VIA_WORKER`` on, ``send`` only enqueues the
``worker.tasks.send_email`` task, so a slow or unreachable mail server never holds a request (and
the time a request takes does not tell whether an email went out).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import current_app
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

SEND_TASK = "worker.tasks.send_email"  # by name: the web process need not import the worker
SMTP_TIMEOUT_SECONDS = 10  # per socket operation: connecting, each command, the data


class MailError(RuntimeError):
    """A message could not be delivered (or handed to the worker); retrying will not help."""


class MailUnavailable(MailError, ConnectionError):
    """The mail server or the queue could not be reached, or said "later": worth a retry."""


@dataclass(frozen=True)
class Message:
    """One plain-text email to one address."""

    to: str
    subject: str
    body: str


def send(message: Message) -> None:
    """Send ``message``: enqueue it for the worker, or deliver it now (``MAIL_VIA_WORKER``)."""
    if not current_app.config["MAIL_VIA_WORKER"]:
        deliver(message)
        return
    try:
        current_app.extensions["celery"].send_task(SEND_TASK, args=[asdict(message)])
    except OperationalError as exc:
        raise MailUnavailable(f"Could not queue the email to the worker: {exc}") from exc


def deliver(message: Message) -> None:
    """Deliver ``message`` now, through the configured backend."""
    name = current_app.config["MAIL_BACKEND"]
    backend = BACKENDS.get(name)
    if backend is None:
        raise MailError(f"MAIL_BACKEND must be one of {', '.join(BACKENDS)}, got {name!r}")
    backend(message, current_app.config)


def _console(message: Message, config: Mapping[str, Any]) -> None:
    log.info(
        "Email (MAIL_BACKEND=console, not sent)\nFrom: %s\nTo: %s\nSubject: %s\n\n%s",
        config["MAIL_FROM"], message.to, message.subject, message.body,
    )  # fmt: skip


def _memory(message: Message, config: Mapping[str, Any]) -> None:
    current_app.extensions.setdefault("outbox", []).append(message)


def email_message(message: Message, sender: str) -> EmailMessage:
    """The MIME message for ``message``, with the headers mail servers expect."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    email["Message-ID"] = make_msgid(domain=domain)
    email.set_content(message.body)
    return email


def _smtp(message: Message, config: Mapping[str, Any]) -> None:
    host, port = config["MAIL_HOST"], config["MAIL_PORT"]
    where = f"the mail server {host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS) as server:
            if config["MAIL_STARTTLS"]:
                server.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                server.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            server.send_message(email_message(message, config["MAIL_FROM"]))
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error
        reply = (
            f"{exc.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
        )
        if 400 <= exc.smtp_code < 500:  # a temporary refusal: greylisting, a full queue, ...
            raise MailUnavailable(f"{where} asked us to try later: {reply}") from exc
        raise MailError(f"{where} refused the email: {reply}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise MailUnavailable(f"{where} asked us to try {message.to!r} later: {exc}") from exc
        raise MailError(f"{where} refused the recipient {message.to!r}: {exc}") from exc
    except smtplib.SMTPNotSupportedError as exc:  # no STARTTLS: we never send in the clear
        raise MailError(f"{where} lacks what the MAIL_ settings ask for: {exc}") from exc
    except smtplib.SMTPServerDisconnected as exc:  # it hung up mid-conversation
        raise MailUnavailable(f"{where} closed the connection: {exc}") from exc
    except smtplib.SMTPException as exc:  # anything else it answered, e.g. no AUTH method we know
        raise MailError(f"{where} answered with an error: {exc}") from exc
    except ssl.SSLError as exc:
        raise MailError(f"TLS with {where} failed: {exc}") from exc
    except OSError as exc:  # refused, unreachable, timed out, disconnected
        raise MailUnavailable(f"Could not reach {where}: {exc}") from exc
    except ValueError as exc:  # a message smtplib cannot encode (UnicodeError) or send
        raise MailError(f"Could not send the email through {where}: {exc}") from exc


BACKENDS: dict[str, Callable[[Message, Mapping[str, Any]], None]] = {
    "console": _console,
    "smtp": _smtp,
    "memory": _memory,
}
