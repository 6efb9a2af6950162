"""Outgoing email: each backend for real (a local SMTP server in a thread), and the worker path."""

from __future__ import annotations

import base64
import json
import logging
import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy

import pytest
from kombu.exceptions import OperationalError

from bellyfed.core import mail
from tests.conftest import free_port
from worker import tasks

MESSAGE = mail.Message(to="siti@example.com", subject="Hello", body="Nasi lemak at the café?\n")


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())

    def handle(self) -> None:
        server: SMTPServer = self.server
        self.reply("220 localhost test SMTP")
        while line := self.rfile.readline():
            verb, _, rest = line.decode().rstrip("\r\n").partition(" ")
            verb = verb.upper()  # smtplib sends "mail FROM:<...>"
            server.commands.append(f"{verb} {rest}".rstrip())
            if verb in server.replies:
                if server.replies[verb] is None:  # hang up instead of answering
                    return
                self.reply(server.replies[verb])
            elif verb == "EHLO":
                self.reply("250-localhost", "250-AUTH PLAIN", "250 8BITMIME")
            elif verb == "AUTH":
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                server.messages.append(self.read_data())
                self.reply("250 2.0.0 Queued")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                self.reply("250 2.0.0 OK")
            else:
                self.reply("502 5.5.2 Command not recognized")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b".") else line)  # undo dot-stuffing
        return b"".join(lines)


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.commands: list[str] = []
        self.messages: list[bytes] = []
        # verb -> a reply that overrides the usual one (lines joined by CRLF), None: hang up
        self.replies: dict[str, str | None] = {}


@pytest.fixture
def smtp_server(app, monkeypatch) -> Iterator[SMTPServer]:
    """A local SMTP server, and the app configured to send through it (no TLS, with a login)."""
    server = SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for name, value in (("MAIL_BACKEND", "smtp"), ("MAIL_HOST", "127.0.0.1"),
                        ("MAIL_PORT", server.server_address[1]), ("MAIL_STARTTLS", False),
                        ("MAIL_USERNAME", "bellyfed"), ("MAIL_PASSWORD", "s3cret")):  # fmt: skip
        monkeypatch.setitem(app.config, name, value)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def outbox(app, monkeypatch) -> list[mail.Message]:
    """The memory backend's outbox, empty for this test."""
    monkeypatch.setitem(app.extensions, "outbox", [])
    return app.extensions["outbox"]


def test_the_memory_backend_keeps_messages_in_the_outbox(app, outbox):
    with app.app_context():
        mail.send(MESSAGE)
    assert outbox == [MESSAGE]


def test_the_console_backend_logs_the_whole_message(app, outbox, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "console")
    with app.app_context(), caplog.at_level(logging.INFO, logger="bellyfed.core.mail"):
        mail.send(MESSAGE)
    [record] = [r for r in caplog.records if r.name == "bellyfed.core.mail"]
    assert record.levelno == logging.INFO
    logged = record.getMessage()
    assert "To: siti@example.com" in logged
    assert "Subject: Hello" in logged
    assert "Nasi lemak at the café?" in logged
    assert outbox == []


def test_an_unknown_backend_is_a_clear_error(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "carrier-pigeon")
    with app.app_context(), pytest.raises(mail.MailError, match="MAIL_BACKEND must be one of"):
        mail.send(MESSAGE)


def test_smtp_logs_in_and_sends_a_well_formed_message(app, smtp_server):
    with app.app_context():
        mail.send(MESSAGE)
    credentials = base64.b64encode(b"\0bellyfed\0s3cret").decode()
    assert f"AUTH PLAIN {credentials}" in smtp_server.commands
    assert any(c.startswith("MAIL FROM:<no-reply@bellyfed.example>") for c in smtp_server.commands)
    assert any(c.startswith("RCPT TO:<siti@example.com>") for c in smtp_server.commands)
    [raw] = smtp_server.messages
    sent = message_from_bytes(raw, policy=policy.default)
    assert sent["From"] == "Bellyfed <no-reply@bellyfed.example>"
    assert sent["To"] == "siti@example.com"
    assert sent["Subject"] == "Hello"
    assert sent["Date"]
    assert sent["Message-ID"].endswith("@bellyfed.example>")
    assert sent.get_content().replace("\r\n", "\n") == "Nasi lemak at the café?\n"


def test_smtp_never_sends_in_the_clear_when_starttls_is_asked_for(app, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_STARTTLS", True)  # the test server offers no STARTTLS
    with app.app_context(), pytest.raises(mail.MailError, match="STARTTLS") as raised:
        mail.send(MESSAGE)
    assert not isinstance(raised.value, mail.MailUnavailable)  # a retry would not help
    assert smtp_server.messages == []
    assert not any(c.startswith("AUTH") for c in smtp_server.commands)


def test_a_refused_connection_is_a_clear_error_worth_retrying(app, smtp_server, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    with app.app_context(), pytest.raises(mail.MailUnavailable) as raised:
        mail.send(MESSAGE)
    assert f"Could not reach the mail server 127.0.0.1:{port}" in str(raised.value)
    assert isinstance(raised.value, tasks.TRANSIENT)  # the task's autoretry covers it


@pytest.mark.parametrize(
    ("verb", "reply", "retried"),
    [
        ("RCPT", "550 5.1.1 No such user", False),
        ("RCPT", "450 4.2.0 Greylisted, try later", True),
        ("DATA", "451 4.3.0 Queue full", True),
        ("AUTH", "535 5.7.8 Bad credentials", False),
    ],
)
def test_smtp_refusals_say_whether_a_retry_can_help(app, smtp_server, verb, reply, retried):
    smtp_server.replies[verb] = reply
    with app.app_context(), pytest.raises(mail.MailError, match=reply.split()[0]) as raised:
        mail.send(MESSAGE)
    assert isinstance(raised.value, mail.MailUnavailable) is retried
    assert isinstance(raised.value, tasks.TRANSIENT) is retried
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("verb", "reply", "error", "retried"),
    [
        # It offers logging in, but by no method smtplib knows: a setting to fix, not a retry.
        ("EHLO", "250-localhost\r\n250 AUTH X-UNHEARD-OF", "answered with an error", False),
        ("MAIL", None, "closed the connection", True),  # hung up in the middle
        ("DATA", None, "closed the connection", True),
    ],
)
def test_other_smtp_errors_are_mapped_too(app, smtp_server, verb, reply, error, retried):
    smtp_server.replies[verb] = reply
    with app.app_context(), pytest.raises(mail.MailError, match=error) as raised:
        mail.send(MESSAGE)
    assert isinstance(raised.value, mail.MailUnavailable) is retried
    assert isinstance(raised.value, tasks.TRANSIENT) is retried
    assert smtp_server.messages == []


def test_a_message_smtplib_cannot_send_is_a_mail_error_not_a_crash(app, smtp_server):
    injected = mail.Message(
        to="siti@example.com\r\nBcc: everyone@example.com", subject="Hi", body=""
    )
    with app.app_context(), pytest.raises(mail.MailError, match="Could not send") as raised:
        mail.send(injected)
    assert not isinstance(raised.value, mail.MailUnavailable)
    assert smtp_server.messages == []


def queued(redis_client) -> list[tuple[str, list]]:
    """The tasks waiting in the Celery broker's default queue (Redis): (name, args)."""
    found = []
    for raw in redis_client.lrange("celery", 0, -1):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        found.append((envelope["headers"]["task"], args))
    return found


def test_with_the_worker_on_send_only_enqueues_and_the_task_delivers(
    app, outbox, redis_client, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_VIA_WORKER", True)
    with app.app_context():
        mail.send(MESSAGE)
    assert outbox == []  # nothing delivered in the request
    [(name, args)] = queued(redis_client)
    assert name == "worker.tasks.send_email"
    # What a worker does with the message: run the registered task, in an app context.
    result = app.extensions["celery"].tasks[name].apply(args=args)
    assert result.successful(), result.traceback
    assert outbox == [MESSAGE]


def test_the_email_task_retries_only_what_may_pass(app):
    task = app.extensions["celery"].tasks["worker.tasks.send_email"]
    assert task.max_retries == tasks.RETRY["max_retries"]
    assert issubclass(mail.MailUnavailable, task.autoretry_for)
    assert not issubclass(mail.MailError, task.autoretry_for)


def test_a_broker_outage_is_a_clear_error(app, monkeypatch):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setitem(app.config, "MAIL_VIA_WORKER", True)
    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    with app.app_context(), pytest.raises(mail.MailUnavailable, match="Could not queue"):
        mail.send(MESSAGE)
