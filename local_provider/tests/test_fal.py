"""The fal.ai queue dialect: submit, status, result, cancel, and Ed25519 webhooks checked against the JWKS."""

import base64
import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .support import BEARER, FAL_KEY, wait_until

MODEL = "fal-ai/kling-video/v1/standard/image-to-video"


def submit(provider, image_url, query="", headers=FAL_KEY, **body):
    body.setdefault("image_url", image_url)
    return provider.http.post(f"/fal/{MODEL}{query}", json=body, headers=headers)


def status(provider, url, logs=True):
    response = provider.http.get(url, params={"logs": "1"} if logs else None, headers=FAL_KEY)
    assert response.status_code == 200
    return response.json()


def test_submit_status_result(provider, image_url):
    """Submit returns the queue URLs; status ends COMPLETED with logs and metrics; the result has the video."""
    response = submit(provider, image_url)
    assert response.status_code == 200
    queued = response.json()
    assert {"request_id", "response_url", "status_url", "cancel_url", "gateway_request_id"} <= set(queued)
    assert queued["status_url"] == queued["response_url"] + "/status"
    assert queued["cancel_url"] == queued["response_url"] + "/cancel"
    done = wait_until(lambda: (s := status(provider, queued["status_url"]))["status"] == "COMPLETED" and s)
    assert done["metrics"]["inference_time"] >= 0
    assert {"message", "level", "source", "timestamp"} == set(done["logs"][0])
    assert status(provider, queued["status_url"], logs=False)["logs"] is None
    result = provider.http.get(queued["response_url"], headers=FAL_KEY).json()
    assert result["video"]["content_type"] == "video/mp4"
    assert provider.http.get(result["video"]["url"]).status_code == 200


def test_full_model_path_also_routes(provider, image_url):
    """Status and result answer under the full model id as well as under owner/app."""
    queued = submit(provider, image_url).json()
    url = f"/fal/{MODEL}/requests/{queued['request_id']}"
    wait_until(lambda: status(provider, url + "/status")["status"] == "COMPLETED")
    assert provider.http.get(url, headers=FAL_KEY).json()["video"]["url"].endswith(".mp4")


def test_in_queue_in_progress_and_cancel(provider, image_url):
    """Queued requests show IN_QUEUE with a position; cancel answers 202, then 400 once completed."""
    provider.control(max_concurrency=1, over_limit="queue", render_seconds=3)
    first, second = submit(provider, image_url).json(), submit(provider, image_url).json()
    wait_until(lambda: status(provider, first["status_url"])["status"] == "IN_PROGRESS")
    waiting = status(provider, second["status_url"])
    assert waiting["status"] == "IN_QUEUE" and waiting["queue_position"] == 0
    assert provider.http.get(second["response_url"], headers=FAL_KEY).status_code == 400
    for request in (second, first):
        response = provider.http.put(request["cancel_url"], headers=FAL_KEY)
        assert (response.status_code, response.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    again = provider.http.put(first["cancel_url"], headers=FAL_KEY)
    assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})
    assert provider.counters("fal")["canceled"] == 2


@pytest.mark.parametrize("headers", [{}, BEARER, {"Authorization": "Key wrong"}])
def test_auth_required(provider, image_url, headers):
    """fal wants 'Authorization: Key <key>'."""
    assert submit(provider, image_url, headers=headers).status_code == 401


def _public_keys(provider) -> list[Ed25519PublicKey]:
    jwks = provider.http.get("/fal/.well-known/jwks.json").json()
    keys = []
    for jwk in jwks["keys"]:
        assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519") and "=" not in jwk["x"]
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def test_webhook_ed25519(provider, image_url, listener):
    """The webhook is signed over request id, user id, timestamp and body hash with a JWKS key."""
    queued = submit(provider, image_url, query=f"?fal_webhook={listener.url}").json()
    [request] = listener.wait_for(1)
    body = json.loads(request["body"])
    assert body["request_id"] == queued["request_id"] and body["status"] == "OK"
    assert body["gateway_request_id"] == queued["gateway_request_id"]
    assert body["payload"]["video"]["url"].endswith(".mp4")
    h = request["headers"]
    message = "\n".join([h["X-Fal-Webhook-Request-Id"], h["X-Fal-Webhook-User-Id"], h["X-Fal-Webhook-Timestamp"],
                         hashlib.sha256(request["body"]).hexdigest()]).encode()
    signature = bytes.fromhex(h["X-Fal-Webhook-Signature"])
    [key] = _public_keys(provider)
    key.verify(signature, message)
    with pytest.raises(InvalidSignature):
        key.verify(signature, message + b"tampered")


def test_failed_request(provider, image_url, listener):
    """A failed request is COMPLETED with an error and calls back with status ERROR."""
    provider.control(failure_rate=1)
    queued = submit(provider, image_url, query=f"?fal_webhook={listener.url}").json()
    done = wait_until(lambda: (s := status(provider, queued["status_url"]))["status"] == "COMPLETED" and s)
    assert done["error"]
    assert provider.http.get(queued["response_url"], headers=FAL_KEY).status_code >= 400
    [request] = listener.wait_for(1)
    body = json.loads(request["body"])
    assert body["status"] == "ERROR" and body["error"]
