"""Webhook verifiers, one per provider; providers.registry.parse_webhook picks and runs one."""
