"""Hyperliquid L1 action signing: the SDK's action hash, our EIP-712 digest, coincurve signatures.

The SDK's `action_hash` (msgpack of the action + nonce + vault + expiry) is used as is; the typed-data
digest of the phantom agent is computed directly (it is a fixed structure), and signed with
coincurve, ~12x faster than eth-account. Deterministic (RFC 6979) signatures: the official vectors
are reproduced bit for bit (tests/test_hl_signing.py).
"""

from __future__ import annotations

from typing import Any

import coincurve
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hyperliquid.utils.signing import action_hash, user_signed_payload

# keccak256 of the EIP-712 domain {name: "Exchange", version: "1", chainId: 1337, verifyingContract: 0x0}
L1_DOMAIN_SEPARATOR = bytes.fromhex("d79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040")
AGENT_TYPEHASH = keccak(b"Agent(string source,bytes32 connectionId)")
_SOURCE = {True: keccak(b"a"), False: keccak(b"b")}


def l1_digest(action: dict[str, Any], vault: str | None, nonce: int, expires_after: int | None,
              is_mainnet: bool) -> bytes:
    connection_id = action_hash(action, vault, nonce, expires_after)
    struct = keccak(AGENT_TYPEHASH + _SOURCE[is_mainnet] + connection_id)
    return keccak(b"\x19\x01" + L1_DOMAIN_SEPARATOR + struct)


def user_signed_digest(action: dict[str, Any], types: list[dict[str, str]], primary_type: str) -> bytes:
    """Digest of a user-signed action (approveAgent, usdSend, withdraw3, ...), which already carries
    `signatureChainId` and `hyperliquidChain`."""
    msg = encode_typed_data(full_message=user_signed_payload(primary_type, types, action))
    return keccak(b"\x19" + msg.version + msg.header + msg.body)


class Signer:
    """One private key. Holds the coincurve key so each signature costs only the ECDSA itself."""

    def __init__(self, secret_key: str):
        raw = bytes.fromhex(secret_key.removeprefix("0x"))
        if len(raw) != 32:
            raise ValueError("a Hyperliquid secret key is 32 bytes (64 hex digits)")
        self._key = coincurve.PrivateKey(raw)
        pub = self._key.public_key.format(compressed=False)[1:]
        self.address = "0x" + keccak(pub)[-20:].hex()

    def __repr__(self) -> str:  # never the key
        return f"Signer({self.address})"

    def sign_digest(self, digest: bytes) -> dict[str, Any]:
        sig = self._key.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64] + 27
        return {"r": hex(r), "s": hex(s), "v": v}

    def sign_l1(self, action: dict[str, Any], nonce: int, *, vault: str | None, expires_after: int | None,
                is_mainnet: bool) -> dict[str, Any]:
        return self.sign_digest(l1_digest(action, vault, nonce, expires_after, is_mainnet))


def recover(digest: bytes, signature: dict[str, Any]) -> str:
    """The address that signed `digest` (lower case). Raises ValueError on a malformed signature."""
    r = int(str(signature["r"]), 16)
    s = int(str(signature["s"]), 16)
    v = int(signature["v"])
    if v not in (27, 28) or not (0 < r < 2**256 and 0 < s < 2**256):
        raise ValueError("bad signature")
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v - 27])
    pub = coincurve.PublicKey.from_signature_and_message(sig, digest, hasher=None).format(compressed=False)[1:]
    return "0x" + keccak(pub)[-20:].hex()
