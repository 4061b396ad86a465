"""Injected faults: outages, failures, and webhook drop / duplicate / reorder / retry."""

import json

import httpx
import pytest

from .support import BEARER, FAL_KEY, wait_until


def replicate(provider, image_url, **body):
    body.setdefault("version", "v1")
    body.setdefault("input", {"image": image_url})
    return provider.http.post("/replicate/v1/predictions", headers=BEARER, json=body)


def finished(provider, prediction_id):
    body = provider.http.get(f"/replicate/v1/predictions/{prediction_id}", headers=BEARER).json()
    return body["status"] in ("succeeded", "failed", "canceled") and body


@pytest.mark.parametrize("path,headers", [
    ("/replicate/v1/predictions", BEARER),
    ("/wavespeed/api/v3/wavespeed-ai/wan-2.2/i2v-480p", BEARER),
    ("/fal/fal-ai/kling-video", FAL_KEY),
])
def test_outage_503(provider, image_url, path, headers):
    """During a 503 outage every dialect endpoint answers 503; health and control keep working."""
    provider.control(outage="503")
    response = provider.http.post(path, json={"input": {"image": image_url}, "image": image_url}, headers=headers)
    assert response.status_code == 503
    assert provider.http.get("/_health").status_code == 200
    provider.control(outage="off")
    assert provider.http.post(path, json={"version": "v", "input": {"image": image_url}, "image": image_url},
                              headers=headers).status_code in (200, 201)


def test_outage_hang(provider, image_url):
    """A hanging outage holds requests until the client times out, and creates no job."""
    provider.control(outage="hang")
    with pytest.raises(httpx.ReadTimeout):
        provider.http.post("/replicate/v1/predictions", headers=BEARER, timeout=0.5,
                           json={"version": "v", "input": {"image": image_url}})
    provider.control(outage="off")
    assert provider.counters()["submitted"] == 0
    assert replicate(provider, image_url).status_code == 201


@pytest.mark.parametrize("path,headers,body", [
    ("/replicate/v1/predictions?", BEARER, {"version": "v"}),
    ("/wavespeed/api/v3/wavespeed-ai/wan-2.2/i2v-480p?webhook=", BEARER, {}),
    ("/fal/fal-ai/kling-video?fal_webhook=", FAL_KEY, {}),
])
def test_a_late_answer_loses_the_answer_not_the_job(provider, image_url, listener, path, headers, body):
    """With submit_answer_delay_seconds, a client that gives up first still gets its render and webhook."""
    provider.control(submit_answer_delay_seconds=2)
    if path.startswith("/replicate"):
        body = {**body, "input": {"image": image_url}, "webhook": listener.url,
                "webhook_events_filter": ["completed"]}
    else:
        path, body = path + listener.url, {"image": image_url, "image_url": image_url}
    with pytest.raises(httpx.ReadTimeout):
        provider.http.post(path, headers=headers, json=body, timeout=0.5)
    assert provider.counters()["submitted"] == 1
    [delivery] = listener.wait_for(1)
    assert delivery["path"] == "/hooks"


def test_failure_rate(provider, image_url):
    """failure_rate 1 fails every job with an error message."""
    provider.control(failure_rate=1)
    prediction = replicate(provider, image_url).json()
    done = wait_until(lambda: finished(provider, prediction["id"]))
    assert done["status"] == "failed" and "Simulated failure" in done["error"]
    assert done["output"] is None
    assert provider.counters()["failed"] == 1


def test_webhook_drop(provider, image_url, listener):
    """webhook_drop 1 sends nothing and counts the drops."""
    provider.control(webhook_drop=1)
    prediction = replicate(provider, image_url, webhook=listener.url, webhook_events_filter=["completed"]).json()
    wait_until(lambda: finished(provider, prediction["id"]))
    wait_until(lambda: provider.counters()["webhooks_dropped"] == 1)
    assert listener.received == [] and provider.counters()["webhooks_sent"] == 0


def test_webhook_duplicate(provider, image_url, listener):
    """webhook_duplicate 1 delivers the same message (same webhook-id) twice."""
    provider.control(webhook_duplicate=1)
    replicate(provider, image_url, webhook=listener.url, webhook_events_filter=["completed"])
    first, second = listener.wait_for(2)
    assert first["body"] == second["body"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert provider.counters()["webhooks_duplicated"] == 1


def test_webhook_reorder(provider, image_url, listener):
    """With webhook_reorder on, earlier events arrive after the terminal one."""
    provider.control(webhook_reorder=True)
    prediction = replicate(provider, image_url, webhook=listener.url, webhook_events_filter=["start", "completed"])
    assert prediction.status_code == 201
    received = listener.wait_for(2)
    assert [json.loads(r["body"])["status"] for r in received] == ["succeeded", "starting"]
    assert provider.counters()["webhooks_reordered"] == 1


def test_webhook_retry_on_500(provider, image_url, listener):
    """A terminal webhook answered 500 (then 503 with Retry-After) is retried until a 2xx."""
    listener.replies = [(500, {}), (503, {"Retry-After": "1"})]
    prediction = replicate(provider, image_url, webhook=listener.url, webhook_events_filter=["completed"]).json()
    received = listener.wait_for(3)
    assert [json.loads(r["body"])["id"] for r in received] == [prediction["id"]] * 3
    assert len({r["headers"]["webhook-id"] for r in received}) == 1
    counters = provider.counters()
    assert counters["webhook_retries"] == 2 and counters["webhooks_delivered"] == 1
    assert counters["webhooks_sent"] == 3


def test_webhook_gives_up_and_never_follows_redirects(provider, image_url, listener):
    """A redirect is a failure (not followed); retries stop at webhook_max_retries."""
    provider.control(webhook_max_retries=1)
    listener.replies = [(302, {"Location": "http://127.0.0.1:1/elsewhere"})] * 2
    replicate(provider, image_url, webhook=listener.url, webhook_events_filter=["completed"])
    wait_until(lambda: provider.counters()["webhooks_failed"] == 1)
    assert len(listener.received) == 2


def test_control_rejects_bad_values(provider):
    """Unknown knobs and bad values are refused as a whole, with 400."""
    response = provider.http.post("/_control", json={"failure_rate": 0.5, "nonsense": 1})
    assert response.status_code == 400
    assert provider.http.post("/_control", json={"failure_rate": 2}).status_code == 400
    assert provider.http.post("/_control", json={"outage": "sometimes"}).status_code == 400
    assert provider.state()["knobs"]["failure_rate"] == 0
