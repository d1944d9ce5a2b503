"""Child process for the SIGKILL test: writes orders and fills as fast as it can until killed."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from decimal import Decimal

from exchanges.models import Fill, Order, OrderStatus, Side
from store.db import Store


async def main(path: str) -> None:
    store = Store(path)
    await store.open()
    i = 0
    while True:
        i += 1
        cid = f"c{i}"
        order = Order("paper", "BTC", Side.BUY, Decimal("0.3"), Decimal("100000"), OrderStatus.PENDING,
                      client_id=cid, created_ms=i, updated_ms=i)
        await store.insert_order(order)
        filled = Decimal(0)
        for k in range(3):
            filled += Decimal("0.1")
            order = replace(order, filled=filled, order_id=str(i),
                            status=OrderStatus.FILLED if k == 2 else OrderStatus.PARTIALLY_FILLED)
            fill = Fill("paper", f"{i}-{k}", str(i), "BTC", Side.BUY, Decimal("100000"), Decimal("0.1"),
                        Decimal("4.5"), i, client_id=cid)
            await store.add_fill(fill, order)
        print(f"progress {i}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
