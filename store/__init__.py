"""SQLite: orders, fills, equity, confirmations, outbox, audit. Imports exchanges only."""
