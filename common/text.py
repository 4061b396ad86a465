"""Text from outside (providers, webhooks) made safe to store."""

from __future__ import annotations


def without_nul(value):
    """`value` with NUL characters removed from every string in it (dict keys included).

    PostgreSQL refuses NUL in text and jsonb; a provider's odd byte must not become a 500.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nul(item) for item in value]
    return value
