"""The snapshot keys: ids that are RFC 7638 thumbprints, one data-folder key shared by the
workers that start together, previous keys published beside the current one, and
settings that cannot publish a private key or hold the wrong kind of key."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from benefitgate.offline.keys import KEY_FILE, KeyRing, new_private_key_pem, public_jwk

# RFC 8037, appendix A.2 and A.3: an Ed25519 public key and its JWK thumbprint.
RFC_8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_keys_id_is_its_rfc_7638_thumbprint() -> None:
    raw = jwt.utils.base64url_decode(RFC_8037_X)
    jwk = public_jwk(Ed25519PublicKey.from_public_bytes(raw))
    assert jwk["kid"] == RFC_8037_THUMBPRINT
    assert jwk["x"] == RFC_8037_X and jwk["alg"] == "EdDSA" and "d" not in jwk


def test_workers_starting_together_share_the_first_key_written(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        rings = list(pool.map(lambda _: KeyRing.configured("", "", tmp_path), range(8)))
    assert len({ring.kid for ring in rings}) == 1
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # nothing left aside
    assert KeyRing.configured("", "", tmp_path).kid == rings[0].kid  # and after a restart


def test_a_configured_key_wins_over_the_data_folder(tmp_path: Path) -> None:
    pem = new_private_key_pem()
    assert KeyRing.configured(pem, "", tmp_path).kid == KeyRing.of(pem).kid
    assert not (tmp_path / KEY_FILE).exists()


def test_a_snapshot_signed_before_a_rotation_verifies_with_the_keys_after_it() -> None:
    old, new = new_private_key_pem(), new_private_key_pem()
    before = KeyRing.of(old)
    token = before.sign({"sub": "a"})
    after = KeyRing.of(new, json.dumps(before.jwks()))
    assert [k["kid"] for k in after.jwks()["keys"]] == [after.kid, before.kid]
    header = jwt.get_unverified_header(token)
    assert header["kid"] == before.kid and header["alg"] == "EdDSA"
    keys = {k["kid"]: jwt.PyJWK(k) for k in after.jwks()["keys"]}
    assert jwt.decode(token, keys[header["kid"]], algorithms=["EdDSA"]) == {"sub": "a"}
    # Once the old key is dropped from the previous keys, its snapshots no longer verify.
    assert before.kid not in {k["kid"] for k in KeyRing.of(new).jwks()["keys"]}


def test_the_current_key_listed_as_previous_too_is_published_once() -> None:
    pem = new_private_key_pem()
    ring = KeyRing.of(pem, json.dumps(KeyRing.of(pem).jwks()))
    assert len(ring.published) == 1


@pytest.mark.parametrize(
    ("previous", "says"),
    [
        ("not json", "not JSON"),
        ('{"keys": 3}', '{"keys"'),
        ('{"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}', "Ed25519 JWK"),
        ('{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}', "a bad key"),
    ],
)
def test_malformed_previous_keys_are_refused_naming_the_setting(previous: str, says: str) -> None:
    with pytest.raises(ValueError, match="BENEFITGATE_SNAPSHOT_PREVIOUS_KEYS") as raised:
        KeyRing.of(new_private_key_pem(), previous)
    assert says in str(raised.value)


def test_a_private_key_is_never_published_as_a_previous_key() -> None:
    private = {"kty": "OKP", "crv": "Ed25519", "x": RFC_8037_X, "d": "secret"}
    with pytest.raises(ValueError, match="public keys only"):
        KeyRing.of(new_private_key_pem(), json.dumps({"keys": [private]}))


def test_a_key_that_is_not_an_ed25519_private_key_is_refused() -> None:
    with pytest.raises(ValueError, match="BENEFITGATE_SNAPSHOT_KEY is not a PEM"):
        KeyRing.of("not a key")
    public = (
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n"
    )
    with pytest.raises(ValueError, match="BENEFITGATE_SNAPSHOT_KEY"):
        KeyRing.of(public)  # a public key where the private one belongs
