"""Loading config.json: `${ENV_VAR}` substitution, validation, and errors a trader can act on.

Every error names the field path, the bad value (never a secret's) and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from bot.config_schema import SECRET_FIELDS, Config
from bot.logsafe import register_secrets

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

__all__ = ["Config", "ConfigError", "LoadedConfig", "example_text", "load_config", "parse_config", "summary"]


class ConfigError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: str
    warnings: list[str] = field(default_factory=list)


def example_text() -> str:
    return resources.files("bot").joinpath("config_example.json").read_text(encoding="utf-8")


def _is_secret(path: tuple[str | int, ...]) -> bool:
    return bool(path) and path[-1] in SECRET_FIELDS


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _substitute(node: Any, path: tuple[str | int, ...], env: dict[str, str], errors: list[str],
                literal_secrets: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, (*path, k), env, errors, literal_secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, (*path, i), env, errors, literal_secrets) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    if _is_secret(path) and node and not _ENV.search(node):
        literal_secrets.append(_dotted(path))

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        errors.append(f"{_dotted(path)}: environment variable {name} is not set (export it, or write"
                      f" ${{{name}:-default}} to give a default)")
        return ""

    return _ENV.sub(repl, node)


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in path:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        candidates = [ann, *get_args(ann)] if get_origin(ann) is not None else [ann]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def _describe(err: ErrorDetails) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
    where = _dotted(loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(known)}"
        return f"{where}: unknown key; {hint}"
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    value = err.get("input")
    if _is_secret(loc):
        got = " (value not shown: it is a secret)"
    elif isinstance(value, dict | list):
        got = ""
    else:
        got = f" (got {json.dumps(value, default=str)})"
    if err["type"] in ("value_error", "assertion_error") or err["type"].startswith("model_"):
        return f"{where}: {msg}{got}"
    return f"{where}: must be {msg}{got}"


def _secret_values(node: Any) -> list[str]:
    if isinstance(node, SecretStr):
        return [node.get_secret_value()]
    if isinstance(node, BaseModel):
        return [s for name in type(node).model_fields for s in _secret_values(getattr(node, name))]
    if isinstance(node, list | tuple):
        return [s for item in node for s in _secret_values(item)]
    if isinstance(node, dict):
        return [s for item in node.values() for s in _secret_values(item)]
    return []


def parse_config(raw: dict[str, Any], env: dict[str, str] | None = None) -> tuple[Config, list[str]]:
    """Validate an already-decoded config. Returns the config and the paths of literal secrets.

    Its secrets are masked in every log from here on: whatever builds a config (the CLI, a test, a
    script) gets a bot whose logs cannot show them.
    """
    errors: list[str] = []
    literal: list[str] = []
    data = _substitute(raw, (), dict(os.environ) if env is None else env, errors, literal)
    if errors:
        raise ConfigError(errors)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(e) for e in exc.errors()]) from None
    register_secrets(*_secret_values(config))
    return config, literal


def load_config(path: str | Path | None, env: dict[str, str] | None = None) -> LoadedConfig:
    """Load a file; None means the embedded default (paper trading, SQLite, no accounts)."""
    if path is None:
        text, where = example_text(), "(embedded default)"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError([f"{p}: no such file (create one with: tradebot init-config {p})"]) from None
        except OSError as exc:
            raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from None
        where = str(p)
    try:
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{where}: the top level must be a JSON object"])
    config, literal = parse_config(raw, env)
    if path is not None and literal:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            # refused, not warned: a warning scrolls by while the keys stay readable to every local user
            raise ConfigError([
                f"{where} holds literal secrets ({', '.join(literal)}) and other users can access it"
                f" (mode {mode:04o}): run 'chmod 600 {where}', or supply the secrets as ${{ENV_VAR}}"
            ])
    return LoadedConfig(config, where)


def _redact(secret: Any) -> str:
    return "set (hidden)" if secret.get_secret_value() else "not set"


def _web_line(c: Config) -> str:
    w = c.web
    if not c.web_chat:
        return f"web chat page: off ({'Telegram is the chat' if c.telegram.enabled else 'web.enabled is false'})"
    host = f"[{w.host}]" if ":" in w.host else w.host
    where = f"{host}, any free port" if w.port == 0 else f"http://{host}:{w.port}"
    return (f"web chat page: on at {where} (a new link with its token is printed at each start),"
            f" password {_redact(w.password)}")


def summary(loaded: LoadedConfig) -> list[str]:
    c = loaded.config
    lines = [f"config: {loaded.path}", f"exchanges enabled: {', '.join(c.exchanges.enabled)}"]
    hl, aster, paper = c.exchanges.hyperliquid, c.exchanges.aster, c.exchanges.paper
    if hl.enabled:
        lines.append(f"  hyperliquid: {'testnet' if hl.testnet else 'MAINNET'} {hl.api_url}"
                     f" account {hl.account_address} key {_redact(hl.secret_key)}")
    if aster.enabled:
        auth = "V3 (EIP-712)" if aster.user else "V1 (HMAC)"
        lines.append(f"  aster: {'testnet' if aster.testnet else 'MAINNET'} {aster.base_url} auth {auth}"
                     f" api_key {_redact(aster.api_key)} signer_key {_redact(aster.signer_key)}")
    if paper.enabled:
        lines.append(f"  paper: starting balance {paper.starting_balance} USDC, prices from {paper.price_source}")
    t, r, pl = c.trading, c.risk, c.trading.position_limits
    lines += [
        f"telegram: {'on' if c.telegram.enabled else 'off (no bot_token)'}, token {_redact(c.telegram.bot_token)},"
        f" allowed users {sorted(c.telegram.authorized_user_ids) or 'none'}",
        _web_line(c),
        f"trading: leverage default {t.default_leverage} max {t.max_leverage}; order size {t.min_order_size}"
        f"..{t.max_order_size} USD; slippage {t.default_slippage}; order timeout {t.order_timeout}s",
        f"positions: max {pl.max_positions_per_symbol} per symbol, {pl.max_total_positions} total,"
        f" {pl.max_position_size_usd} USD each",
        f"risk: daily loss limit {r.daily_loss_limit} USD; max drawdown {r.max_drawdown_percent}%;"
        f" emergency stop {'on' if r.emergency_stop_enabled else 'off'}; position size limit"
        f" {r.position_size_limit} of equity; correlation limit {r.correlation_limit}",
        f"kill switch flatten: {c.kill.flatten}; storage: {c.storage.path}; timezone: {c.timezone}",
    ]
    return lines
