"""Log lines: JSON in production, readable in development, with context and no secrets."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.test import RequestFactory

from common.logs import ContextFilter, JsonFormatter, PlainFormatter, log_context, redact
from common.request_id import HEADER, RequestIdMiddleware

SIGNATURE = re.compile(r"X-Amz-Signature=[0-9a-f]")


@pytest.fixture
def captured():
    """What the configured console handler would write, one entry per line, for any logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)

    def lines() -> list[str]:
        return stream.getvalue().splitlines()

    lines.use = handler.setFormatter
    handler.setFormatter(JsonFormatter())
    yield lines
    root.removeHandler(handler)


def test_json_lines_carry_time_level_logger_message_and_job_context(captured):
    with log_context(job_id="j-1", provider="replicate", user_id=7):
        logging.getLogger("jobs.test").warning("job %s: poll failed", "j-1", extra={"tries": 3})
    line = json.loads(captured()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "jobs.test"
    assert line["message"] == "job j-1: poll failed" and line["tries"] == 3
    assert (line["job_id"], line["provider"], line["user_id"]) == ("j-1", "replicate", "7")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_json_lines_hold_a_traceback_on_one_line(captured):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("jobs.test").exception("it failed")
    [line] = captured()
    assert "RuntimeError: boom" in json.loads(line)["exc_info"]


def test_plain_lines_stay_readable_with_their_context(captured):
    captured.use(PlainFormatter())
    logging.getLogger("jobs.test").info("outside")
    with log_context(job_id="j-2", provider="local", user_id=None):
        logging.getLogger("jobs.test").info("inside")
    assert captured() == ["INFO jobs.test: outside",
                          "INFO jobs.test: inside [job_id=j-2 provider=local]"]


def test_the_setting_switches_json_on_in_production():
    """SURGE_ENV=production writes JSON lines; development keeps readable ones; LOG_FORMAT
    chooses either way."""
    script = ("import django, logging; django.setup(); "
              "logging.getLogger('surge.check').warning('hello %s', 'there')")

    def last_line(**env) -> str:
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("SECRET_KEY", "SURGE_ENV", "DEBUG", "LOG_FORMAT")}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True,
            timeout=60, env={**environment, **env, "DJANGO_SETTINGS_MODULE": "project.settings"})
        assert result.returncode == 0, result.stderr
        return result.stderr.strip().splitlines()[-1]

    production = {"SURGE_ENV": "production", "SECRET_KEY": "x" * 8 + "Kq3#vLp9!Zr2@Wm5$Ty8^Uh1&",
                  "ALLOWED_HOSTS": "surge.example.com"}
    line = json.loads(last_line(**production))
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "surge.check",
                                                                "hello there")
    assert last_line() == "WARNING surge.check: hello there"
    assert last_line(**production, LOG_FORMAT="plain") == "WARNING surge.check: hello there"
    assert json.loads(last_line(LOG_FORMAT="json"))["message"] == "hello there"


def test_signed_urls_and_secrets_never_reach_a_line(captured):
    url = default_storage.url("videos/u/j.mp4")  # presigned: the bucket is private
    assert SIGNATURE.search(url)
    secret = next(iter(settings.PROVIDERS.values()))["WEBHOOK_SECRET"]
    log = logging.getLogger("jobs.test")
    log.warning("copy of %s failed", url)
    log.warning("headers %s", {"Authorization": "Bearer abcdef0123456789", "X-Other": "ok"})
    log.warning("retrying with token=abc123def456&x=1 and secret %s", secret)
    log.warning("config %r", {"api_key": "sk-live-0123456789", "output_key": "videos/x.mp4"})
    try:
        raise ValueError(f"download refused: {url}")
    except ValueError:
        log.exception("failed")
    captured.use(PlainFormatter())
    log.warning("plain too: %s %s", url, secret)
    text = "\n".join(captured())
    assert not SIGNATURE.search(text) and "X-Amz-Credential" not in text
    for leaked in ("abcdef0123456789", "abc123def456", secret, "sk-live-0123456789"):
        assert leaked not in text
    assert "videos/u/j.mp4?[redacted]" in text  # what was fetched stays visible
    assert "videos/x.mp4" in text and "X-Other" in text
    for line in captured()[:-1]:
        json.loads(line)  # redaction keeps every JSON line valid


@pytest.mark.parametrize("text", [
    "https://h/x?a=1&X-Amz-Signature=0abc", "Authorization: Basic dXNlcjpwYXNz",
    "webhook secret whsec_QUJDREVGR0hJSktM", "token r8_AbCdEf0123456789",
    '{"password": "hunter2hunter2"}', "LOCAL_PROVIDER_API_KEY=topsecretvalue",
])
def test_redaction_patterns(text):
    assert any(part in redact(text) for part in ("[redacted]",))
    for secret in ("0abc", "dXNlcjpwYXNz", "QUJDREVGR0hJSktM", "AbCdEf0123456789",
                   "hunter2hunter2", "topsecretvalue"):
        assert secret not in redact(text)


def test_a_request_gets_an_id_echoed_in_its_response_and_on_its_lines(captured):
    seen = {}

    def view(request):
        logging.getLogger("jobs.test").info("handling")
        seen["id"] = request.request_id
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(view)
    factory = RequestFactory()
    response = middleware(factory.get("/"))
    assert re.fullmatch(r"[0-9a-f]{32}", response[HEADER]) and response[HEADER] == seen["id"]
    assert json.loads(captured()[-1])["request_id"] == seen["id"]

    kept = middleware(factory.get("/", HTTP_X_REQUEST_ID="edge-7f3a9c21.42"))
    assert kept[HEADER] == "edge-7f3a9c21.42"
    for bad in ("x", "a b c d e f g h", "<script>alert(1)</script>", "z" * 200):
        assert middleware(factory.get("/", HTTP_X_REQUEST_ID=bad))[HEADER] != bad
    logging.getLogger("jobs.test").info("after")
    assert "request_id" not in json.loads(captured()[-1])


@pytest.mark.django_db
def test_web_lines_carry_the_request_id_even_for_a_404(client, captured):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-0123456789")
    assert response.status_code == 404 and response[HEADER] == "req-0123456789"
    lines = [json.loads(line) for line in captured()]
    assert any(line["logger"] == "django.request" and line["request_id"] == "req-0123456789"
               for line in lines)
    assert all("request" not in line for line in lines)  # the request object is not dumped
