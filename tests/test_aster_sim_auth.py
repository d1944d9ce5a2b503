"""Authentication as the venue checks it: V3 EIP-712 with nonces, V1 HMAC with timestamp + recvWindow.

Each refusal is the venue's code and message; each accepted form is one the venue accepts (the docs'
demo, ccxt's, the API-wallet form without `user`).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import aiohttp
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from sim.aster.auth import domain_separator, hmac_signature, message_digest, recover
from tests.aster import (
    API_KEY,
    API_SECRET,
    MAIN,
    MAIN_KEY,
    SIGNER,
    SIGNER_KEY,
    USER,
    Client,
    aster_venue,
    call,
    control,
    nonce,
    registered,
    sign_v3,
)
from tests.conftest import fixture

VECTORS = fixture("aster/signing_vectors.json")
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
         "price": "99000"}


@pytest.fixture
async def venue():
    async with aster_venue() as (sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        yield sim, url, Client(s, url), s


# ---- the vectors ----
@pytest.mark.parametrize("case", VECTORS["v3_eip712_current"]["cases"], ids=lambda c: f"{c['origin']}-{c['chainId']}")
def test_every_eip712_vector_verifies_on_the_emulator_side(case):
    digest = message_digest(case["msg"], case["chainId"])
    if "digest" in case:
        assert "0x" + digest.hex() == case["digest"]
    if "domainSeparator" in case:
        assert "0x" + domain_separator(case["chainId"]).hex() == case["domainSeparator"]
    assert recover(digest, case["signature"]) == VECTORS["v3_eip712_current"]["signer"].lower()
    assert recover(digest, case["signature"][2:].upper()) == VECTORS["v3_eip712_current"]["signer"].lower()


@pytest.mark.parametrize("case", VECTORS["hmac_sha256"], ids=lambda c: c["origin"][:20])
def test_every_hmac_vector_verifies(case):
    assert hmac_signature(case["secretKey"], case["payload"]) == case["signature"]


@pytest.mark.parametrize("case", VECTORS["hmac_sha256"][:3], ids=["aster-futures", "aster-spot", "binance-spot"])
async def test_a_v1_client_signing_per_the_docs_is_accepted(case):
    """The docs' exact request, signature and all, at the moment it was signed."""
    params = dict(p.split("=") for p in case["payload"].split("&"))
    spot = "aster-finance-spot" in case["origin"] or "Binance" in case["origin"]
    async with aster_venue(clock=lambda: int(params["timestamp"]) + 200) as (_sim, url), aiohttp.ClientSession() as s:
        await control(url, "apikey", {"user": USER, "api_key": case["apiKey"], "api_secret": case["secretKey"]})
        path = "/api/v1/order" if spot else "/fapi/v1/order"
        body = f"{case['payload']}&signature={case['signature']}"
        status, data, _ = await call(s, "POST", url + path, body=body, headers={"X-MBX-APIKEY": case["apiKey"]})
        if params["symbol"] == "LTCBTC":  # Binance's pair: signature and key accepted, then the symbol refused
            assert (status, data) == (400, {"code": -1121, "msg": "Invalid symbol."})
            return
        assert status == 200, data
        assert data["status"] == "NEW" and data["symbol"] == params["symbol"] and data["price"].startswith(
            params["price"])
        # the same request in the query string instead of the body
        status, data, _ = await call(s, "POST", url + path, body, headers={"X-MBX-APIKEY": case["apiKey"]})
        assert status == 200, data
        if "doc_errata" in case:  # mixed: query + body, signed over their concatenation (no "&" between)
            query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
            rest = "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943"
            assert hmac_signature(case["secretKey"], query + rest) == "30baaf0fab549bbeda7f5ef201898b34122da25fd23" \
                "c646cac2c529aebe670a4"
            status, data, _ = await call(s, "POST", url + path, query, body=f"{rest}&signature=30baaf0fab549bbeda7f5e"
                                         "f201898b34122da25fd23c646cac2c529aebe670a4",
                                         headers={"X-MBX-APIKEY": case["apiKey"]})
            assert status == 200, data


# ---- V1 refusals ----
async def test_v1_wrong_signature_stale_timestamp_and_keys(venue):
    sim, url, c, s = venue
    now = sim.clock()
    assert (await c.v1("GET", "/fapi/v2/balance"))[0] == 200
    status, data, _ = await c.v1("GET", "/fapi/v2/balance", secret="not-the-secret")
    assert (status, data) == (400, {"code": -1022, "msg": "Signature for this request is not valid."})
    status, data, _ = await c.v1("GET", "/fapi/v2/balance", timestamp=now - 6000)
    assert data == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
    status, data, _ = await c.v1("GET", "/fapi/v2/balance", timestamp=now + 1500)
    assert data == {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of the server's time."}
    q = urlencode({"timestamp": now - 6000, "recvWindow": 10_000})
    signed = f"{q}&signature={hmac_signature(API_SECRET, q)}"
    status, data, _ = await call(s, "GET", url + "/fapi/v2/balance", signed, headers={"X-MBX-APIKEY": API_KEY})
    assert status == 200  # a wider recvWindow takes it
    status, data, _ = await c.v1("GET", "/fapi/v2/balance", api_key="unknown")
    assert (status, data) == (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    status, data, _ = await call(s, "POST", url + "/fapi/v1/listenKey")
    assert data == {"code": -2014, "msg": "API-key format invalid."}
    status, data, _ = await call(s, "POST", url + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": API_KEY})
    assert status == 200 and len(data["listenKey"]) == 64  # USER_STREAM: the key alone


# ---- V3: what is accepted ----
async def test_v3_forms_the_venue_accepts(venue):
    _sim, url, c, s = venue
    assert (await c.v3("POST", "/fapi/v3/order", ORDER))[0] == 200  # user + signer, form body
    assert (await c.v3("POST", "/fapi/v3/order", ORDER, in_query=True))[0] == 200  # the docs' send_by_url
    assert (await c.v3("GET", "/fapi/v3/openOrders", {"symbol": "BTCUSDT"}, user=None))[0] == 200  # signer alone
    assert (await c.v3("GET", "/fapi/v3/balance", key=MAIN_KEY, user=MAIN, signer=None))[0] == 200  # main wallet
    # any parameter order, addresses in any case, the signature without 0x: it covers the string as sent
    msg = urlencode(sorted({"nonce": str(nonce()), "signer": SIGNER.upper().replace("0X", "0x"), "symbol": "BTCUSDT",
                            "user": USER.lower()}.items()))
    status, data, _ = await call(s, "GET", url + "/fapi/v3/openOrders", f"{msg}&signature={sign_v3(msg)[2:]}")
    assert status == 200 and len(data) == 2
    # ccxt signs /fapi/v4/account with V3 too
    assert (await c.v3("GET", "/fapi/v4/account"))[0] == 200


async def test_v3_testnet_signs_with_chain_id_714():
    async with aster_venue(testnet=True) as (_sim, url), aiohttp.ClientSession() as s:
        await registered(url)
        msg = urlencode({"nonce": nonce(), "user": USER, "signer": SIGNER})
        good = await call(s, "GET", url + "/fapi/v3/balance", f"{msg}&signature={sign_v3(msg, chain_id=714)}")
        assert good[0] == 200
        msg = urlencode({"nonce": nonce(), "user": USER, "signer": SIGNER})
        mainnet = await call(s, "GET", url + "/fapi/v3/balance", f"{msg}&signature={sign_v3(msg)}")
        assert mainnet[1] == {"code": -1022, "msg": "Signature for this request is not valid."}


# ---- V3: refusals ----
async def test_v3_refusals_in_the_venues_words(venue):
    sim, url, c, s = venue
    bad = {"code": -1022, "msg": "Signature for this request is not valid."}
    status, data, _ = await c.v3("GET", "/fapi/v3/balance", key=MAIN_KEY)  # claims SIGNER, signed by another key
    assert (status, data) == (400, bad)
    msg = urlencode({"nonce": nonce(), "user": USER, "signer": SIGNER})
    tampered = await call(s, "GET", url + "/fapi/v3/balance", f"{msg}&symbol=ETHUSDT&signature={sign_v3(msg)}")
    assert tampered[1] == bad  # a parameter outside the signed string
    # reused nonce, and one older than the window: the V3 demo's answer
    n = nonce()
    assert (await c.v3("GET", "/fapi/v3/balance", nonce_us=n))[0] == 200
    assert (await c.v3("GET", "/fapi/v3/balance", nonce_us=n))[1] == {"code": -4225, "msg": "Nonce Expired"}
    stale = (sim.clock() - 11_000) * 1000
    assert (await c.v3("GET", "/fapi/v3/balance", nonce_us=stale))[1] == {"code": -4225, "msg": "Nonce Expired"}
    ahead = (sim.clock() + 11_000) * 1000
    assert (await c.v3("GET", "/fapi/v3/balance", nonce_us=ahead))[1]["code"] == -1021
    # a signer that is not an API wallet of the user (nor of anyone, when sent alone)
    stranger = Account.create()
    status, data, _ = await c.v3("GET", "/fapi/v3/balance", key=stranger.key.hex(), signer=stranger.address)
    assert data == {"code": -1000, "msg": "Signature check failed"}
    status, data, _ = await c.v3("GET", "/fapi/v3/balance", key=stranger.key.hex(), signer=stranger.address,
                                 user=None)
    assert data == {"code": -1000, "msg": "Signature check failed"}
    # nothing to say who it is
    status, data, _ = await call(s, "GET", url + "/fapi/v3/balance", "signature=0x00")
    assert data == {"code": -1102, "msg": "Mandatory parameter 'nonce' was not sent, was empty/null, or malformed."}
    # a V1 HMAC request on a V3 path
    assert (await c.v1("GET", "/fapi/v3/balance"))[1]["code"] == -1102


async def test_v3_keeps_the_last_hundred_nonces_per_user(venue):
    sim, _url, c, _s = venue
    base = nonce()
    for i in range(100):
        sim.registry.check_nonce(USER.lower(), base + 10 * i)
    assert (await c.v3("GET", "/fapi/v3/balance", nonce_us=base + 5))[0] == 200  # above the smallest, unseen
    assert (await c.v3("GET", "/fapi/v3/balance", nonce_us=base + 1))[1] == {"code": -4225, "msg": "Nonce Expired"}


async def test_the_obsolete_v3_scheme_is_refused(venue):
    """personal_sign over keccak(abi.encode(...)) was replaced by EIP-712 in 2026-01: it no longer verifies."""
    _sim, url, _c, s = venue
    msg = urlencode({"nonce": nonce(), "user": USER, "signer": SIGNER})
    legacy = Account.sign_message(encode_defunct(text=msg), private_key=SIGNER_KEY).signature.hex()
    _status, data, _ = await call(s, "GET", url + "/fapi/v3/balance", f"{msg}&signature=0x{legacy.removeprefix('0x')}")
    assert data["code"] == -1022


async def test_approve_builder_must_be_signed_by_the_main_wallet(venue):
    sim, url, _c, s = venue
    params = {"nonce": str(nonce()), "user": USER, "builder": "0x" + "ab" * 20, "builderName": "x",
              "maxFeeRate": "0.001", "signatureChainId": "1666", "asterChain": "Mainnet"}
    msg = urlencode(params)
    _status, data, _ = await call(s, "POST", url + "/fapi/v3/approveBuilder", body=f"{msg}&signature={sign_v3(msg)}")
    assert data == {"code": -1022, "msg": "Signature for this request is not valid."}
    assert sim.registry.builders == {}
    assert json.dumps(data)  # an answer, not a dropped connection
