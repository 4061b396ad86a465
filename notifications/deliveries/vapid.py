"""VAPID key pairs for Web Push, in the base64url forms browsers and pywebpush expect."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_vapid_keys() -> dict[str, str]:
    """A new P-256 pair: the public key as an uncompressed point (applicationServerKey),
    the private key as the raw 32-byte scalar (pywebpush's `vapid_private_key`)."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    return {"public_key": _b64url(public),
            "private_key": _b64url(private.private_numbers().private_value.to_bytes(32, "big"))}
