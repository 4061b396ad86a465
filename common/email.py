"""Branded Surge emails: one layout, a plain-text and an HTML part, links on PUBLIC_BASE_URL.

Any email a user gets goes through `send_branded_email`: a template pair `<name>.txt` and
`<name>.html` extending `emails/base.txt` and `emails/base.html` (blocks: `heading`, `content`,
`footer`; a button from `action_url` and `action_label` in the context).
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from common.links import public_url


def send_branded_email(*, to: str | list[str], subject: str, template: str,
                       context: dict | None = None) -> int:
    """Send `template` ("emails/job_finished") to `to` with both parts; returns 1 when sent.

    The context gets `site_url` (PUBLIC_BASE_URL) and `subject`; links in it must already be
    absolute (build them with common.links.public_url, never from a request's Host header).
    """
    context = {"site_url": public_url("/"), "subject": subject, **(context or {})}
    message = EmailMultiAlternatives(
        subject=f"Surge: {subject}", body=render_to_string(f"{template}.txt", context).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL, to=[to] if isinstance(to, str) else list(to))
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message.send()
