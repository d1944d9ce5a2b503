"""What real Telegram enforces on message text: HTML entity parsing, length, button data.

Pure functions returning Telegram's own error descriptions, so the emulator refuses exactly what
the Bot API refuses.
"""

from __future__ import annotations

import html
import re
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
         "blockquote", "tg-emoji"}
_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*>|<|>|&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);|&")
_NAMED = {"lt", "gt", "amp", "quot"}


class EntityError(ValueError):
    pass


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Validate Telegram-HTML and return the visible text. Raises EntityError with Telegram's words."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(text[pos:m.start()])
        pos = m.end()
        tok = m.group(0)
        offset = len(text[:m.start()].encode("utf-8"))
        if m.group(2):
            closing, tag = bool(m.group(1)), m.group(2).lower()
            if tag not in _TAGS:
                kind = "end" if closing else "start"
                raise EntityError(f'Unsupported {kind} tag "{tag}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != tag:
                    raise EntityError(f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", found'
                                      f' "</{tag}>"' if stack else f"Unexpected end tag at byte offset {offset}")
                stack.pop()
            else:
                stack.append(tag)
        elif tok in ("<", ">", "&"):
            what = {"<": "Unclosed start tag", ">": "Unexpected end tag", "&": "Unsupported entity"}[tok]
            if tok == "&":
                raise EntityError(f"Can't find end of the entity starting at byte offset {offset}")
            raise EntityError(f"{what} at byte offset {offset}")
        else:
            name = m.group(4)
            if not name.startswith("#") and name not in _NAMED:
                raise EntityError(f'Unsupported HTML entity "&{name};" at byte offset {offset}')
            out.append(html.unescape(tok))
    out.append(text[pos:])
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def check_text(text: Any, parse_mode: str | None, *, caption: bool = False) -> str | None:
    """None when Telegram would accept the text, else its error description."""
    if text is None or text == "":
        return "Bad Request: message text is empty" if not caption else None
    text = str(text)
    visible = text
    if parse_mode and parse_mode.upper() == "HTML":
        try:
            visible = parse_html(text)
        except EntityError as exc:
            return f"Bad Request: can't parse entities: {exc}"
    if not visible.strip() and not caption:
        return "Bad Request: message text is empty"
    limit = MAX_CAPTION if caption else MAX_TEXT
    if utf16_len(visible) > limit:
        return "Bad Request: message caption is too long" if caption else "Bad Request: message is too long"
    return None


def check_markup(markup: Any) -> str | None:
    if not markup:
        return None
    if not isinstance(markup, dict):
        return "Bad Request: can't parse reply keyboard markup JSON object"
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA:
                return "Bad Request: BUTTON_DATA_INVALID"
            if not button.get("text"):
                return "Bad Request: text buttons are unallowed in the inline keyboard"
    return None
