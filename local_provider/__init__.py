"""A local stand-in for the AI video providers: real HTTP, real video, faults on demand.

An outside service (it imports nothing of the Django app) that impersonates WaveSpeedAI, Replicate
and fal.ai field for field, renders a real clip from the submitted image on the CPU (Pillow + PyAV,
H.264/yuv420p MP4 with faststart, 72 frames at 24 fps, short side 512 px) in the look its prompt
names (looks.py: cyberpunk, noir, anime, watercolor, western, underwater), and
misbehaves when told to. It is the app's default provider locally and the harness of its
reliability tests.

Start::

    python -m local_provider --port 8089 [--host 127.0.0.1] [--state-dir var/local_provider]
                             [--time-scale 1.0] [--seed N] [--mode render|fast] [--<knob> VALUE ...]

Settings (CLI flag / environment variable, default):
    --host / LOCAL_PROVIDER_HOST (127.0.0.1); --port / LOCAL_PROVIDER_PORT (8089);
    --state-dir / LOCAL_PROVIDER_STATE_DIR (var/local_provider, relative to CWD: outputs/ and cache/);
    --api-key / LOCAL_PROVIDER_API_KEY (local-dev-key);
    --webhook-secret / LOCAL_PROVIDER_WEBHOOK_SECRET (a fixed whsec_ dev secret, see config.py);
    --public-url / LOCAL_PROVIDER_PUBLIC_URL (URLs in responses use the Host the client used);
    --render-workers / LOCAL_PROVIDER_RENDER_WORKERS (2 processes); --access-log (off).

Knobs (flag --name-with-dashes, env LOCAL_PROVIDER_<NAME>, JSON key for POST /_control):
    max_concurrency (10)        jobs in flight per dialect
    over_limit ("reject")       "reject": 429 + Retry-After; "queue": accept and hold the job queued
    render_seconds (3 x time_scale)       minimum wall time of the render phase (applies live)
    boot_seconds (40 x time_scale)        cold boot duration
    idle_unload_seconds (300 x time_scale) the model unloads after this idle time
    failure_rate (0)            probability a job fails part-way with an error
    outage ("off")              "503": dialect endpoints answer 503; "hang": they hang until the
                                client gives up (no job is created); /_control, /_health, /outputs
                                and the fal JWKS are unaffected
    submit_answer_delay_seconds (0)  a submission is accepted and runs at once, but its answer is
                                sent this much later: a client whose read timeout is shorter loses
                                the answer, not the job (its webhooks still come)
    webhook_drop (0), webhook_duplicate (0)  probability per message to never send it / send it twice
    webhook_reorder (0)         bool or probability: a non-terminal message is held back until the
                                next one was delivered (only Replicate sends more than one per job)
    webhook_delay_seconds (0)   delay before each delivery
    webhook_timeout_seconds (15), webhook_max_retries (5)
    output_ttl_seconds (3600)   outputs answer 410 afterwards; Replicate shows output null,
                                data_removed true (the TTL in force when asked is applied)
    mode ("render")             "fast" serves one cached clip per look (rendered once into the state
                                dir's cache/, re-rendered if it does not play; providers may share it)
    time_scale (1.0)            scales the nominal boot/idle/render times and webhook backoff
                                (5, 15, 30, 60, 120, 300 s) and a receiver's Retry-After
    seed (random)               seeds the one random.Random behind ids, failures and webhook faults
Explicitly set seconds are real seconds; unset ones follow time_scale.

Endpoints:
    GET  /_health                                      {"status": "ok"}
    GET  /_control                                     {"knobs", "counters", "models", "jobs"}
    POST /_control  any subset of knobs, plus actions reset_counters, reset_knobs (back to the
                    startup values), unload_models (all dialects cold); unauthenticated
    GET  /outputs/{id}.mp4                             video/mp4, Range requests, 410 once expired
    WaveSpeed (Authorization: Bearer <key>):
    POST /wavespeed/api/v3/{model-id...}[?webhook=URL] (or body webhook_url)
    GET  /wavespeed/api/v3/predictions/{id}/result
    Replicate (Authorization: Bearer <key>; legacy "Token" accepted):
    POST /replicate/v1/predictions                     body {version, input, webhook, webhook_events_filter}
    POST /replicate/v1/models/{owner}/{name}/predictions    (Prefer: wait[=N] and Cancel-After honoured)
    GET  /replicate/v1/predictions/{id};  POST /replicate/v1/predictions/{id}/cancel
    GET  /replicate/v1/webhooks/default/secret         {"key": "whsec_..."}
    fal (Authorization: Key <key>):
    POST /fal/{model_id...}[?fal_webhook=URL]
    GET  /fal/{model_id}/requests/{id}/status[?logs=1];  GET /fal/{model_id}/requests/{id}
    PUT  /fal/{model_id}/requests/{id}/cancel;  GET /fal/.well-known/jwks.json (no auth)
    Keep-warm, per dialect with its auth: POST /{wavespeed|replicate|fal}/_warmup
                                           -> 200 {"state": "warm"} or 202 {"state": "booting"}

Counters (overall and under by_dialect): submitted, in_flight, peak_in_flight, queued,
rejected_429, completed, failed, canceled, boots, webhooks_sent (every POST attempt),
webhooks_delivered (2xx), webhooks_failed (gave up), webhooks_dropped, webhooks_duplicated,
webhooks_reordered, webhook_retries. A job is in flight from the moment it takes a slot (at
acceptance, or when it leaves the queue) until it is terminal; all accounting happens on the event
loop, so peak_in_flight is exact.

Webhook signatures: WaveSpeed v3 HMAC (hex, key = secret text without "whsec_"), Replicate Standard
Webhooks (signed with the standardwebhooks package), fal Ed25519 (key pair derived from the
webhook secret, public key in the JWKS). See PROVIDERS.md in the project's shared notes.
"""
