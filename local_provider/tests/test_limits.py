"""Concurrency limits: 429 with Retry-After in reject mode, provider-side queueing in queue mode."""

import concurrent.futures

from .support import BEARER, FAL_KEY, wait_until

WAVESPEED = "/wavespeed/api/v3/wavespeed-ai/wan-2.2/i2v-480p"
FAL = "/fal/fal-ai/kling-video/v1/standard/image-to-video"


def replicate(provider, image_url):
    return provider.http.post("/replicate/v1/predictions", headers=BEARER,
                              json={"version": "v1", "input": {"image": image_url}})


def test_reject_mode_429_per_dialect(provider, image_url):
    """Beyond max_concurrency each dialect answers 429 with Retry-After and its own body style."""
    provider.control(max_concurrency=2, render_seconds=5)
    accepted = [replicate(provider, image_url) for _ in range(2)]
    assert [r.status_code for r in accepted] == [201, 201]
    throttled = replicate(provider, image_url)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["detail"].startswith("Request was throttled. Your rate limit resets in ~")
    # The limit is per dialect: the others still accept.
    wavespeed = provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER)
    assert wavespeed.status_code == 200
    provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER)
    over = provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER)
    assert over.status_code == 429 and over.json()["code"] == 429 and "Retry-After" in over.headers
    provider.http.post(FAL, json={"image_url": image_url}, headers=FAL_KEY)
    provider.http.post(FAL, json={"image_url": image_url}, headers=FAL_KEY)
    fal_over = provider.http.post(FAL, json={"image_url": image_url}, headers=FAL_KEY)
    assert fal_over.status_code == 429 and "detail" in fal_over.json() and "Retry-After" in fal_over.headers
    counters = provider.counters()
    assert counters["rejected_429"] == 3 and counters["in_flight"] == 6
    assert counters["by_dialect"]["replicate"]["peak_in_flight"] == 2
    for prediction in accepted:
        provider.http.post(f"/replicate/v1/predictions/{prediction.json()['id']}/cancel", headers=BEARER)


def test_queue_mode_holds_jobs_and_never_exceeds_limit(provider, image_url):
    """In queue mode extra jobs wait (starting / created / IN_QUEUE) and peak_in_flight never passes the limit."""
    provider.control(max_concurrency=2, over_limit="queue", render_seconds=0.3)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: replicate(provider, image_url), range(8)))
    assert all(r.status_code == 201 for r in responses)
    ids = [r.json()["id"] for r in responses]
    counters = provider.counters("replicate")
    assert counters["in_flight"] == 2 and counters["queued"] == 6
    last = provider.http.get(f"/replicate/v1/predictions/{ids[-1]}", headers=BEARER).json()
    assert last["status"] == "starting" and last["started_at"] is None
    ws = provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER).json()["data"]
    provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER)
    ws_queued = provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER).json()["data"]
    assert ws_queued["status"] == "created"
    wait_until(lambda: provider.idle())
    for prediction_id in ids:
        final = provider.http.get(f"/replicate/v1/predictions/{prediction_id}", headers=BEARER).json()
        assert final["status"] == "succeeded"
    counters = provider.counters()
    assert counters["by_dialect"]["replicate"]["peak_in_flight"] == 2
    assert counters["by_dialect"]["wavespeed"]["peak_in_flight"] == 2
    assert counters["completed"] == 11 and counters["rejected_429"] == 0
    assert ws["id"] != ws_queued["id"]


def test_raising_the_limit_admits_queued_jobs(provider, image_url):
    """Queued jobs start as soon as a control update makes room."""
    provider.control(max_concurrency=1, over_limit="queue", render_seconds=2)
    for _ in range(3):
        replicate(provider, image_url)
    assert provider.counters("replicate")["queued"] == 2
    state = provider.control(max_concurrency=5)
    assert state["counters"]["by_dialect"]["replicate"]["in_flight"] == 3
    assert state["counters"]["queued"] == 0
