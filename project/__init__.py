"""Surge project: settings, URLs, the ASGI application and the development launcher."""
