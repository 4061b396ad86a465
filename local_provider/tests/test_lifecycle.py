"""Model lifecycle and outputs: cold boot, warm reuse, keep-warm, idle unload, output expiry."""

import time

from .support import BEARER, FAL_KEY, wait_until

WAVESPEED = "/wavespeed/api/v3/wavespeed-ai/wan-2.2/i2v-480p"


def replicate(provider, image_url):
    response = provider.http.post("/replicate/v1/predictions", headers=BEARER,
                                  json={"version": "v1", "input": {"image": image_url}})
    assert response.status_code == 201
    return response.json()


def get(provider, prediction_id):
    return provider.http.get(f"/replicate/v1/predictions/{prediction_id}", headers=BEARER).json()


def succeeded(provider, prediction_id):
    return (body := get(provider, prediction_id))["status"] == "succeeded" and body


def run(provider, image_url):
    prediction_id = replicate(provider, image_url)["id"]
    return wait_until(lambda: succeeded(provider, prediction_id))


def test_cold_boot_then_warm(provider, image_url):
    """The first job after an unload shows a visible boot; the next one reuses the warm model."""
    provider.control(unload_models=True, boot_seconds=0.6)
    first = replicate(provider, image_url)
    booting = wait_until(lambda: "Booting model" in (p := get(provider, first["id"]))["logs"] and p)
    assert booting["status"] == "starting"
    ws = provider.http.post(WAVESPEED, json={"image": image_url}, headers=BEARER).json()["data"]
    fal = provider.http.post("/fal/fal-ai/kling-video", json={"image_url": image_url}, headers=FAL_KEY).json()
    time.sleep(0.1)
    assert provider.http.get(ws["urls"]["get"], headers=BEARER).json()["data"]["status"] == "created"
    fal_status = provider.http.get(fal["status_url"], params={"logs": 1}, headers=FAL_KEY).json()
    assert fal_status["status"] == "IN_PROGRESS"
    assert "Booting model" in fal_status["logs"][0]["message"]
    assert provider.state()["models"]["replicate"] == "booting"
    done = wait_until(lambda: succeeded(provider, first["id"]))
    assert done["metrics"]["total_time"] >= 0.6 > done["metrics"]["predict_time"]
    second = run(provider, image_url)
    assert "Booting model" not in second["logs"]
    counters = provider.counters()
    assert counters["by_dialect"]["replicate"]["boots"] == 1 and counters["boots"] == 3


def test_warmup_endpoint(provider):
    """POST /{dialect}/_warmup boots a cold model (202) and reports a warm one (200)."""
    provider.control(unload_models=True, boot_seconds=0.3)
    for dialect, headers in (("replicate", BEARER), ("wavespeed", BEARER), ("fal", FAL_KEY)):
        assert provider.http.post(f"/{dialect}/_warmup").status_code == 401
        response = provider.http.post(f"/{dialect}/_warmup", headers=headers)
        assert (response.status_code, response.json()) == (202, {"state": "booting"})
    wait_until(lambda: set(provider.state()["models"].values()) == {"warm"})
    response = provider.http.post("/fal/_warmup", headers=FAL_KEY)
    assert (response.status_code, response.json()) == (200, {"state": "warm"})
    assert provider.counters()["boots"] == 3


def test_idle_unload(provider, image_url):
    """A model idle for longer than idle_unload_seconds goes cold, and the next job pays a boot."""
    provider.control(idle_unload_seconds=0.3)
    run(provider, image_url)
    wait_until(lambda: provider.state()["models"]["replicate"] == "cold")
    boots = provider.counters("replicate")["boots"]
    run(provider, image_url)
    assert provider.counters("replicate")["boots"] == boots + 1


def test_output_expiry(provider, image_url):
    """After output_ttl_seconds the file answers 410 and Replicate shows output null, data_removed true."""
    provider.control(output_ttl_seconds=0.5)
    done = run(provider, image_url)
    assert provider.http.get(done["output"]).status_code == 200
    wait_until(lambda: provider.http.get(done["output"]).status_code == 410)
    expired = get(provider, done["id"])
    assert expired["output"] is None and expired["data_removed"] is True
    assert provider.http.get("/outputs/unknown.mp4").status_code == 404


def test_control_reports_knobs_and_counters(provider):
    """GET /_control lists every knob, the counters overall and per dialect, and model states."""
    state = provider.state()
    assert {"max_concurrency", "over_limit", "render_seconds", "boot_seconds", "idle_unload_seconds",
            "failure_rate", "outage", "webhook_drop", "webhook_duplicate", "webhook_reorder",
            "webhook_delay_seconds", "output_ttl_seconds", "mode", "time_scale", "seed"} <= set(state["knobs"])
    assert state["knobs"]["boot_seconds"] == 0.4  # 40 s nominal x time scale 0.01
    assert {"submitted", "in_flight", "peak_in_flight", "rejected_429", "webhooks_sent", "webhooks_dropped",
            "webhooks_duplicated", "webhook_retries", "completed", "failed", "canceled"} <= set(state["counters"])
    assert set(state["counters"]["by_dialect"]) == {"wavespeed", "replicate", "fal"}
    assert set(state["models"]) == {"wavespeed", "replicate", "fal"}
