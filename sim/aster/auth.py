"""Who is asking: V3 EIP-712 signatures with nonces, and V1 HMAC-SHA256 with timestamp + recvWindow.

V3 ("Pro API"): the signature is an EIP-712 `Message(string msg)` in the `AsterSignTransaction`
domain (chainId 1666, testnet 714) over the exact parameter string sent — the query string of a GET,
the form body otherwise (or the query string when the body is empty) — without its `signature`
parameter. The recovered address must be the declared `signer` (or `user`, when only the user is
sent), and the signer must be the user or an API wallet registered for it; `signer` alone names an
API wallet, whose user is the one it is registered for. Nonces are microseconds within the window
of the server's time; each user keeps the last 100: a nonce seen before, or below the smallest of a
full list, is refused. Main-wallet actions ccxt uses (`approveBuilder`) are signed over their own
typed struct, in the domain of the request's `signatureChainId`.

V1 (HMAC, Binance's scheme): `X-MBX-APIKEY` names a registered key; the signature is the hex
HMAC-SHA256 of the query string concatenated with the body (no separator) without the signature
parameter; `timestamp` must be less than the server time + 1 s and within `recvWindow` (default
5000 ms, at most 60000) of it.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

import coincurve
from eth_utils import keccak

from sim.aster import errors as E
from sim.aster.errors import AsterError, err, mandatory

MAINNET_CHAIN_ID = 1666
TESTNET_CHAIN_ID = 714
NONCES_KEPT = 100
_ZERO_ADDRESS = b"\x00" * 32
_DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_MESSAGE_TYPEHASH = keccak(b"Message(string msg)")
# main-wallet actions: primary type and fields (capitalised parameter names), in the order ccxt and
# the venue's demo sign them
MAIN_WALLET_TYPES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "approveBuilder": ("ApproveBuilder", (("Builder", "string"), ("MaxFeeRate", "string"), ("BuilderName", "string"),
                                          ("AsterChain", "string"), ("User", "string"), ("Nonce", "uint256"))),
}


def domain_separator(chain_id: int) -> bytes:
    return keccak(_DOMAIN_TYPEHASH + keccak(b"AsterSignTransaction") + keccak(b"1") + chain_id.to_bytes(32, "big")
                  + _ZERO_ADDRESS)


def message_digest(msg: str, chain_id: int = MAINNET_CHAIN_ID) -> bytes:
    """The EIP-712 digest of `Message{msg}`: what a V3 request's signature signs."""
    struct = keccak(_MESSAGE_TYPEHASH + keccak(msg.encode()))
    return keccak(b"\x19\x01" + domain_separator(chain_id) + struct)


def main_wallet_digest(action: str, params: dict[str, str], chain_id: int) -> bytes:
    primary, fields_ = MAIN_WALLET_TYPES[action]
    typehash = keccak(f"{primary}({','.join(f'{t} {n}' for n, t in fields_)})".encode())
    parts = [typehash]
    for name, kind in fields_:
        value = params.get(name[0].lower() + name[1:], "")
        if kind == "uint256":
            try:
                parts.append(int(value).to_bytes(32, "big"))
            except (ValueError, OverflowError):
                raise mandatory(name[0].lower() + name[1:]) from None
        else:
            parts.append(keccak(value.encode()))
    return keccak(b"\x19\x01" + domain_separator(chain_id) + keccak(b"".join(parts)))


def recover(digest: bytes, signature: str) -> str:
    """The address that signed `digest`; `signature` is r‖s‖v in hex, with or without 0x, any case."""
    raw = bytes.fromhex(signature[2:] if signature[:2].lower() == "0x" else signature)
    if len(raw) != 65:
        raise ValueError("a signature is 65 bytes")
    v = raw[64] - 27 if raw[64] >= 27 else raw[64]
    if v not in (0, 1):
        raise ValueError("bad recovery id")
    pub = coincurve.PublicKey.from_signature_and_message(raw[:64] + bytes([v]), digest, hasher=None)
    return "0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex()


def hmac_signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """(the string without its `signature` parameter, the signature) of a raw parameter string."""
    kept, sig = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), sig


def parse_params(*raws: str) -> dict[str, str]:
    """Decoded parameters; a name sent twice is refused (the first string wins across strings)."""
    out: dict[str, str] = {}
    for raw in raws:
        seen: set[str] = set()
        for k, v in parse_qsl(raw, keep_blank_values=True):
            if k in seen:
                raise AsterError(-1101, "Duplicate values for a parameter detected.")
            seen.add(k)
            out.setdefault(k, v)
    return out


@dataclass(frozen=True, slots=True)
class Identity:
    user: str  # the account acted on (lowercase address, or a V1 key's owner)
    signer: str  # who signed (V3: an address; V1: the API key)
    scheme: str  # "v3" | "v1"


@dataclass
class Registry:
    """Accounts the venue knows: API wallets (signer -> user), V1 keys (key -> (user, secret)),
    builder approvals (user -> builder -> (max fee rate, name)), and the V3 nonces of each user."""

    agents: dict[str, str] = field(default_factory=dict)
    api_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    builders: dict[str, dict[str, tuple[Decimal, str]]] = field(default_factory=dict)
    nonces: dict[str, list[int]] = field(default_factory=dict)

    def check_nonce(self, user: str, nonce: int) -> None:
        seen = self.nonces.setdefault(user, [])
        i = bisect.bisect_left(seen, nonce)
        if (i < len(seen) and seen[i] == nonce) or (len(seen) >= NONCES_KEPT and nonce < seen[0]):
            raise err(E.NONCE_EXPIRED)
        seen.insert(i, nonce)
        if len(seen) > NONCES_KEPT:
            del seen[0]


class Verifier:
    def __init__(self, registry: Registry, clock: Callable[[], int], *, chain_id: int = MAINNET_CHAIN_ID,
                 nonce_window_ms: int = 10_000):
        self.r, self.clock, self.chain_id, self.window_ms = registry, clock, chain_id, nonce_window_ms

    # ---- V3 ----
    def v3(self, raw_query: str, raw_body: str, action: str | None = None) -> tuple[Identity, dict[str, str]]:
        """Check a V3 request; returns who it is and its parameters. `action` names a main-wallet
        action signed over its own typed struct (see MAIN_WALLET_TYPES)."""
        signed_part = raw_body if "signature=" in raw_body or not raw_query else raw_query
        signed, sig = split_signature(signed_part)
        params = parse_params(signed_part)  # only what the signature covers counts
        params.pop("signature", None)
        if not sig:
            raise mandatory("signature")
        nonce_s = params.get("nonce", "")
        if not nonce_s.isdigit():
            raise mandatory("nonce")
        user, signer = params.get("user", "").lower(), params.get("signer", "").lower()
        if not user and not signer:
            raise mandatory("signer")
        sig = parse_qsl("s=" + sig)[0][1] if "%" in sig else sig
        try:
            if action in MAIN_WALLET_TYPES:
                chain = int(params.get("signatureChainId") or self.chain_id)
                digest = main_wallet_digest(action, params, chain)
            else:
                digest = message_digest(signed, self.chain_id)
            who = recover(digest, sig)
        except (ValueError, TypeError):
            raise err(E.BAD_SIGNATURE) from None
        if action in MAIN_WALLET_TYPES:  # the main wallet itself must sign these
            if who != user:
                raise err(E.BAD_SIGNATURE)
            signer = user
        elif signer:
            if who != signer:
                raise err(E.BAD_SIGNATURE)
            owner = self.r.agents.get(signer)
            if user and user != signer and owner != user:
                raise err(E.SIGNATURE_CHECK_FAILED)  # not an API wallet of this user
            if not user:
                if owner is None:
                    raise err(E.SIGNATURE_CHECK_FAILED)  # `signer` alone must be a registered API wallet
                user = owner
        elif who != user:
            raise err(E.BAD_SIGNATURE)
        else:
            signer = user
        self._check_nonce_time(int(nonce_s))
        self.r.check_nonce(user, int(nonce_s))
        return Identity(user, signer, "v3"), params

    def _check_nonce_time(self, nonce_us: int) -> None:
        now_us = self.clock() * 1000
        if nonce_us > now_us + self.window_ms * 1000:
            raise err(E.TIMESTAMP_AHEAD)
        if nonce_us < now_us - self.window_ms * 1000:
            raise err(E.NONCE_EXPIRED)

    # ---- V1 ----
    def v1(self, api_key: str | None, raw_query: str, raw_body: str, *,
           signed: bool) -> tuple[Identity, dict[str, str]]:
        """Check a V1 request: the API key always, the signature and timestamp when `signed`."""
        if not api_key:
            raise err(E.API_KEY_FORMAT, 401)
        known = self.r.api_keys.get(api_key)
        if known is None:
            raise err(E.API_KEY_REJECTED, 401)
        user, secret = known
        params = parse_params(raw_query, raw_body)
        if not signed:
            params.pop("signature", None)
            return Identity(user, api_key, "v1"), params
        q, sig_q = split_signature(raw_query)
        b, sig_b = split_signature(raw_body)
        sig = sig_b or sig_q
        params.pop("signature", None)
        ts = params.get("timestamp", "")
        if not ts.isdigit():
            raise mandatory("timestamp")
        window = params.get("recvWindow", "5000")
        if not window.isdigit() or int(window) > 60_000:
            raise AsterError(-1131, "recvWindow must be less than 60000")
        now = self.clock()
        if int(ts) >= now + 1000:
            raise err(E.TIMESTAMP_AHEAD)
        if now - int(ts) > int(window):
            raise err(E.TIMESTAMP_OUTSIDE)
        if not sig:
            raise mandatory("signature")
        if not hmac.compare_digest(hmac_signature(secret, q + b), sig.lower()):
            raise err(E.BAD_SIGNATURE)
        return Identity(user, api_key, "v1"), params


__all__ = ["MAINNET_CHAIN_ID", "TESTNET_CHAIN_ID", "Identity", "Registry", "Verifier", "domain_separator",
           "hmac_signature", "main_wallet_digest", "message_digest", "parse_params", "recover", "split_signature"]
