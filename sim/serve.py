"""Running emulator apps on loopback (port 0 = any free port)."""

from __future__ import annotations

import asyncio

from aiohttp import web


async def start_site(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server) and server.sockets  # port 0: ask the socket which port it got
    real_port = server.sockets[0].getsockname()[1]
    return runner, f"http://{host}:{real_port}"
