"""The order manager is the only code that sends trading calls to an exchange adapter."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

TRADING_CALLS = {"place", "cancel", "cancel_all", "modify", "set_leverage"}
# the service layer: the manager itself, and its parts that call back into it
ALLOWED = {"risk/orders.py"}
# callers may hold the OrderManager (named orders/manager/m) and call these through it
MANAGER_NAMES = {"orders", "manager", "m", "self.m", "self.orders", "self.m.orders", "risk.orders"}


def calls_to_adapters(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TRADING_CALLS:
            if node.func.attr == "cancel" and not node.args and not node.keywords:
                continue  # asyncio Task.cancel(); an adapter cancel always names a market
            receiver = ast.unparse(node.func.value)
            if receiver.split(".")[-1] not in {"orders", "manager", "m"} and receiver not in MANAGER_NAMES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {receiver}.{node.func.attr}(...)")
    return found


def test_only_the_order_manager_calls_adapter_trading_methods():
    offenders = []
    for pkg in ("bot", "handlers", "desk", "risk", "store", "venues"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if str(path.relative_to(ROOT)) not in ALLOWED:
                offenders += calls_to_adapters(path)
    assert offenders == []


def test_the_check_would_catch_a_direct_call(tmp_path):
    bad = tmp_path / "bad_handler.py"
    bad.write_text("async def buy(exchange, req):\n    await exchange.place(req)\n")
    bad_rel = ROOT / "handlers" / "_probe_bad.py"
    try:
        bad_rel.write_text(bad.read_text())
        assert calls_to_adapters(bad_rel) == ["handlers/_probe_bad.py:2: exchange.place(...)"]
    finally:
        bad_rel.unlink()


def test_handlers_never_import_adapters():
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("sim", "exchanges.hyperliquid", "exchanges.aster")), (
                    f"{path}: handlers reach venues only through the services")
