"""Helpers for the chat page's tests: a real headless Chromium (Debian's chromium + chromium-driver) through
Selenium, and an HTTP client that keeps the page's cookie. scripts/screenshot.py uses them too."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import aiohttp

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None. CI installs both (.ci/run)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if CHROMIUM is None or CHROMEDRIVER is None:
        return "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
    return None


def chrome(width: int = 375, height: int = 780, *, mobile: bool = True, scale: float = 1.0) -> Any:
    """Headless Chromium, its viewport `width` x `height` CSS pixels (a phone by default)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager is never needed: both paths are given
    opts = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--window-size={max(width, 500)},{height + 200}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})
    return driver


def wait_for(pred: Callable[[], Any], within: float = 10.0, what: str = "condition") -> Any:
    """Poll `pred` until it returns something truthy; its value. Fails naming `what`."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = pred()
        except Exception as exc:  # a stale element while the page redraws: try again
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
        time.sleep(0.03)


# the text of every message row, and its id: one round trip per poll
ROWS_JS = """return Array.from(document.querySelectorAll('#messages .row')).map(r => ({
  id: Number(r.dataset.id), out: r.classList.contains('out'),
  text: (r.querySelector('.text, .caption') || {}).textContent || '',
  buttons: Array.from(r.querySelectorAll('.inline-keyboard button')).map(b => b.textContent),
  img: (() => { const i = r.querySelector('img'); return i ? i.naturalWidth : null; })()}));"""

# every element whose box sticks out of the viewport sideways (inside a scrolling <pre> does not count)
OVERFLOW_JS = """const w = document.documentElement.clientWidth, out = [];
for (const el of document.querySelectorAll('body *')) {
  if (el.closest('pre') && el.tagName !== 'PRE') continue;
  const r = el.getBoundingClientRect();
  if (r.width && (r.right > w + 0.5 || r.left < -0.5)) {
    out.push(el.tagName + '.' + el.className + ' ' + r.left + '..' + r.right);
  }
}
const list = document.getElementById('messages');
return {width: w, scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth,
        list: list.scrollWidth, listWidth: list.clientWidth, out: out};"""


def session() -> aiohttp.ClientSession:
    """A client that keeps the page's cookie (aiohttp's default jar drops cookies of IP addresses)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


__all__ = ["CHROMEDRIVER", "CHROMIUM", "OVERFLOW_JS", "ROWS_JS", "browser_missing", "chrome", "session", "wait_for"]
