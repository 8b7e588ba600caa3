"""The keys entitlement snapshots are signed with: the current Ed25519 private key, and the
public keys of the previous ones, published together as a JWKS so that snapshots signed
before a rotation still verify until they expire.

A key's id (`kid`) is its RFC 7638 thumbprint: the same key gets the same id on every
replica and after every restart, with nothing else to configure.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from benefitgate.config import created_once

__all__ = ["ALGORITHM", "KEY_FILE", "KeyRing", "new_private_key_pem", "public_jwk"]

ALGORITHM = "EdDSA"
KEY_FILE = "snapshot_signing_key.pem"  # in the data folder, when no key is configured


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK, with its thumbprint as `kid`."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}  # RFC 7638: these, sorted
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = _b64(hashlib.sha256(canonical).digest())
    return {**members, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def new_private_key_pem() -> str:
    """A new Ed25519 private key, PKCS#8 PEM: the form BENEFITGATE_SNAPSHOT_KEY takes."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _private_key(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"BENEFITGATE_SNAPSHOT_KEY is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("BENEFITGATE_SNAPSHOT_KEY must be an Ed25519 private key (PKCS#8 PEM)")
    return key


def _previous(raw: str) -> list[dict[str, str]]:
    """Public JWKs from a JWKS (`{"keys": [...]}`) or a JSON list of JWKs; "" is none."""
    if not raw.strip():
        return []
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS is not JSON: {exc}") from exc
    found = parsed.get("keys") if isinstance(parsed, dict) else parsed
    if not isinstance(found, list):
        raise ValueError('BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS: give {"keys": [JWK, ...]}')
    return [_previous_key(k) for k in found]


def _previous_key(jwk: object) -> dict[str, str]:
    if not isinstance(jwk, Mapping):
        raise ValueError("BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS: each key is a JWK object")
    if "d" in jwk:  # what is listed here is published: a private key must never be
        raise ValueError("BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS holds public keys only (no `d`)")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not jwk.get("x"):
        raise ValueError("BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS: each key is an Ed25519 JWK")
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(str(jwk["x"]) + "=="))
    except ValueError as exc:
        raise ValueError(f"BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS: a bad key: {exc}") from exc
    return public_jwk(public)


def _local_key_pem(data_dir: Path) -> str:
    """The data folder's key, made once: a new key is written aside and linked into place,
    so that workers starting together all end up with the first one written."""
    return created_once(data_dir / KEY_FILE, new_private_key_pem)


@dataclass(frozen=True, slots=True)
class KeyRing:
    signing: Ed25519PrivateKey
    kid: str
    published: tuple[dict[str, str], ...]  # the current key's JWK first, then the previous

    @classmethod
    def of(cls, private_pem: str, previous: str = "") -> KeyRing:
        """From the current private key (PEM) and the previous public keys (a JWKS);
        raises ValueError, naming the setting, for either malformed."""
        signing = _private_key(private_pem)
        current = public_jwk(signing.public_key())
        older = [k for k in _previous(previous) if k["kid"] != current["kid"]]
        return cls(signing, current["kid"], (current, *older))

    @classmethod
    def configured(cls, private_pem: str, previous: str, data_dir: Path) -> KeyRing:
        """As `of`, with the data folder's key when no private key is configured."""
        return cls.of(private_pem or _local_key_pem(data_dir), previous)

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self.published)}

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS of the claims, with this ring's current key and its id."""
        return jwt.encode(
            dict(claims), self.signing, algorithm=ALGORITHM, headers={"kid": self.kid}
        )
