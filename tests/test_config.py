"""Config loading: the seed config loads unchanged; every mistake is one clear line and exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, example_text, load_config, parse_config
from tests.conftest import DATA, ROOT

SECRET = "0x0123456789012345678901234567890123456789012345678901234567890123"


def run_cli(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def write(tmp_path, data: dict, name: str = "c.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(data))
    p.chmod(0o600)
    return str(p)


def private_seed(tmp_path) -> str:
    """The seed config holds literal secrets, so only an owner-only copy of it loads."""
    p = tmp_path / "seed.json"
    shutil.copy(DATA / "seed_config.json", p)
    p.chmod(0o600)
    return str(p)


def test_example_config_checks_out_via_the_console_script():
    code, out, err = run_cli("check-config", "--config", "config.json.example")
    assert code == 0, err
    assert "exchanges enabled: paper" in out and "config OK" in out


def test_root_example_is_the_packaged_default():
    assert (ROOT / "config.json.example").read_text() == example_text()


def test_seed_config_loads_unchanged_with_decimals_intact(tmp_path):
    loaded = load_config(private_seed(tmp_path))
    c = loaded.config
    assert c.exchanges.enabled == ["hyperliquid", "aster"]
    assert c.trading.default_slippage == D("0.005") and isinstance(c.trading.default_slippage, D)
    assert c.risk.position_size_limit == D("0.1") and c.risk.emergency_stop_enabled
    assert c.trading.position_limits.max_position_size_usd == D(5000)
    assert c.exchanges.hyperliquid.rate_limit.burst_limit == 100
    assert c.exchanges.aster.rate_limit.weight_limit == 2400
    assert c.telegram.chat_id == 987654321 and c.telegram.authorized_user_ids == {987654321}
    assert c.exchanges.hyperliquid.api_url == "https://api.hyperliquid.xyz"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"risk": {"daily_los_limit": 5}}, "config error: risk.daily_los_limit: unknown key; did you mean"
                                           " 'daily_loss_limit'?"),
        ({"trading": {"max_leverage": "ten"}}, "config error: trading.max_leverage: must be a valid integer"),
        ({"risk": {"daily_loss_limit": -5}}, "config error: risk.daily_loss_limit: must be greater than 0 (got -5)"),
        ({"telegram": {"bot_token": "${TB_MISSING_TOKEN}"}},
         "config error: telegram.bot_token: environment variable TB_MISSING_TOKEN is not set"),
        ({"kill": {"flatten": "sometimes"}}, "config error: kill.flatten: must be 'always', 'ask' or 'never'"),
    ],
)
def test_each_mistake_exits_2_with_one_line_naming_the_field(tmp_path, capsys, patch, expected):
    data = {"exchanges": {"paper": {"enabled": True}}, **patch}
    code = main(["check-config", "--config", write(tmp_path, data)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(expected), err
    assert "Traceback" not in err


def test_the_console_script_exits_2_without_traceback(tmp_path):
    code, _, err = run_cli("check-config", "--config", write(tmp_path, {"exchanges": {"paper": {"enabled": 3}}}))
    assert code == 2 and "Traceback" not in err
    assert err.strip() == "config error: exchanges.paper.enabled: must be a valid boolean, unable to interpret" \
                          " input (got 3)"


def test_secret_values_never_appear_in_errors(tmp_path, capsys):
    data = {"exchanges": {"hyperliquid": {"enabled": True, "account_address": "0x14791697260E4c9A71f18484C9f997B3",
                                          "secret_key": "hunter2-not-a-key"}},
            "telegram": {"bot_token": 12345678}}
    assert main(["check-config", "--config", write(tmp_path, data)]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "12345678" not in err
    assert "telegram.bot_token: must be a valid string (value not shown: it is a secret)" in err


def test_bad_secret_key_message_does_not_echo_it():
    with pytest.raises(ConfigError) as exc:
        parse_config({"exchanges": {"hyperliquid": {"enabled": True, "account_address": "0x" + "a" * 40,
                                                    "secret_key": "0xdeadbeef"}}}, env={})
    assert "deadbeef" not in str(exc.value) and "secret_key must be a 32-byte hex private key" in str(exc.value)


def test_env_substitution_with_defaults_and_embedded_text():
    raw = {"exchanges": {"hyperliquid": {"enabled": "${HL_ON:-false}", "account_address": "${ADDR}",
                                         "secret_key": "${KEY}"}, "paper": {"enabled": True}},
           "storage": {"path": "${DATA_DIR:-/var/lib}/tradebot.db"}}
    env = {"HL_ON": "true", "ADDR": "0x" + "b" * 40, "KEY": SECRET}
    cfg, literal = parse_config(raw, env=env)
    assert cfg.exchanges.hyperliquid.enabled and cfg.exchanges.hyperliquid.secret_key.get_secret_value() == SECRET
    assert cfg.storage.path == "/var/lib/tradebot.db" and literal == []
    assert SECRET not in repr(cfg) and SECRET not in str(cfg.model_dump())


def test_summary_redacts_secrets(tmp_path, capsys):
    assert main(["check-config", "--config", private_seed(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and "AAFakeToken" not in out and "dbefbc809e3e" not in out
    assert "key set (hidden)" in out and "MAINNET" in out


def test_world_readable_literal_secrets_are_refused(tmp_path, capsys):
    p = Path(private_seed(tmp_path))
    p.chmod(0o644)
    assert main(["check-config", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert "config error:" in err and "chmod 600" in err and "exchanges.hyperliquid.secret_key" in err
    assert SECRET not in err and "config OK" not in err
    p.chmod(0o600)
    assert main(["check-config", "--config", str(p)]) == 0
    assert capsys.readouterr().err == ""


def test_cross_field_rules(tmp_path):
    for data, words in [
        ({"exchanges": {}}, "no exchange is enabled"),
        ({"exchanges": {"paper": {"enabled": True}}, "trading": {"default_leverage": 20}}, "exceeds max_leverage"),
        ({"exchanges": {"paper": {"enabled": True}}, "trading": {"default_exchange": "aster"}}, "not enabled"),
        ({"exchanges": {"paper": {"enabled": True}}, "telegram": {"bot_token": "x"}}, "allowed_user_ids is required"),
        ({"exchanges": {"paper": {"enabled": True}}, "timezone": "Mars/Olympus"}, "got \"Mars/Olympus\""),
        ({"exchanges": {"aster": {"enabled": True}}}, "api_key and api_secret"),
    ]:
        with pytest.raises(ConfigError, match=words):
            load_config(write(tmp_path, data))


def test_invalid_json_and_missing_file(tmp_path, capsys):
    p = tmp_path / "broken.json"
    p.write_text('{"exchanges": {,}}')
    assert main(["check-config", "--config", str(p)]) == 2
    assert "invalid JSON at line 1 column 16" in capsys.readouterr().err
    assert main(["check-config", "--config", str(tmp_path / "none.json")]) == 2
    assert "no such file (create one with: tradebot init-config" in capsys.readouterr().err


def test_init_config_writes_the_example_and_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "config.json"
    assert main(["init-config", str(target)]) == 0
    assert target.read_text() == example_text() and oct(target.stat().st_mode & 0o777) == "0o600"
    target.write_text("mine")
    assert main(["init-config", str(target)]) == 1
    assert target.read_text() == "mine" and "already exists" in capsys.readouterr().err
