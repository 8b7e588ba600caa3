"""Signing secrets and signatures, to the Standard Webhooks specification.

A secret reads `whsec_<base64 of 24 random bytes>` and is shown once, when it is made. It
is stored sealed with the service's webhook key (BENEFITGATE_WEBHOOK_KEY), so a database
dump alone cannot sign. While a rotated-out secret is still valid, each message carries a
signature by both, space separated, as the specification allows.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from math import floor

from cryptography.fernet import Fernet, InvalidToken
from standardwebhooks import Webhook

__all__ = ["InvalidToken", "SecretBox", "headers", "new_secret"]

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


class SecretBox:
    """Seals secrets for storage with a key from the environment (Fernet: AES and an HMAC,
    so a sealed secret that was tampered with does not open). Any text works as the key:
    its SHA-256 is the Fernet key."""

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        return self._fernet.decrypt(sealed).decode()


def headers(signing: Sequence[str], webhook_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one send: its id, its time, and a v1 signature by
    each secret in `signing`."""
    signatures = " ".join(Webhook(s).sign(webhook_id, at, body) for s in signing)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signatures,
    }
