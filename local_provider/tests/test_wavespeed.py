"""The WaveSpeedAI v3 dialect: envelope, statuses, and the v3 HMAC webhook signature."""

import hashlib
import hmac
import json

import pytest

from .support import BEARER, FAL_KEY, wait_until

MODEL = "wavespeed-ai/wan-2.2/i2v-480p"
DATA_FIELDS = {"id", "model", "status", "urls", "outputs", "has_nsfw_contents", "created_at", "error", "timings"}


def submit(provider, image_url, query="", headers=BEARER, **body):
    body.setdefault("image", image_url)
    body.setdefault("prompt", "cyberpunk hero")
    return provider.http.post(f"/wavespeed/api/v3/{MODEL}{query}", json=body, headers=headers)


def result(provider, task_id):
    response = provider.http.get(f"/wavespeed/api/v3/predictions/{task_id}/result", headers=BEARER)
    assert response.status_code == 200
    return response.json()


def wait_status(provider, task_id, *statuses):
    return wait_until(lambda: (r := result(provider, task_id))["data"]["status"] in statuses and r)


def expected_signature(secret: str, headers: dict, body: bytes) -> str:
    """Independent implementation of WaveSpeed's scheme: raw secret text as the HMAC key."""
    key = secret.removeprefix("whsec_").encode()
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v3," + hmac.new(key, signed, hashlib.sha256).hexdigest()


def test_submit_and_poll(provider, image_url):
    """Submit answers the success envelope with status created; polling ends completed with outputs."""
    response = submit(provider, image_url)
    assert response.status_code == 200
    envelope = response.json()
    assert (envelope["code"], envelope["message"]) == (200, "success")
    data = envelope["data"]
    assert set(data) == DATA_FIELDS
    assert data["model"] == MODEL and data["status"] == "created"
    assert data["outputs"] == [] and data["has_nsfw_contents"] == []
    assert data["urls"]["get"].endswith(f"/wavespeed/api/v3/predictions/{data['id']}/result")
    done = wait_status(provider, data["id"], "completed")["data"]
    assert done["outputs"][0].endswith(f"/outputs/{data['id']}.mp4")
    assert done["has_nsfw_contents"] == [False]
    assert isinstance(done["timings"]["inference"], int)
    assert provider.http.get(done["outputs"][0]).status_code == 200


def test_missing_image_and_unknown_id(provider, image_url):
    """Bad parameters get a 400 envelope; an unknown task is a 404 envelope."""
    response = submit(provider, image_url, image="")
    assert response.status_code == 400 and response.json()["code"] == 1401
    missing = provider.http.get("/wavespeed/api/v3/predictions/deadbeef/result", headers=BEARER)
    assert missing.status_code == 404 and missing.json()["data"] is None


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, FAL_KEY])
def test_auth_required(provider, image_url, headers):
    """Submit and poll need the Bearer key."""
    assert submit(provider, image_url, headers=headers).status_code == 401
    assert provider.http.get("/wavespeed/api/v3/predictions/x/result", headers=headers).status_code == 401


@pytest.mark.parametrize("via", ["query", "body"])
def test_webhook_signed_v3(provider, image_url, listener, via):
    """One webhook on completion, flat data body, v3 signature that an independent HMAC reproduces."""
    secret = provider.http.get("/replicate/v1/webhooks/default/secret", headers=BEARER).json()["key"]
    if via == "query":
        task = submit(provider, image_url, query=f"?webhook={listener.url}").json()["data"]
    else:
        task = submit(provider, image_url, webhook_url=listener.url).json()["data"]
    [request] = listener.wait_for(1)
    body = json.loads(request["body"])
    assert set(body) == DATA_FIELDS and body["id"] == task["id"] and body["status"] == "completed"
    headers = request["headers"]
    assert headers["webhook-signature"] == expected_signature(secret, headers, request["body"])
    assert headers["webhook-signature"] != expected_signature("whsec_other", headers, request["body"])
    assert provider.counters("wavespeed")["webhooks_delivered"] == 1


def test_failed_job_webhook(provider, image_url, listener):
    """An injected failure ends as status failed with an error, and is called back too."""
    provider.control(failure_rate=1)
    task = submit(provider, image_url, query=f"?webhook={listener.url}").json()["data"]
    done = wait_status(provider, task["id"], "failed")["data"]
    assert done["error"] and done["outputs"] == []
    [request] = listener.wait_for(1)
    assert json.loads(request["body"])["status"] == "failed"
