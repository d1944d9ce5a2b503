"""Hyperliquid signing reproduces every official SDK vector, mainnet and testnet."""

from __future__ import annotations

import asyncio

import pytest
from hyperliquid.utils.signing import USD_SEND_SIGN_TYPES, WITHDRAW_SIGN_TYPES, action_hash

from exchanges.common.nonce import NonceSource
from exchanges.hyperliquid.signing import Signer, l1_digest, recover, user_signed_digest
from tests.conftest import fixture

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"
VECTORS = fixture("hyperliquid/signing_vectors.json")


L1 = [(v, net) for v in VECTORS if "action_json" in v for net in ("mainnet", "testnet") if net in v]
USER = [v for v in VECTORS if "message_after_signing" in v]


@pytest.mark.parametrize(("vec", "net"), L1, ids=[f"{v['name'][:30]}-{n}" for v, n in L1])
def test_l1_signing_vectors(vec, net):
    signer = Signer(KEY)
    assert signer.address == ADDRESS
    h = action_hash(vec["action_json"], vec["vault"], vec["nonce"], vec.get("expires_after"))
    assert "0x" + h.hex() == vec["action_hash"]
    digest = l1_digest(vec["action_json"], vec["vault"], vec["nonce"], vec.get("expires_after"), net == "mainnet")
    if "eip712_digest" in vec[net]:
        assert "0x" + digest.hex() == vec[net]["eip712_digest"]
    sig = signer.sign_digest(digest)
    want = vec[net]
    assert (int(sig["r"], 16), int(sig["s"], 16), sig["v"]) == (int(want["r"], 16), int(want["s"], 16), want["v"])
    assert recover(digest, sig) == ADDRESS


@pytest.mark.parametrize("vec", USER, ids=[v["name"] for v in USER])
def test_user_signed_vectors(vec):
    msg = vec["message_after_signing"]
    types = {"HyperliquidTransaction:UsdSend": USD_SEND_SIGN_TYPES,
             "HyperliquidTransaction:Withdraw": WITHDRAW_SIGN_TYPES}[vec["primaryType"]]
    digest = user_signed_digest(msg, types, vec["primaryType"])
    assert "0x" + digest.hex() == vec["testnet"]["eip712_digest"]
    sig = Signer(KEY).sign_digest(digest)
    want = vec["testnet"]
    assert (int(sig["r"], 16), int(sig["s"], 16), sig["v"]) == (int(want["r"], 16), int(want["s"], 16), want["v"])


def test_signer_repr_hides_the_key():
    assert KEY[2:] not in repr(Signer(KEY)) and ADDRESS in repr(Signer(KEY))


async def test_thousand_concurrent_nonces_are_distinct():
    source = NonceSource(lambda: 1_700_000_000_000)  # a frozen clock: the worst case

    async def one() -> int:
        await asyncio.sleep(0)
        return source.next()

    nonces = await asyncio.gather(*(one() for _ in range(1000)))
    assert len(set(nonces)) == 1000 and sorted(nonces) == list(range(1_700_000_000_000, 1_700_000_001_000))
