"""The three webhook signature schemes: WaveSpeed v3 HMAC, Standard Webhooks (Replicate), fal Ed25519."""

import base64
import hashlib
import hmac
from datetime import datetime, timezone

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook

FAL_USER_ID = "local-provider-user"


def strip_whsec(secret: str) -> str:
    return secret[len("whsec_"):] if secret.startswith("whsec_") else secret


def wavespeed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict:
    """WaveSpeed v3: hex HMAC-SHA256 keyed by the secret's text itself (not base64-decoded)."""
    key = strip_whsec(secret).encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).hexdigest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": f"v3,{digest}"}


def standard_webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict:
    """Standard Webhooks v1, signed by the reference package so its verifier is guaranteed to agree."""
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


class FalSigner:
    """Ed25519 key pair derived deterministically from the webhook secret, plus its JWKS."""

    def __init__(self, secret: str):
        seed = hashlib.sha256(b"fal-ed25519:" + secret.encode()).digest()
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        raw = self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        self.kid = hashlib.sha256(raw).hexdigest()[:16]

    def jwks(self) -> dict:
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": self.public_x, "kid": self.kid,
                          "use": "sig", "alg": "EdDSA"}]}

    def headers(self, request_id: str, timestamp: int, body: bytes, user_id: str = FAL_USER_ID) -> dict:
        message = f"{request_id}\n{user_id}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": str(timestamp),
            "X-Fal-Webhook-Signature": self._key.sign(message).hex(),
        }
