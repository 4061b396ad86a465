"""Each backend maps submit/status/cancel onto its vendor's HTTP contract (real local server)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from providers.backends.fal import FalBackend
from providers.backends.local import LocalBackend
from providers.backends.replicate import ReplicateBackend
from providers.backends.wavespeed import WaveSpeedBackend
from providers.base import ProviderBackend, compose_prompt
from providers.exceptions import PermanentError, ProviderNotConfigured
from providers.tests.support import load_fixture

HOOK = "https://surge.example.com/webhooks/p/"
SUBMIT = {"image_url": "https://media.example.com/s.jpg", "prompt": "a hero in neon rain",
          "style": "cinematic", "webhook_url": HOOK, "reference": "job-1"}


def query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def test_replicate_submit_by_model_name(server):
    server.reply(201, load_fixture("replicate", "prediction_starting"))
    backend = ReplicateBackend("r", {"BASE_URL": server.url, "API_KEY": "tok",
                                     "MODEL": "surge/cyberpunk-hero", "INPUT": {"fps": 16},
                                     "CANCEL_AFTER": "10m"})
    submission = backend.submit(**SUBMIT)
    assert submission.provider_job_id == "ufawqhfynnddngldkgtslldrkq"
    assert submission.event.status in ("queued", "warming")
    request = server.last
    assert (request.method, request.path) == (
        "POST", "/v1/models/surge/cyberpunk-hero/predictions")
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["cancel-after"] == "10m"
    assert request.json() == {
        "input": {"image": SUBMIT["image_url"], "prompt": "a hero in neon rain, cinematic style",
                  "fps": 16},
        "webhook": HOOK, "webhook_events_filter": ["start", "output", "logs", "completed"]}


VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


@pytest.mark.parametrize("model", [VERSION, f"surge/hero:{VERSION}"])
def test_replicate_submit_by_version(server, model):
    server.reply(201, load_fixture("replicate", "prediction_starting"))
    ReplicateBackend("r", {"BASE_URL": server.url, "MODEL": model, "WEBHOOKS": False}).submit(
        **SUBMIT)
    body = server.last.json()
    assert server.last.path == "/v1/predictions"
    assert body["version"] == model[-64:]
    assert "webhook" not in body and "webhook_events_filter" not in body


def test_replicate_status_and_cancel(server):
    backend = ReplicateBackend("r", {"BASE_URL": server.url, "MODEL": "a/b"})
    server.reply(200, load_fixture("replicate", "prediction_processing"))
    assert backend.fetch_status("abc").status == "rendering"
    assert (server.last.method, server.last.path) == ("GET", "/v1/predictions/abc")
    server.reply(200, load_fixture("replicate", "prediction_canceled"))
    assert backend.cancel("abc") is True
    assert (server.last.method, server.last.path) == ("POST", "/v1/predictions/abc/cancel")
    server.reply(200, load_fixture("replicate", "prediction_succeeded"))
    assert backend.cancel("abc") is False


def test_wavespeed_submit_puts_webhook_in_query(server):
    server.reply(200, load_fixture("wavespeed", "submit_created"))
    backend = WaveSpeedBackend("w", {"BASE_URL": server.url, "API_KEY": "wk",
                                     "INPUT": {"duration": 5}})
    submission = backend.submit(**SUBMIT)
    assert submission.provider_job_id == "d1e0f4b2a3c94e5f8a7b6c5d4e3f2a1b"
    assert submission.event.status == "queued"
    request = server.last
    assert urlsplit(request.path).path == "/api/v3/wavespeed-ai/wan-2.2/i2v-480p"
    assert query(request.path) == {"webhook": [HOOK]}
    assert request.headers["authorization"] == "Bearer wk"
    assert request.json() == {"image": SUBMIT["image_url"], "duration": 5,
                              "prompt": "a hero in neon rain, cinematic style"}


def test_wavespeed_status_and_no_cancel(server):
    backend = WaveSpeedBackend("w", {"BASE_URL": server.url})
    server.reply(200, load_fixture("wavespeed", "result_completed"))
    event = backend.fetch_status("d1e0")
    assert event.status == "succeeded"
    assert server.last.path == "/api/v3/predictions/d1e0/result"
    assert backend.cancel("d1e0") is False and len(server.requests) == 1


def test_wavespeed_failed_poll_is_an_event_not_an_error(server):
    envelope = load_fixture("wavespeed", "result_failed")
    server.reply(200, {**envelope, "code": 1403})
    event = WaveSpeedBackend("w", {"BASE_URL": server.url}).fetch_status("d1e0")
    assert event.status == "failed" and event.error_code == "task_failed"


def test_fal_submit_webhook_in_query_never_in_input(server):
    server.reply(200, load_fixture("fal", "submit"))
    backend = FalBackend("f", {"BASE_URL": server.url, "API_KEY": "fk",
                               "MODEL": "surge/cyberpunk-hero"})
    submission = backend.submit(**SUBMIT)
    assert submission.provider_job_id == "764cabcf-b745-4b3e-ae38-1200304cf45b"
    assert submission.event.status == "queued"
    request = server.last
    assert urlsplit(request.path).path == "/surge/cyberpunk-hero"
    assert query(request.path) == {"fal_webhook": [HOOK]}
    assert request.headers["authorization"] == "Key fk"
    assert request.json() == {"image_url": SUBMIT["image_url"],
                              "prompt": "a hero in neon rain, cinematic style"}


def test_fal_completed_fetches_the_result(server):
    backend = FalBackend("f", {"BASE_URL": server.url, "MODEL": "o/m"})
    server.reply(200, load_fixture("fal", "status_in_progress"))
    assert backend.fetch_status("r1").status == "rendering"
    assert server.last.path == "/o/m/requests/r1/status?logs=1"
    server.reply(200, load_fixture("fal", "status_completed"))
    server.reply(200, load_fixture("fal", "result"))
    event = backend.fetch_status("r1")
    assert event.status == "succeeded" and event.output_url.endswith("output.mp4")
    assert server.last.path == "/o/m/requests/r1"


def test_fal_failed_result_is_a_failed_event(server):
    backend = FalBackend("f", {"BASE_URL": server.url, "MODEL": "o/m"})
    server.reply(200, load_fixture("fal", "status_completed"))
    server.reply(422, {"detail": [{"msg": "Image could not be downloaded"}]})
    event = backend.fetch_status("r1")
    assert event.status == "failed" and event.error_code == "media_unreachable"


def test_fal_cancel(server):
    backend = FalBackend("f", {"BASE_URL": server.url, "MODEL": "o/m"})
    server.reply(202, load_fixture("fal", "cancel_requested"))
    assert backend.cancel("r1") is True
    assert (server.last.method, server.last.path) == ("PUT", "/o/m/requests/r1/cancel")
    server.reply(400, load_fixture("fal", "cancel_already_completed"))
    assert backend.cancel("r1") is False
    server.reply(400, {"detail": "bad"})
    with pytest.raises(PermanentError):
        backend.cancel("r1")


@pytest.mark.parametrize("dialect,submit_fixture,path", [
    ("replicate", ("replicate", "prediction_starting"), "/replicate/v1/models/o/m/predictions"),
    ("wavespeed", ("wavespeed", "submit_created"), "/wavespeed/api/v3/o/m"),
    ("fal", ("fal", "submit"), "/fal/o/m"),
])
def test_local_backend_speaks_the_dialect_under_its_prefix(server, dialect, submit_fixture, path):
    backend = LocalBackend("loc", {"BASE_URL": server.url + "/", "DIALECT": dialect,
                                   "MODEL": "o/m", "API_KEY": "local-dev-key"})
    server.reply(200, load_fixture(*submit_fixture))
    backend.submit(**SUBMIT)
    assert urlsplit(server.last.path).path == path
    backend.warm_up()
    assert (server.last.method, server.last.path) == ("POST", f"/{dialect}/_warmup")
    assert backend.supports_cancel == (dialect != "wavespeed")


def test_local_fal_jwks_defaults_to_the_local_provider():
    backend = LocalBackend("loc", {"BASE_URL": "http://127.0.0.1:8003", "DIALECT": "fal"})
    assert backend.webhook_verifier.config["JWKS_URL"] == \
        "http://127.0.0.1:8003/fal/.well-known/jwks.json"
    assert FalBackend("f", {}).config["JWKS_URL"] == \
        "https://rest.alpha.fal.ai/.well-known/jwks.json"


def test_local_backend_rejects_unknown_dialect():
    with pytest.raises(ProviderNotConfigured):
        LocalBackend("loc", {"DIALECT": "runway"})


def test_missing_methods_name_the_class():
    class HalfBackend(ProviderBackend):
        default_settings = {"BASE_URL": "http://127.0.0.1:9"}

    with pytest.raises(NotImplementedError, match="HalfBackend"):
        HalfBackend("h", {}).submit(**SUBMIT)
    assert HalfBackend("h", {}).cancel("x") is False
    assert HalfBackend("h", {}).warm_up() is None


def test_compose_prompt():
    assert compose_prompt(prompt="A hero.", style="noir") == "A hero, noir style"
    assert compose_prompt(prompt="A hero", style="") == "A hero"
    assert compose_prompt(prompt="", style="anime") == "anime style"


def test_fal_request_urls_use_the_app_id(server):
    """Models with an endpoint path (owner/app/path) poll under owner/app, as fal_client does."""
    backend = FalBackend("f", {"BASE_URL": server.url, "MODEL": "fal-ai/wan/v2.2-a14b/i2v"})
    server.reply(200, load_fixture("fal", "submit"))
    backend.submit(**SUBMIT)
    assert urlsplit(server.last.path).path == "/fal-ai/wan/v2.2-a14b/i2v"
    server.reply(200, load_fixture("fal", "status_in_queue"))
    backend.fetch_status("r1")
    assert server.last.path == "/fal-ai/wan/requests/r1/status?logs=1"


def test_fal_cancelled_request_is_canceled(server):
    backend = FalBackend("f", {"BASE_URL": server.url, "MODEL": "o/m"})
    server.reply(200, {**load_fixture("fal", "status_completed"), "error": "Request was cancelled",
                       "error_type": "request_cancelled"})
    assert backend.fetch_status("r1").status == "canceled"
