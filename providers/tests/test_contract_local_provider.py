"""Contract tests: every backend against the real local provider over HTTP, in all three dialects."""

from __future__ import annotations

import time
from pathlib import Path

import av
import httpx
import pytest
from PIL import ImageStat

from project.testing.local_provider import LocalProviderProcess
from providers import registry
from providers.events import ProviderEvent
from providers.exceptions import PermanentError, RateLimited, TransientError
from providers.registry import parse_webhook
from providers.tests.conftest import SECRET
from providers.tests.support import Reply, ScriptedServer

REPO = Path(__file__).resolve().parents[2]
SELFIE = REPO / "static" / "samples" / "selfie-astronaut.jpg"
API_KEY = "contract-test-key"
LOCAL = "providers.backends.local.LocalBackend"
NAMES = ["local-replicate", "local-wavespeed", "local-fal", "replicate", "wavespeed", "fal"]
STAGES = {"queued": 0, "warming": 1, "rendering": 2, "succeeded": 3}
SUBMIT = {"prompt": "a hero walks through neon rain", "style": "cinematic", "reference": "job-1"}

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def provider():
    running = LocalProviderProcess(time_scale=0.01, extra_args=("--mode", "fast"),
                                   api_key=API_KEY, webhook_secret=SECRET)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def media():
    """Serves the sample selfie (as S3 would) and records webhook deliveries under /hooks/."""
    server = ScriptedServer()
    server.routes["/selfie.jpg"] = Reply(body=SELFIE.read_bytes(),
                                         headers={"Content-Type": "image/jpeg"})
    yield server
    server.close()


def configs(url: str) -> dict[str, dict]:
    common = {"API_KEY": API_KEY, "WEBHOOK_SECRET": SECRET, "MODEL": "surge/cyberpunk-hero",
              "TIMEOUTS": {"connect": 2, "read": 5, "write": 5, "pool": 2}}
    return {
        **{f"local-{dialect}": {**common, "BACKEND": LOCAL, "BASE_URL": url, "DIALECT": dialect}
           for dialect in ("replicate", "wavespeed", "fal")},
        "replicate": {**common, "BACKEND": "providers.backends.replicate.ReplicateBackend",
                      "BASE_URL": f"{url}/replicate"},
        "wavespeed": {**common, "BACKEND": "providers.backends.wavespeed.WaveSpeedBackend",
                      "BASE_URL": f"{url}/wavespeed"},
        "fal": {**common, "BACKEND": "providers.backends.fal.FalBackend",
                "BASE_URL": f"{url}/fal", "JWKS_URL": f"{url}/fal/.well-known/jwks.json"},
    }


@pytest.fixture(autouse=True)
def fresh(provider, settings):
    """Startup knobs, no job in flight, and PROVIDERS pointing at this provider."""
    provider.control(reset_knobs=True)
    provider.wait_idle()
    settings.PROVIDERS = configs(provider.url)
    yield
    provider.control(reset_knobs=True)


def dialect_of(name: str) -> str:
    return name.removeprefix("local-")


def with_settings(name: str, **overrides):
    """A separate backend instance of `name` with some settings changed."""
    config = {**registry.get_config(name), **overrides}
    return type(registry.get_backend(name))(name, config)


def submit(backend, media, **extra):
    return backend.submit(image_url=f"{media.url}/selfie.jpg",
                          webhook_url=extra.pop("webhook_url", None), **SUBMIT, **extra)


def poll(backend, job_id: str, *, until=lambda e: e.is_terminal, timeout: float = 30,
         seen: list[ProviderEvent] | None = None) -> ProviderEvent:
    deadline = time.monotonic() + timeout
    while True:
        event = backend.fetch_status(job_id)
        if seen is not None:
            seen.append(event)
        if until(event):
            return event
        assert time.monotonic() < deadline, f"stuck at {event}"
        time.sleep(0.04)


def webhook_events(media, name: str, job_id: str, *, timeout: float = 30) -> list[ProviderEvent]:
    """Every verified event delivered for this job so far, once a terminal one has arrived."""
    deadline = time.monotonic() + timeout
    while True:
        events = [event for request in list(media.requests) if request.path == f"/hooks/{name}"
                  for event in parse_webhook(name, headers=request.headers, body=request.body)
                  if event.provider_job_id == job_id]
        if any(event.is_terminal for event in events):
            return events
        assert time.monotonic() < deadline, f"no terminal webhook for {job_id}: {events}"
        time.sleep(0.05)


@pytest.mark.parametrize("name", NAMES)
def test_render_goes_through_every_stage(provider, media, name):
    """A cold job is seen queued/warming, rendering with progress, then succeeded, by poll and by
    signed webhook; its video downloads; cancelling it afterwards is refused."""
    provider.control(unload_models=True, boot_seconds=0.6, render_seconds=1.2)
    backend = registry.get_backend(name)
    submission = submit(backend, media, webhook_url=f"{media.url}/hooks/{name}")
    seen = [submission.event] if submission.event else []
    final = poll(backend, submission.provider_job_id, seen=seen)

    assert final.status == "succeeded" and final.output_url
    statuses = [event.status for event in seen]
    assert statuses == sorted(statuses, key=STAGES.__getitem__), statuses
    assert "rendering" in statuses
    if dialect_of(name) != "wavespeed":  # WaveSpeed reports no boot and no progress
        assert "warming" in statuses
        progress = [e.progress for e in seen if e.status == "rendering" and e.progress is not None]
        assert progress and progress == sorted(progress) and 0 < max(progress) <= 1

    video = httpx.get(final.output_url, timeout=5)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"

    hooks = webhook_events(media, name, submission.provider_job_id)
    terminal = [event for event in hooks if event.is_terminal]
    assert terminal[-1].status == "succeeded" and terminal[-1].output_url == final.output_url
    assert backend.cancel(submission.provider_job_id) is False


@pytest.mark.parametrize("name", NAMES)
def test_cancel_a_running_job(provider, media, name):
    backend = registry.get_backend(name)
    if not backend.supports_cancel:  # WaveSpeed has no cancel endpoint
        assert backend.cancel("any-id") is False
        return
    provider.control(render_seconds=5)
    job_id = submit(backend, media).provider_job_id
    poll(backend, job_id, until=lambda e: e.status in ("warming", "rendering"))
    assert backend.cancel(job_id) is True
    assert poll(backend, job_id).status == "canceled"


@pytest.mark.parametrize("name", NAMES)
def test_wrong_api_key_is_a_permanent_auth_error(provider, media, name):
    backend = with_settings(name, API_KEY="wrong-key")
    with pytest.raises(PermanentError) as caught:
        submit(backend, media)
    assert caught.value.code == "auth" and caught.value.status_code == 401
    with pytest.raises(PermanentError):
        backend.fetch_status("whatever")


@pytest.mark.parametrize("name", NAMES)
def test_over_the_concurrency_limit_is_rate_limited(provider, media, name):
    provider.control(max_concurrency=1, over_limit="reject", render_seconds=1)
    backend = registry.get_backend(name)
    first = submit(backend, media).provider_job_id
    with pytest.raises(RateLimited) as caught:
        submit(backend, media)
    assert caught.value.retry_after and caught.value.retry_after >= 1
    backend.cancel(first)


@pytest.mark.parametrize("name", NAMES)
def test_outage_503_is_transient(provider, media, name):
    provider.control(outage="503")
    backend = registry.get_backend(name)
    with pytest.raises(TransientError) as caught:
        submit(backend, media)
    assert caught.value.status_code == 503
    with pytest.raises(TransientError):
        backend.fetch_status("whatever")


@pytest.mark.parametrize("name", NAMES)
def test_hanging_provider_times_out_as_transient(provider, media, name):
    provider.control(outage="hang")
    backend = with_settings(name, TIMEOUTS={"read": 0.3})
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        submit(backend, media)
    assert caught.value.maybe_processed  # a timed-out create must not be retried blindly
    assert time.monotonic() - started < 10  # read timeout 0.3 s, not the default 30 s


@pytest.mark.parametrize("name", NAMES)
def test_expired_output(provider, media, name):
    """After the output TTL the file is gone (410); Replicate also reports data_removed."""
    backend = registry.get_backend(name)
    final = poll(backend, submit(backend, media).provider_job_id)
    assert final.status == "succeeded"
    provider.control(output_ttl_seconds=0.2)
    time.sleep(0.3)
    assert httpx.get(final.output_url, timeout=5).status_code == 410
    if dialect_of(name) == "replicate":
        expired = backend.fetch_status(final.provider_job_id)
        assert (expired.status, expired.error_code) == ("failed", "output_expired")


@pytest.mark.parametrize("name", ["local-replicate", "local-wavespeed", "local-fal"])
def test_warm_up_boots_the_model(provider, name):
    provider.control(unload_models=True, boot_seconds=0.5)
    registry.get_backend(name).warm_up()
    models = provider.state()["models"]
    assert models[dialect_of(name)] in ("booting", "warm")


@pytest.mark.parametrize("name", ["local-replicate", "local-wavespeed", "local-fal"])
def test_the_style_in_the_prompt_reaches_the_render(provider, media, name, tmp_path):
    """Each dialect hands the prompt to the renderer: a film-noir prompt comes back grey, the
    default neon one does not."""
    backend = registry.get_backend(name)
    greys = {}
    for prompt in ("black and white film noir portrait", "a hero walks through neon rain"):
        submission = backend.submit(image_url=f"{media.url}/selfie.jpg", webhook_url=None,
                                    prompt=prompt, style="", reference="job-1")
        final = poll(backend, submission.provider_job_id)
        assert final.status == "succeeded", final
        path = tmp_path / "out.mp4"
        path.write_bytes(httpx.get(final.output_url, timeout=5).content)
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0)).to_image()
        means = ImageStat.Stat(frame).mean
        greys[prompt] = max(means) - min(means) < 4
    assert greys == {"black and white film noir portrait": True,
                     "a hero walks through neon rain": False}
