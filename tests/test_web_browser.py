"""The chat page in a real headless Chromium, used as a person uses it, against the demo (emulated
Hyperliquid, the real PTB application, handlers, notifier, alerts): one phone-width session."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

import pytest

from bot.demo import Demo, Options
from handlers.keyboards import KILL_TEXT
from tests.web import OVERFLOW_JS, ROWS_JS, browser_missing, chrome, wait_for

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


def rows(driver: Any) -> list[dict[str, Any]]:
    return list(driver.execute_script(ROWS_JS))


def type_and_send(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.ID, "input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def answer_to(driver: Any, text: str, has: str, within: float = 10.0) -> dict[str, Any]:
    """Send `text`; the first bot message after it that contains `has`."""
    before = max((r["id"] for r in rows(driver)), default=0)
    type_and_send(driver, text)
    return wait_for(lambda: next((r for r in rows(driver) if r["id"] > before and not r["out"] and has in r["text"]),
                                 None), within, f"an answer to {text!r} with {has!r}")


def click_button(driver: Any, message_id: int, label: str) -> None:
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, f'#messages .row[data-id="{message_id}"]')
    next(b for b in row.find_elements(By.CSS_SELECTOR, ".inline-keyboard button") if b.text == label).click()


def no_overflow(driver: Any) -> None:
    m = driver.execute_script(OVERFLOW_JS)
    assert m["width"] == 375, m
    assert m["scroll"] <= m["width"] and m["body"] <= m["width"] and m["list"] <= m["listWidth"], m
    assert m["out"] == [], m["out"]


def session_in_the_browser(url: str, loop: asyncio.AbstractEventLoop, hl: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = chrome(375, 760)
    try:
        driver.get(url)
        wait_for(lambda: driver.execute_script("return document.body.dataset.loaded === '1'"), what="the history")
        assert "?t=" not in driver.current_url  # the token moved into the cookie, out of the address bar
        wait_for(lambda: driver.find_element(By.ID, "status").text == "online", what="the live stream")

        start = wait_for(lambda: driver.find_element(By.ID, "start-button"), what="the START button")
        assert start.is_displayed()  # a chat the user never wrote in, as Telegram shows it
        start.click()
        wait_for(lambda: any("is ready" in r["text"] for r in rows(driver) if not r["out"]), what="the /start answer")
        assert not start.is_displayed()
        kill_key = wait_for(lambda: next(b for b in driver.find_elements(By.CSS_SELECTOR, "#reply-keyboard button")
                                         if b.text == KILL_TEXT), what="the reply keyboard with KILL")
        assert "$10,000.00" in answer_to(driver, "/balance", "Account value")["text"]

        preview = answer_to(driver, "/buy BTC 0.001", "Est. price")
        assert preview["buttons"] == ["✅ Confirm", "❌ Cancel"]
        click_button(driver, preview["id"], "✅ Confirm")
        result = wait_for(lambda: next(r for r in rows(driver) if r["id"] == preview["id"]
                                       and "✅ Filled" in r["text"]), what="the preview edited into the result")
        assert result["buttons"] == [] and "Est. price" not in result["text"]
        wait_for(lambda: any("Filled BUY 0.001 BTC" in r["text"] for r in rows(driver) if r["id"] > preview["id"]),
                 what="the fill alert")

        # a resting order filled by the market: an alert nobody asked for, pushed to the open page
        resting = answer_to(driver, "/buy ETH 0.01 3470", "Est. price")
        click_button(driver, resting["id"], "✅ Confirm")
        wait_for(lambda: next(r for r in rows(driver) if r["id"] == resting["id"] and "Resting" in r["text"]),
                 what="the resting order")
        pushed_before = max(r["id"] for r in rows(driver))
        loop.call_soon_threadsafe(hl.set_price, "ETH", D(3460))
        wait_for(lambda: any("Filled BUY 0.01 ETH" in r["text"] for r in rows(driver) if r["id"] > pushed_before),
                 what="the pushed fill alert")

        before = max(r["id"] for r in rows(driver))
        type_and_send(driver, "/pnl")
        wait_for(lambda: next(r for r in rows(driver) if r["id"] > before and r["img"] and r["img"] > 400),
                 within=20, what="the PnL chart image, loaded")

        kill_key.click()
        report = wait_for(lambda: next(r for r in rows(driver) if "KILL SWITCH" in r["text"]), what="the kill report")
        assert "HALTED" in report["text"]

        alerts = answer_to(driver, "/alerts", "fills: on")
        click_button(driver, alerts["id"], next(b for b in alerts["buttons"] if "ills" in b))
        toast = driver.find_element(By.ID, "toast")
        wait_for(lambda: toast.is_displayed() and "fills: silent" in toast.text, what="the button's answer (toast)")

        answer_to(driver, "/positions", "BTC")  # a table in <pre>, with a button per position
        type_and_send(driver, "x" * 300)  # one unbroken word, far wider than a phone
        wait_for(lambda: any(r["out"] and r["text"].startswith("x" * 300) for r in rows(driver)), what="the long word")
        no_overflow(driver)
        seen = [r["text"] for r in rows(driver)]
        driver.refresh()
        wait_for(lambda: driver.execute_script("return document.body.dataset.loaded === '1'"), what="the reload")
        after = [r["text"] for r in rows(driver)]
        assert after == seen and any("Account value" in t for t in after) and any("KILL SWITCH" in t for t in after)
        no_overflow(driver)
    finally:
        driver.quit()


async def test_a_whole_session_in_a_phone_browser(tmp_path):
    demo = Demo(tmp_path, port=0, options=Options(tick_s=None, crowd_s=None), console=lambda _: None)
    await demo.start()
    try:
        await asyncio.to_thread(session_in_the_browser, demo.url, asyncio.get_running_loop(),
                                demo.venue("hyperliquid"))
    finally:
        await demo.stop()
