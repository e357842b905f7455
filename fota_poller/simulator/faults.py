"""Which faults the simulator injects: the kinds, the options, and the `--faults` syntax.

Per request: a status (`429`, `503`, `502html`, ...), a broken connection (`reset`,
`truncate`, `stall`), a hostile answer (`redirect`, `gzipbomb`) or changed content
(`foreign`: the campaign's body relabelled as another upgrade's, `linesep`). Per server: a
rate limit, an outage window, and `sametoken`. Faults apply to the upgrade route unless
`routes` names others (inventory, reports, token, login, logout). `fault_injector.py` applies them.
"""

from __future__ import annotations

from typing import Final

import msgspec

# Faults that answer with a status and a body; the others break the connection.
STATUS_FAULTS: Final = {
    "408": (408, "application/json", b'{"errorCode":"REQUEST_TIMEOUT","errorMessage":"Timeout"}'),
    "429": (429, "application/json", b'{"errorCode":"TOO_MANY_REQUESTS","errorMessage":"Slow"}'),
    "500": (500, "application/json", b'{"errorCode":"INTERNAL_ERROR","errorMessage":"Oops"}'),
    "502": (502, "text/plain", b"Bad Gateway"),
    "502html": (
        502,
        "text/html",
        (
            b"<html><head><title>502 Bad Gateway</title></head>"
            b"<body><h1>502 Bad Gateway</h1></body></html>"
        ),
    ),
    "503": (503, "text/plain", b"Service Unavailable"),
    # A proxy in front of the API refusing the request with its own page (issue 9).
    "401html": (
        401,
        "text/html",
        (
            b"<html><head><title>401 Authorization Required</title></head>"
            b"<body><h1>401 Authorization Required</h1></body></html>"
        ),
    ),
    "504": (504, "text/html", b"<html><body><h1>504 Gateway Time-out</h1></body></html>"),
}
_CONNECTION_FAULTS: Final = ("reset", "truncate", "stall")
# Faults that keep the answer but change its content: a 200 whose body names another upgrade
# (a proxy or cache that mixes up answers), raw U+2028/U+2029 in every status.
FOREIGN_FAULT: Final = "foreign"
_CONTENT_FAULTS: Final = (FOREIGN_FAULT, "linesep")
# Faults that answer as a hostile server would (hostile.py).
_HOSTILE_FAULTS: Final = ("redirect", "gzipbomb")
FAULT_KINDS: Final = (*STATUS_FAULTS, *_CONNECTION_FAULTS, *_HOSTILE_FAULTS, *_CONTENT_FAULTS)
# The routes faults can apply to; the upgrade route alone unless asked.
FAULT_ROUTES: Final = ("upgrade", "inventory", "reports", "token", "login", "logout")


class FaultOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Which faults to inject: a per-request mix, a rate limit, an outage window."""

    mix: tuple[tuple[str, float], ...] = ()  # (kind, probability per request)
    rate_limit: float = 0.0  # accepted requests per second; 0 means no limit
    outage: tuple[float, float] | None = None  # seconds after start: [begin, end)
    retry_after_s: int = 1  # the Retry-After sent with a 429
    stall_s: float = 60.0  # how long a stalled body waits before its second half
    routes: tuple[str, ...] = ("upgrade",)  # which of FAULT_ROUTES the faults apply to
    # Where a `redirect` points: the discard port of loopback unless a test names a listener.
    redirect_to: str = "http://127.0.0.1:9"
    bomb_inflated_mb: int = 1024  # what a `gzipbomb` body inflates to

    @property
    def any(self) -> bool:
        """True when some fault is configured."""
        return bool(self.mix) or self.rate_limit > 0 or self.outage is not None


# Faults of the whole server rather than per-request draws, named without a probability:
# `sametoken` makes the token endpoint answer as ThingSpace's gateway does (auth_routes.py).
SERVER_FAULTS: Final = ("sametoken",)


def split_server_faults(text: str) -> tuple[str, frozenset[str]]:
    """`sametoken,429=0.05` -> ("429=0.05", {"sametoken"}): the rest goes to `parse_mix`."""
    rest: list[str] = []
    named: set[str] = set()
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        kind, equals, _ = part.partition("=")
        if kind not in SERVER_FAULTS:
            rest.append(part)
        elif equals:
            raise ValueError(f"fault {kind} takes no probability: name it alone, e.g. {kind}")
        else:
            named.add(kind)
    return ",".join(rest), frozenset(named)


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """`429=0.05,reset=0.02` -> ((kind, probability), ...); ValueError names what is wrong."""
    mix: list[tuple[str, float]] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        kind, _, share = part.partition("=")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        try:
            probability = float(share)
        except ValueError:
            raise ValueError(f"fault {kind} needs a probability, e.g. {kind}=0.05") from None
        if not 0 <= probability <= 1:
            raise ValueError(f"fault {kind}: probability {probability} is not within 0-1")
        mix.append((kind, probability))
    if sum(probability for _, probability in mix) > 1:
        raise ValueError("fault probabilities add up to more than 1")
    return tuple(mix)


def parse_routes(text: str) -> tuple[str, ...]:
    """`token,login` -> ("token", "login"); ValueError names an unknown route."""
    routes = tuple(filter(None, (piece.strip() for piece in text.split(","))))
    unknown = [route for route in routes if route not in FAULT_ROUTES]
    if unknown or not routes:
        raise ValueError(f"unknown fault route {text!r}; known: {', '.join(FAULT_ROUTES)}")
    return routes


def parse_outage(text: str) -> tuple[float, float]:
    """`2-12` -> (2.0, 12.0): seconds after the simulator starts."""
    begin, _, end = text.partition("-")
    try:
        window = float(begin), float(end)
    except ValueError:
        raise ValueError(f"outage takes START-END in seconds, e.g. 2-12, not {text!r}") from None
    if not 0 <= window[0] < window[1]:
        raise ValueError(f"outage {text!r}: START must be before END")
    return window
