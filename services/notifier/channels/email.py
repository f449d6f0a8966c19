"""E-mail over SMTP (host, port, STARTTLS/SSL and login from settings)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from duban.settings import Settings
from notifier.channels import DeliveryResult, OutgoingMessage


class EmailChannel:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        s = self.settings
        if not s.smtp_host:
            return DeliveryResult(ok=False, error="smtp not configured (DUBAN_SMTP_HOST)")
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = s.smtp_from
        mail["To"] = message.target
        mail["Message-ID"] = make_msgid(idstring=message.message_id, domain="duban")
        mail["X-Duban-Message-Id"] = message.message_id
        timestamp = message.payload.get("timestamp")
        if isinstance(timestamp, str):
            from datetime import datetime

            mail["Date"] = format_datetime(datetime.fromisoformat(timestamp))
        mail.set_content(message.text, charset="utf-8")
        timeout = s.notifier_http_timeout_seconds
        try:
            smtp: smtplib.SMTP
            if s.smtp_ssl:
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=timeout)
            with smtp:
                if s.smtp_starttls and not s.smtp_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult(ok=False, error=f"recipient refused: {exc.recipients}", retryable=False)
        except smtplib.SMTPResponseException as exc:
            return DeliveryResult(
                ok=False,
                status_code=exc.smtp_code,
                error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                retryable=exc.smtp_code < 500,
            )
        except (OSError, smtplib.SMTPException) as exc:
            return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if refused:
            return DeliveryResult(ok=False, error=f"refused: {refused}", retryable=False)
        return DeliveryResult(ok=True, status_code=250)
