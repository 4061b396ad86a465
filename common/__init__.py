"""Shared building blocks with no business logic: the API error shape and small helpers."""
