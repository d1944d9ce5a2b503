"""Aster signing reproduces every vector in ../shared/fixtures/aster/signing_vectors.json: V1 HMAC
(the Aster and Binance docs' examples) and V3 EIP-712 (digests and signatures, both chain ids)."""

from __future__ import annotations

import pytest

from exchanges.aster.signing import V3Signer, domain_separator, encode, hmac_signature, recover_v3, v3_digest
from tests.conftest import fixture

VECTORS = fixture("aster/signing_vectors.json")
V3 = VECTORS["v3_eip712_current"]
CASES = V3["cases"]


@pytest.mark.parametrize("vec", VECTORS["hmac_sha256"], ids=lambda v: v["origin"][:40])
def test_v1_hmac_vectors(vec):
    assert hmac_signature(vec["secretKey"], vec["payload"]) == vec["signature"]


def test_v1_hmac_covers_the_query_and_the_body_joined_without_a_separator():
    vec = VECTORS["hmac_sha256"][0]
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
    # the docs' mixed example (part in the query, part in the body): the value the errata computed
    assert hmac_signature(vec["secretKey"], query + body) == (
        "30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4")


@pytest.mark.parametrize("vec", CASES, ids=lambda v: f"{v['origin']}-{v['chainId']}-{v['msg'][:24]}")
def test_v3_eip712_vectors(vec):
    chain = int(vec["chainId"])
    if "domainSeparator" in vec:
        assert "0x" + domain_separator(chain).hex() == vec["domainSeparator"]
    if "digest" in vec:
        assert "0x" + v3_digest(vec["msg"], chain).hex() == vec["digest"]
    signer = V3Signer(V3["privateKey"], chain_id=chain)
    assert signer.sign(vec["msg"]) == vec["signature"]
    assert recover_v3(vec["msg"], vec["signature"], chain) == signer.address


def test_the_signer_is_the_api_wallet_and_its_key_is_never_shown():
    signer = V3Signer(V3["privateKey"])
    assert signer.address == V3["signer"].lower()
    assert V3["privateKey"][2:] not in repr(signer)


def test_recovery_tells_another_signer_and_refuses_garbage():
    vec = CASES[0]
    assert recover_v3(vec["msg"] + "&x=1", vec["signature"], 1666) != V3["signer"].lower()
    assert recover_v3(vec["msg"], vec["signature"][2:], 1666) == V3["signer"].lower()  # without 0x too
    with pytest.raises(ValueError):
        recover_v3(vec["msg"], "0x1234", 1666)


def test_the_parameter_string_keeps_the_order_given_and_escapes_values():
    assert encode([("symbol", "BTCUSDT"), ("side", "BUY"), ("nonce", "1")]) == "symbol=BTCUSDT&side=BUY&nonce=1"
    assert encode([("a", "+&="), ("b", "hello world")]) == "a=%2B%26%3D&b=hello+world"
