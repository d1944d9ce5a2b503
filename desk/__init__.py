"""Services under the chat: previews and confirmations (desk), queries over all venues (services),
history, charts and the alert outbox. Imports risk, store and exchanges; never Telegram or bot/."""
