"""Regenerate docs/chat.png, the README's picture of the chat page: `python scripts/screenshot.py [OUT.png]`.

It runs the demo in this process (emulated Hyperliquid, prices held still so the picture is the same
each time), drives the page in headless Chromium as a trader would, and saves a phone-sized screenshot.
Needs Debian's chromium and chromium-driver, and selenium (the `test` extra).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.demo import Demo, Options  # noqa: E402
from tests.web import ROWS_JS, browser_missing, chrome, wait_for  # noqa: E402

WIDTH, HEIGHT = 390, 844  # a phone, in CSS pixels


def drive(url: str, out: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = chrome(WIDTH, HEIGHT, scale=2)
    try:
        driver.get(url)
        wait_for(lambda: driver.execute_script("return document.body.dataset.loaded === '1'"), what="the page")

        def rows() -> list[dict[str, Any]]:
            return list(driver.execute_script(ROWS_JS))

        def say(text: str, has: str) -> dict[str, Any]:
            before = max((r["id"] for r in rows()), default=0)
            box = driver.find_element(By.ID, "input")
            box.send_keys(text)
            box.send_keys(Keys.ENTER)
            return wait_for(lambda: next((r for r in rows() if r["id"] > before and not r["out"] and has in r["text"]),
                                         None), what=f"the answer to {text}")

        say("/start", "is ready")
        say("/balance", "Account value")
        preview = say("/buy BTC 0.001", "Est. price")
        row = driver.find_element(By.CSS_SELECTOR, f'#messages .row[data-id="{preview["id"]}"]')
        row.find_element(By.CSS_SELECTOR, ".inline-keyboard button").click()
        wait_for(lambda: any("Filled BUY" in r["text"] for r in rows()), what="the fill alert")
        say("/buy ETH 0.05", "Est. price")
        driver.execute_script("document.getElementById('messages').scrollTop = 1e9")
        out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="tradebot-shot-") as data:
        demo = Demo(Path(data), port=0, options=Options(tick_s=None, crowd_s=None), console=lambda _: None)
        await demo.start()
        try:
            await asyncio.to_thread(drive, demo.url, out)
        finally:
            await demo.stop()


if __name__ == "__main__":
    missing = browser_missing()
    if missing:
        sys.exit(f"error: {missing}")
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "chat.png"
    asyncio.run(main(target))
    print(f"wrote {target}")
