"""The Replicate dialect: predictions, cancel, secret endpoint, Standard Webhooks."""

import base64
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .support import BEARER, FAL_KEY, wait_until

PREDICTION_FIELDS = {"id", "model", "version", "input", "logs", "output", "error", "status", "created_at",
                     "started_at", "completed_at", "metrics", "urls", "data_removed"}


def create(provider, image_url, path="/replicate/v1/predictions", headers=BEARER, **body):
    body.setdefault("version", "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa")
    body.setdefault("input", {"image": image_url, "prompt": "cyberpunk hero"})
    return provider.http.post(path, json=body, headers=headers)


def get(provider, prediction_id):
    response = provider.http.get(f"/replicate/v1/predictions/{prediction_id}", headers=BEARER)
    assert response.status_code == 200
    return response.json()


def wait_status(provider, prediction_id, *statuses):
    return wait_until(lambda: (p := get(provider, prediction_id))["status"] in statuses and p)


def test_create_poll_and_succeed(provider, image_url):
    """A created prediction answers 201 with every field and ends succeeded with an mp4 URL."""
    response = create(provider, image_url)
    assert response.status_code == 201
    created = response.json()
    assert set(created) >= PREDICTION_FIELDS
    assert created["status"] == "starting"
    assert created["output"] is None and created["data_removed"] is False
    assert created["input"] == {"image": image_url, "prompt": "cyberpunk hero"}
    assert created["urls"]["get"].endswith(f"/replicate/v1/predictions/{created['id']}")
    assert created["urls"]["cancel"] == created["urls"]["get"] + "/cancel"
    assert created["created_at"].endswith("Z")
    done = wait_status(provider, created["id"], "succeeded")
    assert done["output"].endswith(f"/outputs/{done['id']}.mp4")
    assert done["started_at"] and done["completed_at"] and done["error"] is None
    assert set(done["metrics"]) == {"predict_time", "total_time"}
    assert "100%|██████████| 72/72 [" in done["logs"]
    video = provider.http.get(done["output"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"


def test_models_route_and_version_forms(provider, image_url):
    """Both create routes work and fill model/version as Replicate does."""
    by_model = create(provider, image_url, path="/replicate/v1/models/acme/hero/predictions").json()
    assert by_model["model"] == "acme/hero" and len(by_model["version"]) == 64
    pinned = create(provider, image_url, version="acme/hero:abc123").json()
    assert (pinned["model"], pinned["version"]) == ("acme/hero", "abc123")
    for prediction in (by_model, pinned):
        wait_status(provider, prediction["id"], "succeeded")


def test_cancel(provider, image_url):
    """Cancelling a running prediction ends it as canceled and frees its slot."""
    provider.control(render_seconds=5)
    prediction = create(provider, image_url).json()
    wait_status(provider, prediction["id"], "processing")
    response = provider.http.post(f"/replicate/v1/predictions/{prediction['id']}/cancel", headers=BEARER)
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert get(provider, prediction["id"])["status"] == "canceled"
    counters = provider.counters("replicate")
    assert counters["canceled"] == 1 and counters["in_flight"] == 0


def test_validation_and_not_found(provider, image_url):
    """Missing image is a 422 with Replicate's problem shape; unknown ids are 404."""
    response = create(provider, image_url, input={"prompt": "no image"})
    assert response.status_code == 422
    assert response.json()["title"] == "Input validation failed"
    assert provider.http.get("/replicate/v1/predictions/nope", headers=BEARER).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, FAL_KEY])
def test_auth_required(provider, image_url, headers):
    """Every Replicate endpoint needs the Bearer key."""
    response = create(provider, image_url, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "You did not pass a valid authentication token"
    assert provider.http.get("/replicate/v1/webhooks/default/secret", headers=headers).status_code == 401


def test_webhooks_verify_with_standardwebhooks(provider, image_url, listener):
    """Webhooks verify with the official package using the served secret, and not with another secret."""
    secret = provider.http.get("/replicate/v1/webhooks/default/secret", headers=BEARER).json()["key"]
    assert secret.startswith("whsec_")
    prediction = create(provider, image_url, webhook=listener.url).json()
    wait_status(provider, prediction["id"], "succeeded")
    wait_until(lambda: any(json.loads(r["body"])["status"] == "succeeded" for r in listener.received))
    wrong = Webhook("whsec_" + base64.b64encode(b"x" * 32).decode())
    for request in listener.received:
        payload = Webhook(secret).verify(request["body"], request["headers"])
        assert payload["id"] == prediction["id"]
        assert request["headers"]["webhook-signature"].startswith("v1,")
        with pytest.raises(WebhookVerificationError):
            wrong.verify(request["body"], request["headers"])
    kinds = [json.loads(r["body"])["status"] for r in listener.received]
    assert kinds[0] == "starting" and kinds[-1] == "succeeded"


def test_events_filter_completed_only(provider, image_url, listener):
    """With webhook_events_filter ["completed"] only the terminal webhook is sent."""
    prediction = create(provider, image_url, webhook=listener.url, webhook_events_filter=["completed"]).json()
    wait_status(provider, prediction["id"], "succeeded")
    wait_until(lambda: provider.counters("replicate")["webhooks_delivered"] >= 1)
    assert [json.loads(r["body"])["status"] for r in listener.wait_for(1)] == ["succeeded"]


def test_logs_webhooks_are_throttled(provider, image_url, listener):
    """output/logs webhooks come at most once per 500 ms even when logs change faster."""
    provider.control(render_seconds=1.6)
    prediction = create(provider, image_url, webhook=listener.url, webhook_events_filter=["logs", "output"]).json()
    wait_status(provider, prediction["id"], "succeeded")
    sent = len(listener.received)
    final = get(provider, prediction["id"])
    # Counted against the job's lifetime, not by arrival gaps: a busy machine delays one
    # delivery and the next arrives right behind it. At most one per 500 ms, plus the final one.
    assert 2 <= sent <= final["metrics"]["total_time"] / 0.5 + 2
    assert len(final["logs"].splitlines()) > sent
