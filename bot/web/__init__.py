"""The local chat page: the bot's chat in a browser, with no Telegram account (see server.py).

Kept empty so the config schema can use guard.is_loopback without loading the server."""
