"""Branded emails: a plain-text part and an HTML part, one layout, links on PUBLIC_BASE_URL."""

from __future__ import annotations

import pytest
from django.core import mail

from common.email import send_branded_email
from launcher.embedded import BASE_DIR


@pytest.fixture(autouse=True)
def outbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://surge.example.com"


def send(**context):
    send_branded_email(to="ada@example.com", subject="Your Cyberpunk hero video is ready",
                       template="emails/job_finished",
                       context={"title": "Your Cyberpunk hero video is ready",
                                "body": "Ready to watch & share.", "settings_url": "https://x/s",
                                **context})
    [message] = mail.outbox
    return message, message.alternatives[0]


def test_both_parts_carry_the_brand_the_text_and_the_button():
    message, (html, kind) = send(action_url="https://surge.example.com/app/jobs/1/",
                                 action_label="Watch your video")
    assert message.subject == "Surge: Your Cyberpunk hero video is ready"
    assert message.from_email and message.to == ["ada@example.com"]
    assert kind == "text/html"
    assert message.body.startswith("SURGE")
    assert "Ready to watch & share." in message.body  # plain text is not HTML-escaped
    assert "Watch your video: https://surge.example.com/app/jobs/1/" in message.body
    assert "Ready to watch &amp; share." in html  # HTML is
    assert 'href="https://surge.example.com/app/jobs/1/"' in html
    assert 'href="https://surge.example.com/"' in html  # the logo links home, on the public URL
    (BASE_DIR / "test-artifacts").mkdir(exist_ok=True)
    (BASE_DIR / "test-artifacts" / "email-job-finished.html").write_text(html)


def test_without_an_action_there_is_no_button():
    message, (html, _) = send()
    assert "action" not in message.body and "Or open this link" not in html
