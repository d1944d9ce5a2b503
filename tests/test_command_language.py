"""The command language: a number is what the text says in plain ASCII decimal notation, or a usage line.

Issue #11 item 1 (a decimal comma read as a thousands separator, Unicode digits read as numbers, huge
exponents crashing the preview), the echo of bad input, and the typed size/price being what is sent.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exchanges.models import Side
from handlers.parsing import (
    UsageError,
    parse_cancel,
    parse_chart,
    parse_close,
    parse_count,
    parse_lev,
    parse_order,
    parse_symbol,
    parse_trigger,
)
from sim.telegram import Bucket
from tests.tg import Rig, button

ARABIC = str.maketrans("0123456789.", "٠١٢٣٤٥٦٧٨٩.")


def flat(msg: dict[str, Any]) -> str:
    """A message's text with its line breaks (phone-width wrapping) as spaces."""
    return " ".join((msg["text"] or "").split())


def refused(args: list[str], fn: Any = None) -> UsageError:
    with pytest.raises(UsageError) as err:
        (fn or (lambda a: parse_order(a, Side.BUY)))(args)
    return err.value


# ---- item 1, case by case -------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["0,5", "0,01"])
def test_a_decimal_comma_is_refused_never_read_as_thousands(size):
    err = refused(["ETH", size])  # /buy ETH 0,5 previewed BUY 5 ETH; /buy BTC 0,01 BUY 1 BTC
    assert "use a dot for decimals: 0.5" in err.problem
    for args in (["BTC", "0.01", "95,000"], ["BTC", "0.01", "tp=99,000"], ["BTC", "$1,000"]):
        assert "use a dot for decimals" in refused(args).problem
    assert "use a dot" in refused(["BTC", "5,5"], parse_close).problem


def test_arabic_indic_digits_are_not_numbers_anywhere():
    assert "must be a number" in refused(["BTC", "0.01".translate(ARABIC)]).problem  # size
    assert "must be a number" in refused(["BTC", "0.01", "95000".translate(ARABIC)]).problem  # price
    assert "lev must be a whole number" in refused(["BTC", "0.01", "lev=" + "3".translate(ARABIC)]).problem
    assert "must be a whole number" in refused(["BTC", "3".translate(ARABIC)], parse_lev).problem
    refused(["123".translate(ARABIC)], parse_cancel)  # was taken as an order id
    # other Unicode digits Decimal() and int() accept: full-width, Devanagari, superscript
    for odd in ("０.５", "०.५", "²", "𝟓"):
        refused(["BTC", odd])
        refused(["BTC", odd], parse_lev)
        refused(["BTC", odd], lambda a: parse_trigger(a, "tp"))
        refused([odd], lambda a: parse_count(a, "trades", 10, 100))


@pytest.mark.parametrize("args", [["BTC", "1e30"], ["BTC", "0.01", "tp=1e999"], ["BTC", "9" * 5000],
                                  ["BTC", "0.01", "9" * 5000], ["BTC", "$" + "9" * 5000],
                                  ["BTC", "0." + "0" * 5000 + "1"]])
def test_huge_numbers_and_exponents_get_a_short_usage_line(args):
    err = refused(args)
    assert len(err.problem) < 120, err.problem


def test_lev_and_cancel_ids_with_thousands_of_digits_are_usage_errors():
    refused(["BTC", "9" * 5000], parse_lev)  # int() of 5000 digits raises ValueError, not UsageError
    refused(["BTC", "0.01", "lev=" + "9" * 5000])
    assert len(refused(["9" * 5000], parse_cancel).problem) < 120
    assert len(refused(["0x" + "f" * 5000], parse_cancel).problem) < 120


def test_a_5000_character_symbol_is_echoed_shortened():
    err = refused(["X" * 5000, "1"])
    assert "X" * 20 + "…" in err.problem and len(err.problem) < 100, err.problem
    assert len(refused(["BTC", "1", "z" * 5000]).problem) < 100
    assert len(refused(["BTC", "1", "q=" + "z" * 5000]).problem) < 120


def test_plain_numbers_still_read_exactly():
    o = parse_order(["hl", "btc", "$500", "95000", "lev=3", "post", "reduce", "tp=99000.5", "sl=.5"], Side.BUY)
    assert (o.usd, o.price, o.leverage, o.tp, o.sl) == (D(500), D(95000), 3, D("99000.5"), D("0.5"))
    assert parse_order(["ETH", "0.5"], Side.SELL).size == D("0.5")
    assert parse_lev(["BTC", "5x"]) == (None, "BTC", 5)
    assert parse_close(["BTC", "50%"]).percent == D(50)
    assert parse_cancel(["123456"]).kind == "id"
    for args in (["BTC", "-1"], ["BTC", "0"], ["BTC", "0.000"], ["BTC", "+1"], ["BTC", "1_000"]):
        refused(args)


# ---- the property over the whole command language ------------------------------------------------

def _plain(token: str) -> bool:
    """The oracle, written apart from the parser: ASCII digits, at most one dot, at least one digit."""
    return (token.count(".") <= 1 and any(c in "0123456789" for c in token)
            and all(c in "0123456789." for c in token))


def _typed(words: list[str]) -> set[D]:
    """Every number the words spell in plain notation, bare or after $, before % or x, after key=."""
    out = set()
    for w in words:
        for t in (w, w[1:], w[:-1], w.partition("=")[2]):
            if _plain(t):
                out.add(D(t))
    return out


PARSERS = {
    "buy": lambda a: parse_order(a, Side.BUY, "buy"),
    "sell": lambda a: parse_order(a, Side.SELL, "sell"),
    "close": parse_close, "cancel": parse_cancel, "lev": parse_lev,
    "price": lambda a: parse_symbol(a, "price"), "chart": parse_chart,
    "tp": lambda a: parse_trigger(a, "tp"), "sl": lambda a: parse_trigger(a, "sl"),
    "trades": lambda a: parse_count(a, "trades", 10, 100),
}


def _numbers(cmd: str, result: Any, words: list[str]) -> list[D]:
    """The numbers a parse result carries; defaults (no word typed for them) left out."""
    if cmd in ("buy", "sell"):
        vals = [result.size, result.usd, result.price, result.tp, result.sl, result.leverage]
        return [D(v) for v in vals if v is not None]
    if cmd == "close":
        return [result.percent] if len(words) > 1 + (result.exchange is not None) else []
    if cmd == "lev":
        return [D(result[2])]
    if cmd in ("tp", "sl"):
        return [result[2]] if result[2] is not None else []
    if cmd == "trades":
        return [D(result)] if words else []
    return []


DIGIT_SETS = ("٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "０１２３４５６７８９", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_ints = st.one_of(st.integers(0, 200_000).map(str), st.text("0123456789", min_size=1, max_size=30))
PLAIN = st.builds(lambda i, f, dot: i + ("." + f if dot else ""), _ints, st.text("0123456789", max_size=14),
                  st.booleans())
NUMBER = st.one_of(
    PLAIN,
    st.builds(lambda s, d: s.translate(str.maketrans("0123456789", d)), PLAIN, st.sampled_from(DIGIT_SETS)),
    PLAIN.map(lambda s: s.replace(".", ",")),
    st.builds(lambda a, b: f"{a},{b:03d}", st.integers(0, 999), st.integers(0, 999)),
    st.builds(lambda s, e: s + e, PLAIN, st.sampled_from(["e30", "E-5", "e999", "e+2", "e0", "E5000"])),
    st.builds(lambda sign, s: sign + s, st.sampled_from(["-", "+", "−", "－", "﹣"]), PLAIN),
    st.builds(lambda s, sep: s.replace(".", sep), PLAIN,
              st.sampled_from(["_", "'", "’", "\u00a0", "\u202f", "\u200b"])),
    st.integers(10, 5000).map(lambda n: "9" * n),
    st.integers(0, 60).map(lambda n: "0." + "0" * n + "1"),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "sNaN", "0x10", ".", "..", "1.2.3", ".5", "5.", "0",
                     "0.0", "00", "1e30", "9" * 5000, "", "５", "½", "Ⅻ", "١٫٥"]),
)
WORD = st.one_of(
    NUMBER,
    NUMBER.map(lambda n: "$" + n), NUMBER.map(lambda n: n + "%"), NUMBER.map(lambda n: n + "x"),
    st.builds(lambda k, n: f"{k}={n}", st.sampled_from(["lev", "tp", "sl", "LEV", "Tp"]), NUMBER),
    st.sampled_from(["post", "ioc", "reduce", "off", "all", "1h", "15m", "0x1f2e", "BTC", "PURR/USDC", "hl", "paper"]),
)
SYMBOL = st.one_of(st.sampled_from(["BTC", "eth", "PURR/USDC", "B@D", "ＢＴＣ", "X" * 5000, "BTC\n"]),
                   st.text(max_size=30))
STRUCTURED = st.builds(lambda ex, sym, rest: [*ex, sym, *rest],
                       st.sampled_from([[], ["paper"], ["hl"]]), SYMBOL, st.lists(WORD, max_size=5))
ANY_TEXT = st.text().map(str.split)  # what Telegram hands a CommandHandler: the text split on whitespace


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cmd=st.sampled_from(sorted(PARSERS)), words=st.one_of(STRUCTURED, ANY_TEXT, st.lists(st.text(), max_size=6)))
@example(cmd="buy", words=["ETH", "0,5"])
@example(cmd="buy", words=["BTC", "0.01", "lev=٣"])
@example(cmd="lev", words=["BTC", "9" * 5000])
def test_every_number_is_the_typed_plain_number_or_a_usage_error(cmd, words):
    try:
        result = PARSERS[cmd](list(words))
    except UsageError as err:
        assert len(err.problem) < 200, err.problem  # never the whole bad input echoed back
        return
    typed = _typed(words)
    for n in _numbers(cmd, result, words):
        assert n in typed, (cmd, words, result)
    if cmd == "cancel" and result.kind == "id":
        assert result.target.isascii() and result.target in [w.lower() for w in words]
    symbol = getattr(result, "symbol", None) or (result[1] if isinstance(result, tuple) else None)
    assert symbol is None or (symbol.isascii() and len(symbol) <= 31 and "\n" not in symbol)


# ---- end to end: the real bot on the paper venue --------------------------------------------------

def unthrottled(rig: Rig) -> Rig:
    """The emulator's flood control (1 message/s per chat after 10) is not under test here."""
    rig.sim.chat_limits = (10_000, 10_000.0)
    rig.sim.global_bucket = Bucket(10_000, 10_000.0)
    return rig


BAD = ["/buy ETH 0,5", "/buy BTC 0,01", "/buy BTC ٠.٠١", "/buy BTC 0.01 ٩٥٠٠٠", "/buy BTC 0.01 lev=٣",
       "/lev BTC ٣", "/cancel ١٢٣", "/buy BTC 1e30", "/buy BTC 0.01 tp=1e999", "/buy BTC " + "9" * 5000,
       "/sell BTC 0.01 " + "9" * 5000, "/buy " + "X" * 5000 + " 1", "/close BTC 5,5", "/buy BTC $1e30"]


async def test_bad_numbers_get_a_usage_line_and_typed_numbers_are_sent(tmp_path):
    async with unthrottled(Rig(tmp_path)) as rig:
        me = rig.trader
        for text in BAD:
            msg = await me.ask(text)
            assert "Usage:" in msg["text"] and "Something went wrong" not in msg["text"], (text[:40], msg["text"])
            assert len(msg["text"]) < 400 and not msg.get("reply_markup"), (text[:40], msg["text"])

        preview = await me.ask("/buy BTC 0.01")
        c, _ = await rig.app.store.get_confirmation(button(preview, "ok:")[3:])
        assert D(c.payload["request"]["size"]) == D("0.01") and "0.01000 BTC" in preview["text"]

        below = await me.ask("/buy BTC 0.000001")
        assert "BTC sizes go in steps of 0.00001" in flat(below) and "Usage:" in below["text"], below["text"]
        assert not below.get("reply_markup")
        off = await me.ask("/buy BTC 0.123456")
        assert "0.123456 is not one (0.12345 or 0.12346?)" in flat(off), off["text"]
        price = await me.ask("/buy BTC 0.01 95000.5")
        assert "95000.5 is not one (95000 or 95001?)" in flat(price) and not price.get("reply_markup"), price["text"]
        tp = await me.ask("/buy BTC 0.01 tp=120000.5")
        assert "tp=120000.5 is not one (120000 or 120001?)" in flat(tp), tp["text"]

        unknown = await me.ask("/buy NOPE 1")  # refused at once, no zero-filled preview first
        assert "NOPE is not a market on paper" in flat(unknown) and not unknown.get("reply_markup")
        assert "Est. price" not in unknown["text"]
        dust = await me.ask("/buy BTC $0.0000000001")  # was a preview of zeros, then the refusal
        assert "less than the smallest BTC size, 0.00001" in flat(dust) and "Usage:" in dust["text"], dust["text"]
        assert await rig.paper.open_orders() == [] and await rig.paper.positions() == []

        await me.click(preview, button(preview, "ok:"))  # the 0.01 BTC: a position to close part of
        tiny = await me.ask("/close BTC 0.0000000001")  # was "exchange says: … rounds to zero"
        assert "0.0000000001% is too little to close" in flat(tiny) and "Usage:" in tiny["text"], tiny["text"]
        assert "exchange says" not in tiny["text"]


def _order_text(side: str, size: str, price: str | None, tp: str | None) -> str:
    return " ".join([f"/{side} BTC", size] + ([price] if price else []) + ([f"tp={tp}"] if tp else []))


def _mostly(usual: st.SearchStrategy[Any], *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`usual` two times in three, else one of the others."""
    return st.integers(0, 2).flatmap(lambda k: usual if k else st.one_of(*others))


# BTC on paper: lot 0.00001, 5 significant figures (whole dollars near 100,000); mostly on the grid, so
# many get as far as a preview, some just off it, some any spelling at all
_BTC_SIZE = _mostly(st.integers(1_000, 20_000).map(lambda n: str(D(n).scaleb(-5))),
                    st.integers(1, 200_000).map(lambda n: str(D(n).scaleb(-6))), NUMBER)
_BTC_PRICE = _mostly(st.one_of(st.none(), st.integers(97_000, 103_000).map(str)),
                     st.integers(970_000, 1_030_000).map(lambda n: str(D(n).scaleb(-1))), NUMBER)


def test_previews_carry_exactly_the_typed_size_and_price(tmp_path):
    """Generated orders through the bot: the stored request (what Confirm sends) is the typed numbers."""
    loop = asyncio.new_event_loop()
    rig = unthrottled(Rig(tmp_path))
    loop.run_until_complete(rig.__aenter__())
    previews: list[str] = []
    try:
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(side=st.sampled_from(["buy", "sell"]), size=_BTC_SIZE, price=_BTC_PRICE, tp=_BTC_PRICE)
        @example(side="buy", size="0.01", price=None, tp=None)
        @example(side="buy", size="0.01234", price="95000", tp="120000")
        @example(side="buy", size="0.012345", price=None, tp=None)  # the preview would round these: refused
        @example(side="sell", size="0.01", price="105000.5", tp=None)
        @example(side="buy", size="0.01", price=None, tp="120000.5")
        def check(side: str, size: str, price: str | None, tp: str | None) -> None:
            text = _order_text(side, size, price, tp)
            if len(text) > 4000:
                return  # not a message Telegram would carry
            msg = loop.run_until_complete(rig.trader.ask(text))
            assert "Something went wrong" not in msg["text"], (text[:60], msg["text"])
            if not msg.get("reply_markup"):  # a usage line or a refusal
                assert "Usage:" in msg["text"] or "⛔" in msg["text"] or "⚠️" in msg["text"], msg["text"]
                return
            found = loop.run_until_complete(rig.app.store.get_confirmation(button(msg, "ok:")[3:]))
            assert found is not None
            req = found[0].payload["request"]
            assert D(req["size"]) == D(size), (text, req)
            assert (req["price"] is None) if price is None else D(req["price"]) == D(price), (text, req)
            assert (req["take_profit"] is None) if tp is None else D(req["take_profit"]) == D(tp), (text, req)
            previews.append(text)

        check()
    finally:
        loop.run_until_complete(rig.__aexit__())
        loop.close()
    assert previews, "no generated order got as far as a preview"
