"""What the chat page shows of a message: Telegram's HTML subset turned into a tree of safe nodes.

The page never renders HTML it received. The server parses each bot message here into nodes of a
closed set of kinds (bold, italic, underline, strike, spoiler, code, pre, link, quote) holding plain
text; the page builds them with createElement and textContent. Anything outside the subset (a tag
Telegram would refuse, a link to javascript:) shows as the literal text the bot sent, never as markup.
A message the bot sent without parse mode, and every message the user typed, is plain text.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

Node = str | dict[str, Any]  # text, or {"t": kind, "c": [children]} (+ "href" for a link)

# Telegram's tag names (and their synonyms) -> the page's node kinds
KINDS = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "ins": "u", "s": "s", "strike": "s", "del": "s",
         "tg-spoiler": "spoiler", "code": "code", "pre": "pre", "a": "a", "blockquote": "blockquote"}
LINK_SCHEMES = frozenset({"http", "https", "tg"})


def safe_href(href: str | None) -> str | None:
    """A link target the page may follow: http(s) and tg: only (no javascript:, data:, relative paths)."""
    if not href:
        return None
    try:
        scheme = urlsplit(href.strip()).scheme.lower()
    except ValueError:
        return None
    return href.strip() if scheme in LINK_SCHEMES else None


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[Node] = []
        self.stack: list[tuple[str, list[Node]]] = [("", self.root)]

    def _add(self, node: Node) -> None:
        children = self.stack[-1][1]
        if isinstance(node, str) and children and isinstance(children[-1], str):
            children[-1] += node
        else:
            children.append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = KINDS.get(tag)
        if tag == "span" and dict(attrs).get("class") == "tg-spoiler":
            kind = "spoiler"
        elif tag == "tg-emoji":
            kind = "emoji"  # a custom emoji: its fallback text is shown, the tag itself is not a node
        if kind is None:
            self._add(self.get_starttag_text() or f"<{tag}>")
            return
        node: dict[str, Any] = {"t": kind, "c": []}
        if kind == "a":
            href = safe_href(dict(attrs).get("href"))
            if href is not None:
                node["href"] = href
        if kind == "emoji":
            self.stack.append((tag, self.stack[-1][1]))  # children go straight to the parent
            return
        if kind == "code" and self.stack[-1][0] == "pre":
            self.stack.append((tag, self.stack[-1][1]))  # <pre><code class="language-x">: one block
            return
        self._add(node)
        self.stack.append((tag, node["c"]))

    def handle_endtag(self, tag: str) -> None:
        if len(self.stack) > 1 and self.stack[-1][0] == tag:
            self.stack.pop()
        else:
            self._add(f"</{tag}>")  # not a tag of ours, or not the open one: the bot's literal text

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(self.get_starttag_text() or f"<{tag}/>")

    def handle_data(self, data: str) -> None:
        self._add(data)

    def handle_comment(self, data: str) -> None:
        self._add(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._add(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self._add(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self._add(f"<![{data}]>")


BLOCKS = frozenset({"pre", "blockquote"})


def _blocks_end_lines(nodes: list[Node]) -> list[Node]:
    """A block (pre, blockquote) is its own line, as in Telegram's clients: the one line break written
    right before or after it is the block's own edge, not an empty line."""
    out: list[Node] = []
    for i, n in enumerate(nodes):
        if isinstance(n, str):
            if i > 0 and isinstance(nodes[i - 1], dict) and nodes[i - 1]["t"] in BLOCKS:  # type: ignore[index]
                n = n.removeprefix("\n")
            if i + 1 < len(nodes) and isinstance(nodes[i + 1], dict) and nodes[i + 1]["t"] in BLOCKS:  # type: ignore[index]
                n = n.removesuffix("\n")
            if n:
                out.append(n)
        else:
            out.append({**n, "c": _blocks_end_lines(n["c"])})
    return out


def html_nodes(text: str) -> list[Node]:
    """Telegram HTML (parse_mode HTML) -> nodes. Unclosed tags close at the end, as Telegram would refuse
    them anyway (the emulator does), so the tree is always well formed."""
    parser = _Tree()
    parser.feed(text)
    parser.close()
    return _blocks_end_lines(parser.root)


def text_nodes(text: str | None, parse_mode: str | None) -> list[Node] | None:
    if text is None:
        return None
    if (parse_mode or "").upper() == "HTML":
        return html_nodes(text)
    return [text]  # plain text, or a parse mode the bot does not use: shown as sent


def plain(nodes: list[Node]) -> str:
    """The visible text of nodes (tests, the page's notification line)."""
    return "".join(n if isinstance(n, str) else plain(n["c"]) for n in nodes)


__all__ = ["KINDS", "Node", "html_nodes", "plain", "safe_href", "text_nodes"]
