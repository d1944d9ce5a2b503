"""Confirmations that must not place, strangers who must not be heard, inputs that must not crash."""

from __future__ import annotations

import asyncio
import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FakeClock
from tests.tg import STRANGER, Rig, button


async def venue_orders(rig) -> int:
    return len(rig.paper.engine.orders)


async def test_double_press_places_one_order(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        ok = button(preview, "ok:")
        # two presses before the bot has answered the first (an impatient thumb, or a laggy network)
        await asyncio.gather(rig.trader.press(preview["message_id"], ok), rig.trader.press(preview["message_id"], ok))
        t = await rig.trader.wait(lambda t: len(t["callback_answers"]) >= 2 and "Filled" in t["messages"][-1]["text"])
        texts = sorted(str(a["text"]) for a in t["callback_answers"])
        assert texts == ["None", "This confirmation was already used."]
        assert await venue_orders(rig) == 1


async def test_another_users_press_places_nothing(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        ok = button(preview, "ok:")
        # the other trader presses the button on the trader's message (same chat: forwarded or shared)
        other = rig.other
        other.chat_id = rig.trader.chat_id
        await other.press(preview["message_id"], ok)
        t = await rig.trader.wait(lambda t: t["callback_answers"])
        assert t["callback_answers"][-1]["text"] == "This confirmation belongs to someone else."
        assert await venue_orders(rig) == 0
        done = await rig.trader.click(preview, ok)  # the owner still can
        assert "Filled" in done["text"] and await venue_orders(rig) == 1


async def test_an_expired_quote_places_nothing(tmp_path):
    clock = FakeClock()
    async with Rig(tmp_path, clock=clock) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        clock.advance(60_001)
        await rig.trader.press(preview["message_id"], button(preview, "ok:"))
        t = await rig.trader.wait(lambda t: t["callback_answers"])
        assert t["callback_answers"][-1]["text"].startswith("This quote expired; nothing was sent.")
        assert await venue_orders(rig) == 0


async def test_cancel_button_sends_nothing(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/sell BTC 0.01")
        gone = await rig.trader.click(preview, button(preview, "no:"))
        assert gone["text"] == "❌ Cancelled; nothing was sent." and gone["reply_markup"] is None
        assert await venue_orders(rig) == 0


async def test_a_moved_price_gives_a_fresh_quote_not_an_order(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy BTC 0.01")
        rig.paper.set_price("BTC", rig.paper.engine.mark("BTC") * 102 / 100)  # 2 % > 0.5 % slippage
        requote = await rig.trader.click(preview, button(preview, "ok:"))
        assert "Price moved: fresh quote" in requote["text"] and await venue_orders(rig) == 0
        done = await rig.trader.click(requote, button(requote, "ok:"))
        assert "Filled" in done["text"] and await venue_orders(rig) == 1


async def test_strangers_get_nothing_and_change_nothing(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")  # a real message with a real token
        for text in ("/start", "/balance", "/buy ETH 1", "/kill", "🛑 KILL", "hello"):
            await rig.stranger.send(text)
        forged = rig.stranger
        forged.chat_id = rig.trader.chat_id
        await forged.press(preview["message_id"], button(preview, "ok:"))  # a forged press on a real message
        forged.chat_id = STRANGER
        await rig.trader.ask("/status")  # the bot is alive and has handled everything before this
        assert await rig.stranger.bot_messages() == []
        t = await rig.trader.transcript()
        assert t["callback_answers"] == []  # not even an answer to the forged press
        assert await venue_orders(rig) == 0 and rig.app.risk.state.state.value == "ACTIVE"
        with sqlite3.connect(tmp_path / "bot.db") as db:
            denied = db.execute("SELECT user_id, kind, text FROM audit WHERE outcome = 'denied'").fetchall()
        assert len(denied) == 7 and {d[0] for d in denied} == {STRANGER}
        assert ("button", button(preview, "ok:")) in {(d[1], d[2]) for d in denied}


async def test_usage_replies_for_malformed_commands(tmp_path):
    async with Rig(tmp_path) as rig:
        cases = {
            "/buy": "give a symbol and a size",
            "/buy BTC": "give a symbol and a size",
            "/buy BTC -1": "must be a positive number",
            "/buy BTC 0.01 lev=abc": "lev must be a whole number",
            "/buy BTC 0.01 wat": "the price must be a number, got 'wat'",
            "/buy BTC 0.01 95000 wat=1": "unknown option",
            "/sell BTC 0.01 post": "post-only needs a limit price",
            "/close": "give a symbol",
            "/lev BTC x": "leverage must be a whole number",
            "/price": "give one symbol",
            "/buy aster BTC 1": "aster is not enabled",
            "/frobnicate": "Unknown command",
        }
        for text, words in cases.items():
            msg = await rig.trader.ask(text)
            assert words in msg["text"], (text, msg["text"])
            if "Usage" in msg["text"]:
                assert "Example:" in msg["text"]
        assert await venue_orders(rig) == 0


TEXTS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda c, rest: f"/{c} {rest}", st.sampled_from(["buy", "sell", "long", "short", "close", "cancel",
                                                               "lev", "price", "funding"]),
              st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)),
)


async def test_arbitrary_command_texts_never_crash_or_place(tmp_path):
    # 40 replies in a row: Telegram's 1 message/s per chat (emulated) is not what this test is about
    async with Rig(tmp_path, telegram_limits={"chat_capacity": 100, "chat_rate": 100}) as rig:
        seen: list[str] = []

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(TEXTS)
        def run(text: str) -> None:
            seen.append(text)

        run()
        for text in seen:
            if not text.strip():
                continue
            reply = await rig.trader.ask(text, within=10)
            assert "Traceback" not in (reply["text"] or "")
            assert "Something went wrong" not in (reply["text"] or ""), (text, reply["text"])
        assert await venue_orders(rig) == 0  # previews at most: nothing without a Confirm


async def test_a_confirm_that_cannot_reach_the_venue_says_so_and_can_be_pressed_again(tmp_path):
    async with Rig(tmp_path) as rig:
        preview = await rig.trader.ask("/buy ETH 0.1")
        ok = button(preview, "ok:")
        rig.paper.faults.down = True  # the re-check on Confirm cannot read the venue: nothing is sent
        told = await rig.trader.click(preview, ok)
        assert "paper says: paper venue is down" in told["text"] and await venue_orders(rig) == 0
        t = await rig.trader.transcript()
        assert t["callback_answers"][-1]["text"] is None  # the press itself was answered (no spinner left)
        rig.paper.faults.down = False
        done = await rig.trader.click(preview, ok)  # the same button, once the venue is back
        assert "Filled" in done["text"] and await venue_orders(rig) == 1
