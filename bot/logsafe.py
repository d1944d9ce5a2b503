"""No secret in any log, at any level: every log record is masked as it is created.

The mask sits in the log record factory, not in a handler or filter, because every record passes
through the factory whichever logger creates it and whichever handler (ours, a library's, pytest's)
later writes it out. A library line at DEBUG (httpx logs each request URL, and Telegram puts the bot
token in the URL path) is covered as much as our own.

The record is formatted eagerly (`msg % args`) and its arguments dropped, so no handler can format
the raw arguments again; a traceback is pre-formatted into `exc_text`, which `logging.Formatter`
prints instead of formatting `exc_info` itself.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any
from urllib.parse import quote

__all__ = ["MASK", "install", "redact", "register_secrets", "scrub"]

MASK = "<redacted>"
# real tokens and keys are far longer; masking a short string would blank ordinary words in every line
_MIN_LEN = 8
# a Telegram bot token inside a Bot API URL (`.../bot<id>:<secret>/getUpdates`), masked even if nobody
# registered it (a token from a config not parsed in this process, a typo'd second bot)
_BOT_TOKEN = re.compile(r"bot\d+(?::|%3A)[A-Za-z0-9_-]+")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secrets(*values: str | None) -> None:
    """Mask these strings in every log record from now on; empty and short values are ignored."""
    global _pattern
    added = False
    with _lock:
        for value in values:
            for form in _forms(value or ""):
                if len(form) >= _MIN_LEN and form not in _secrets:
                    _secrets.add(form)
                    added = True
        if added:
            # longest first, so a secret that contains another one is masked whole
            alternatives = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in alternatives))
    install()


def _forms(value: str) -> set[str]:
    # the same secret as it may show in a URL, as a hex key without its 0x prefix, or as the secret
    # half of a Telegram token ("<bot id>:<secret>"; the id alone is public)
    forms = {value, quote(value, safe="")}
    if value[:2].lower() == "0x":
        forms.add(value[2:])
    bot_id, colon, secret = value.partition(":")
    if colon and bot_id.isdigit():
        forms.add(secret)
    return forms


def redact(text: str) -> str:
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _BOT_TOKEN.sub(f"bot{MASK}", text)


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message (and traceback, stack) by their masked text."""
    try:
        message = record.getMessage()
    except Exception:
        # the handler would print msg and args raw in its "Logging error" report; print them masked instead
        message = f"{record.msg!s} (log arguments that did not format: {record.args!r})"
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Put the masking factory in front of the current one; calling it again changes nothing."""
    with _lock:
        previous = logging.getLogRecordFactory()
        if getattr(previous, "masks_secrets", False):
            return

        # a closure, not a module-level "previous": if someone wraps ours and we install again, a shared
        # global would make the two factories call each other forever
        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub(previous(*args, **kwargs))

        factory.masks_secrets = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)


install()
