"""Email through SMTP (TRACKER_MAIL_*), or as .eml files in the instance folder when no SMTP is configured."""
from __future__ import annotations

import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from tracker.notifications.channels import SendResult

log = logging.getLogger(__name__)


# Headers a mail client reads as one machine value: folded at 78 columns, the long signed unsubscribe URL
# would be cut into RFC 2047 encoded words, which no client turns back into a URL. RFC 5322 allows 998.
_WHOLE_LINE_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")


class MailPolicy(EmailPolicy):
    """The default email policy, but List-Unsubscribe is written on one line as plain ``<https://…>``."""

    def fold(self, name: str, value: str) -> str:
        if name.lower() in _WHOLE_LINE_HEADERS:
            return str(super(MailPolicy, self.clone(max_line_length=998)).fold(name, value))
        return str(super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in _WHOLE_LINE_HEADERS:
            return bytes(super(MailPolicy, self.clone(max_line_length=998)).fold_binary(name, value))
        return bytes(super().fold_binary(name, value))


MAIL_POLICY = MailPolicy()


def build_message(*, sender: str, to: str, subject: str, text: str, html: str, message_id: str | None = None,
                  list_id: str | None = None, unsubscribe_url: str | None = None,
                  unsubscribe_mailto: str | None = None) -> EmailMessage:
    """A multipart/alternative message (plain text first, HTML preferred) with the headers bulk mail
    needs: RFC 8058 one-click unsubscribe, Auto-Submitted, a stable List-Id."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject  # non-ASCII (Lao) is RFC 2047-encoded by EmailMessage
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid()
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    if list_id:
        message["List-Id"] = list_id
    if unsubscribe_url:
        targets = [f"<{unsubscribe_url}>"] + ([f"<{unsubscribe_mailto}>"] if unsubscribe_mailto else [])
        message["List-Unsubscribe"] = ", ".join(targets)
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class Mailer:
    """Sends messages over one SMTP connection kept open for a batch (or writes .eml files)."""

    def __init__(self, config: Any, instance_path: str) -> None:
        # Settings are read at each connection, so a changed configuration applies to the next batch.
        self.config = config
        self.instance_path = instance_path
        self._smtp: smtplib.SMTP | None = None

    @property
    def host(self) -> str | None:
        return self.config.get("MAIL_HOST") or None

    @property
    def port(self) -> int:
        return int(self.config.get("MAIL_PORT") or 587)

    @property
    def tls(self) -> str:
        return str(self.config.get("MAIL_TLS") or "starttls").lower()

    @property
    def outbox(self) -> Path:
        return Path(self.config.get("MAIL_OUTBOX_PATH") or Path(self.instance_path) / "outbox-mail")

    @property
    def writes_files(self) -> bool:
        return not self.host

    def describe(self) -> str:
        if self.writes_files:
            return (f"no SMTP server configured (TRACKER_MAIL_HOST): emails are written as .eml files "
                    f"to {self.outbox}")
        return f"emails are sent through {self.host}:{self.port} ({self.tls})"

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        timeout = float(self.config.get("MAIL_TIMEOUT") or 30)
        host = self.host
        assert host is not None  # send() writes files instead when no host is set
        if self.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, self.port, timeout=timeout,
                                                 context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, self.port, timeout=timeout)
            if self.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if self.config.get("MAIL_USER"):
            smtp.login(self.config["MAIL_USER"], self.config.get("MAIL_PASSWORD") or "")
        self._smtp = smtp
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None

    def send(self, message: EmailMessage, name: str) -> SendResult:
        """Hand one message over; 5xx answers fail it, anything else is retried later."""
        started = time.monotonic()

        def result(outcome: str, code: int | None = None, error: str | None = None) -> SendResult:
            return SendResult(outcome, code, error[:500] if error else None, None,
                              int((time.monotonic() - started) * 1000))

        if self.writes_files:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{name}.eml"
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(bytes(message))
            temporary.replace(path)
            return result("delivered")
        try:
            smtp = self._connect()
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            code = next(iter(error.recipients.values()))[0] if error.recipients else None
            return result("failed" if code and code >= 500 else "retry", code, f"Recipient refused: {error}")
        except smtplib.SMTPResponseException as error:
            self.close()
            return result("failed" if error.smtp_code >= 500 else "retry", error.smtp_code,
                          f"SMTP {error.smtp_code}: {error.smtp_error!r}")
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return result("retry", None, f"{error.__class__.__name__}: {error}")
        if refused:
            return result("failed", None, f"Recipient refused: {refused}")
        return result("delivered", 250)
