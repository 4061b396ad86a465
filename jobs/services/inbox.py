"""The webhook inbox's record of deliveries that change nothing: refused ones and duplicates.

Verified, new deliveries are recorded and applied by webhook_receive (provider_events).
"""

from __future__ import annotations

import dataclasses
import json

from common.text import without_nul
from jobs.models import WebhookInbox

# A refused body comes from anyone: keep enough to see what it was, not all of it.
REFUSED_BODY_CHARS = 4000
REFUSED = "refused"
DUPLICATE = "duplicate"


def webhook_record_refused(*, provider: str, reason: str, body: bytes) -> WebhookInbox:
    """Keep a refused delivery (bad signature, bad body) with the reason, for operators."""
    text = body[:REFUSED_BODY_CHARS * 4].decode("utf-8", errors="replace")
    try:
        payload = json.loads(text) if len(text) <= REFUSED_BODY_CHARS else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {"body_excerpt": text[:REFUSED_BODY_CHARS]}
    return WebhookInbox.objects.create(
        provider=without_nul(provider)[:64], verified=False, result=REFUSED,
        refusal=without_nul(reason)[:300], payload=without_nul(payload))


def webhook_record_duplicate(*, provider: str, event) -> WebhookInbox:
    """Keep another delivery of an event already in the inbox; it is not applied again."""
    fields = dataclasses.asdict(event)
    payload = fields.pop("raw", None) or {}
    return WebhookInbox.objects.create(
        provider=provider, event_id=without_nul(event.event_id)[:255],
        provider_job_id=without_nul(event.provider_job_id)[:200], payload=without_nul(payload),
        event=without_nul(fields), result=DUPLICATE, duplicate=True)
