"""The venue's error bodies: `{"code": -1121, "msg": "Invalid symbol."}`, in its own words.

Codes and messages are the ones the Aster docs list (V1 and V3 futures/spot "Error Codes"); the few
the docs do not list are marked with where they come from.
"""

from __future__ import annotations

from typing import Any


class AsterError(Exception):
    """A refusal: answered as HTTP `status` with `{"code", "msg"}`."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> AsterError:
    return AsterError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def invalid(name: str) -> AsterError:
    return AsterError(-1130, f"Data sent for parameter '{name}' is not valid.")


def not_required(name: str) -> AsterError:
    return AsterError(-1106, f"Parameter '{name}' sent when not required.")


BAD_SYMBOL = (-1121, "Invalid symbol.")
BAD_SIGNATURE = (-1022, "Signature for this request is not valid.")
# not in the docs: what users of V3 report for a signer that is not an API wallet of the user
SIGNATURE_CHECK_FAILED = (-1000, "Signature check failed")
# not in the docs' list: the V3 demo's output for a nonce that was used already or is too old
NONCE_EXPIRED = (-4225, "Nonce Expired")
TIMESTAMP_AHEAD = (-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
TIMESTAMP_OUTSIDE = (-1021, "Timestamp for this request is outside of the recvWindow.")
API_KEY_FORMAT = (-2014, "API-key format invalid.")
API_KEY_REJECTED = (-2015, "Invalid API-key, IP, or permissions for action.")
NO_SUCH_ORDER = (-2013, "Order does not exist.")
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
LISTEN_KEY = (-1125, "This listenKey does not exist.")
MARGIN = (-2019, "Margin is insufficient.")
BALANCE = (-2018, "Balance is insufficient.")
REDUCE_ONLY = (-2022, "ReduceOnly Order is rejected.")
WOULD_TRIGGER = (-2021, "Order would immediately trigger.")
TICK = (-4014, "Price not increased by tick size.")
STEP = (-4023, "Qty not increased by step size.")
QTY_ZERO = (-4003, "Quantity less than zero.")
QTY_MIN = (-4004, "Quantity less than min quantity.")
QTY_MAX = (-4005, "Quantity greater than max quantity.")
PRICE_MIN = (-4013, "Price less than min price.")
PRICE_MAX = (-4002, "Price greater than max price.")
PERCENT_UP = (-4016, "Price is higher than mark price multiplier cap.")
PERCENT_DOWN = (-4024, "Price is lower than mark price multiplier floor.")
POSITION_SIDE = (-4061, "Order's position side does not match user's setting.")
REDUCE_ONLY_CONFLICT = (-4062, "Invalid or improper reduceOnly value.")
CLIENT_ID = (-4015, "Client order id is not valid.")
# not in Aster's list (Binance USD-M futures' code, which Aster's API derives from)
DUPLICATE_CLIENT_ID = (-4116, "ClientOrderId is duplicated.")
INVALID_TIF = (-1115, "Invalid timeInForce.")
INVALID_TYPE = (-1116, "Invalid orderType.")
INVALID_SIDE = (-1117, "Invalid side.")
BAD_INTERVAL = (-1120, "Invalid interval.")
NO_NEED_MARGIN_TYPE = (-4046, "No need to change margin type.")
MARGIN_TYPE_OPEN_ORDERS = (-4047, "Margin type cannot be changed if there exists open orders.")
MARGIN_TYPE_POSITION = (-4048, "Margin type cannot be changed if there exists position.")
NO_NEED_POSITION_SIDE = (-4059, "No need to change position side.")
POSITION_SIDE_OPEN_ORDERS = (-4067, "Position side cannot be changed if there exists open orders.")
POSITION_SIDE_POSITION = (-4068, "Position side cannot be changed if there exists position.")
ISOLATED_ONLY = (-4049, "Add margin only support for isolated position.")
NO_POSITION_MARGIN = (-4054, "Cannot add position margin: position is 0.")
CROSS_INSUFFICIENT = (-4050, "Cross balance insufficient.")
ISOLATED_INSUFFICIENT = (-4051, "Isolated balance insufficient.")
AMOUNT_POSITIVE = (-4055, "Amount must be positive.")
CLOSE_POSITION_QTY = (-4137, "Quantity must be zero with closePosition equals true")
ACTIVATION_PRICE = (-4135, "Invalid activation price")
BATCH_SIZE = (-4082, "Invalid number of batch place orders.")
INVALID_DEPTH = (-4021, "Invalid depth limit.")
TOO_MANY_REQUESTS = (-1003, "Too many requests; current limit is {} requests per minute. Please use the websocket"
                            " for live updates to avoid polling the API.")
BANNED = (-1003, "Way too many requests; IP banned until {}. Please use the websocket for live updates to avoid"
                 " bans.")
TOO_MANY_ORDERS = (-1015, "Too many new orders; current limit is {} orders per {}.")
UNKNOWN = (-1000, "Unknown error, please check your request or try again later.")


def err(pair: tuple[int, str], status: int = 400) -> AsterError:
    return AsterError(pair[0], pair[1], status)


def notional_error(min_notional: str) -> AsterError:
    return AsterError(-4164, f"Order's notional must be no smaller than {min_notional} (unless you choose reduce only)")


def leverage_error(value: str) -> AsterError:
    return AsterError(-4028, f"Leverage {value} is not valid")
