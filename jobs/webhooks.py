"""The one webhook endpoint: verify, de-duplicate, apply, answer 2xx in milliseconds."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from common.api import json_error
from common.logs import log_context
from jobs.ops import counters
from jobs.services.inbox import webhook_record_duplicate, webhook_record_refused
from jobs.services.provider_events import webhook_receive
from providers.exceptions import (
    ProviderNotConfigured,
    TransientError,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from providers.registry import parse_webhook

logger = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 1024 * 1024


@csrf_exempt
def provider_webhook(request, provider: str):
    with log_context(provider=provider):
        return _provider_webhook(request, provider)


def _provider_webhook(request, provider: str):
    if request.method != "POST":
        response = json_error(405, "Webhooks are POSTed.")
        response["Allow"] = "POST"
        return response
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return json_error(400, "Invalid Content-Length.")
    if declared > MAX_WEBHOOK_BYTES:
        return json_error(413, f"Webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes.")
    body = request.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        return json_error(413, f"Webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes.")
    try:
        events = parse_webhook(provider, headers=request.headers, body=body)
    except ProviderNotConfigured:
        return json_error(404, "No such provider.")
    except WebhookSignatureInvalid as error:
        logger.warning("webhook from %s refused: %s", provider, error)
        counters.count(counters.WEBHOOKS, "refused")
        webhook_record_refused(provider=provider, reason=str(error), body=body)
        return json_error(403, "Invalid webhook signature.")
    except WebhookPayloadInvalid as error:
        logger.warning("webhook from %s refused: %s", provider, error)
        webhook_record_refused(provider=provider, reason=str(error), body=body)
        return json_error(400, f"Invalid webhook body: {error}")
    except TransientError:  # e.g. fal's JWKS unreachable: make the provider retry later
        return json_error(503, "Cannot verify webhooks right now; retry later.")

    # The submission our webhook URL names (engine.webhook_url), so that one whose answer was
    # lost can be adopted. The URL is not signed, but the event it comes with is.
    return JsonResponse(webhook_answer(provider, events, reference=request.GET.get("ref", "")))


def webhook_answer(provider: str, events: list, *, reference: str) -> dict:
    """Receive a verified delivery's events and say what came of them: the body of its 200."""
    applied = 0
    for event in events:
        new, transition = webhook_receive(provider=provider, event=event, reference=reference)
        # Counted once received for good: inside the webhook lane's shared transaction, only
        # if it commits (here, with no transaction open, at once).
        transaction.on_commit(partial(counters.count, counters.WEBHOOKS,
                                      "verified" if new else "duplicate"))
        if not new:
            webhook_record_duplicate(provider=provider, event=event)
        applied += transition is not None and transition.applied
    return {"received": len(events), "applied": applied}
