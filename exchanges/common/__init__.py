"""The shared venue toolkit: what every venue adapter needs and nothing any one venue says.

    rest.py     the REST choke point: keep-alive session, WeightBudget, transport error mapping
    breaker.py  a circuit breaker per venue (never in the way of cancels, closes or the kill switch)
    ws.py       the WebSocket client, transport only; the venue gives its frames and routing
    cache.py    reads from memory: one request in flight per key, short reuse, pushed-state trust
    feed.py     the event feed: fills once (bounded dedupe), order tracking, REST backfill after a gap
    nonce.py    strictly increasing nonces per signer, with a server-time offset hook
    bounded.py  memory with a stated bound (ids seen recently)

A venue folder keeps its paths, weights, channel names, frame shapes and error strings.
"""
