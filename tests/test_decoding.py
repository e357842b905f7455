"""The one decode of input from outside: any failure of the decoder is one `InputDecodeError`.

The fuzz test runs a seeded corpus of hostile bodies, built from small valid ones, through
the real decoders of an upgrade, a token answer, a report page and an error body: the only
outcomes are the Struct or the documented failure of each (a `decode` record's
`UpgradeDecodeError`, `InputDecodeError`, no error code). A traceback of any other kind on
any body is what cost a whole night (issue 18).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from fota_poller.api.decode import ApiError, UpgradeInfo, decode_error, decode_upgrade
from fota_poller.api.token_answers import TokenAnswer
from fota_poller.config import load_config
from fota_poller.decoding import MAX_REASON_CHARS, decode
from fota_poller.errors import ConfigError, InputDecodeError, UpgradeDecodeError
from fota_poller.ids.discover import ReportPage
from fota_poller.ids.lists import parse_line
from fota_poller.model.phases import PhasesConfig, PhaseTable
from fota_poller.model.refs import InvalidLine
from fota_poller.summary.night import Night

SEED = 18
UPGRADE = (
    b'{"id":"e3a8d88a-04c6-4ef3-b039-89b62f91e962","accountName":"0402196254-00001",'
    b'"firmwareName":"FW_01To02","firmwareTo":"FW-02","startDate":"2018-04-01",'
    b'"endDate":"2018-04-05","status":"Queued","deviceList":[{"deviceId":"990000000000001",'
    b'"status":"Device Accepted","resultReason":"success"},{"deviceId":"990000000000002",'
    b'"status":"Request Pending"}]}'
)
TOKEN = b'{"access_token":"8f0e6a4c-token","token_type":"bearer","expires_in":3600}'
PAGE = (
    b'{"hasMoreFlag":true,"lastSeenUpgradeId":"e3a8d88a-04c6-4ef3-b039-89b62f91e962",'
    b'"reportList":[{"id":"e3a8d88a-04c6-4ef3-b039-89b62f91e962","accountName":"A-1",'
    b'"status":"Upgrade Completed"}]}'
)
ERROR = b'{"errorCode":"REQUEST_FAILED.UnexpectedError","errorMessage":"Could not process"}'
VALID = (UPGRADE, TOKEN, PAGE, ERROR)
DEEP = 10_000
# What a body can hold that breaks a decoder: invalid UTF-8 (a lone continuation byte, a
# Latin-1 é, a truncated sequence, an overlong form), UTF-8 encoded surrogates (raw), JSON
# escaped lone surrogates, numbers past any float or int, non-JSON number literals, NUL.
_BAD_BYTES = (b"\x80", b"\xe9", b"\xe2\x82", b"\xc0\xaf", b"\xff", b"\xed\xa0\x80", b"\x00")
_BAD_ESCAPES = (b"\\ud800", b"\\udfff", b"\\ud800\\u0041", b"\\ud800\\ud800", b"\\u00")
_NUMBERS = (
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"9" * 5000,
    b"-" + b"9" * 5000,
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"0x10",
    b"1.",
    b"01",
)


def _nested(rng: random.Random, depth: int) -> bytes:
    if rng.random() < 0.5:
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _truncations() -> Iterator[bytes]:
    for body in VALID:
        for end in range(len(body)):
            yield body[:end]


def _mutations(rng: random.Random) -> Iterator[bytes]:  # noqa: C901 - one case a branch
    while True:
        body = bytearray(rng.choice(VALID))
        quotes = [i for i, byte in enumerate(body) if byte == ord('"')]
        at = rng.choice(quotes) + 1  # just inside a key or a string value
        kind = rng.randrange(10)
        if kind == 0:  # invalid UTF-8 inside a key or a value
            body[at:at] = rng.choice(_BAD_BYTES)
        elif kind == 1:  # a JSON-escaped lone surrogate
            body[at:at] = rng.choice(_BAD_ESCAPES)
        elif kind == 2:  # nesting 10,000 deep, as a value of a known or an unknown key
            key = rng.choice((b"status", b"deviceList", b"reportList", b"zz", b"expires_in"))
            body[1:1] = b'"' + key + b'":' + _nested(rng, rng.choice((1_000, DEEP))) + b","
        elif kind == 3:  # a huge number or a non-JSON literal
            key = rng.choice((b"expires_in", b"hasMoreFlag", b"status", b"zz"))
            body[1:1] = b'"' + key + b'":' + rng.choice(_NUMBERS) + b","
        elif kind == 4:  # a duplicate key, of another type
            key = rng.choice((b"status", b"access_token", b"reportList", b"deviceList"))
            value = rng.choice((b'"x"', b"1", b"null", b"[]", b"{}", b"true"))
            body[1:1] = b'"' + key + b'":' + value + b","
        elif kind == 5:  # a random byte flipped
            spot = rng.randrange(len(body))
            body[spot] ^= 1 << rng.randrange(8)
        elif kind == 6:  # random bytes inserted
            spot = rng.randrange(len(body) + 1)
            body[spot:spot] = rng.randbytes(rng.randrange(1, 8))
        elif kind == 7:  # a span deleted
            spot = rng.randrange(len(body))
            del body[spot : spot + rng.randrange(1, 16)]
        elif kind == 8:  # a span repeated (duplicated keys, stray brackets)
            spot = rng.randrange(len(body))
            body[spot:spot] = body[spot : spot + rng.randrange(1, 32)]
        else:  # several of the above at once
            for _ in range(3):
                spot = rng.randrange(len(body) + 1)
                body[spot:spot] = rng.choice((*_BAD_BYTES, *_BAD_ESCAPES, b"{", b"[", b'"'))
        yield bytes(body)


def hostile_corpus(count: int, seed: int = SEED) -> list[bytes]:
    """`count` bodies at least: every truncation of the valid ones, then seeded mutations."""
    corpus = list(_truncations())
    mutations = _mutations(random.Random(seed))
    corpus.extend(next(mutations) for _ in range(max(0, count - len(corpus))))
    return corpus


def _as_text(body: bytes) -> str:
    # An id-list line reaches the decoder as a str: raw surrogates survive in one.
    return body.decode("utf-8", errors="surrogateescape")


def _outcome(read: Callable[[], object], expected: type) -> str:
    try:
        result = read()
    except InputDecodeError as exc:
        reason: str | None = exc.reason
    else:
        assert isinstance(result, expected)
        return "decoded"
    assert reason
    assert len(reason) <= MAX_REASON_CHARS
    assert "\n" not in reason
    return "refused"


def _upgrade(body: bytes) -> UpgradeInfo | str:
    try:
        return decode_upgrade(body)
    except UpgradeDecodeError as exc:
        return str(exc)


def test_every_hostile_body_is_a_struct_or_the_documented_failure() -> None:
    corpus = hostile_corpus(10_000)
    assert len(corpus) >= 10_000
    outcomes: dict[str, int] = {"decoded": 0, "refused": 0}
    token, page = msgspec.json.Decoder(TokenAnswer), msgspec.json.Decoder(ReportPage)
    for body in corpus:
        for decoder, shape in ((token, TokenAnswer), (page, ReportPage)):
            outcomes[_outcome(lambda d=decoder, b=body: decode(d.decode, b), shape)] += 1
        outcomes[_outcome(lambda b=body: decode(page.decode, _as_text(b)), ReportPage)] += 1
        # The campaign's own decode: an upgrade, or the `decode` record's one-line reason.
        upgrade = _upgrade(body)
        assert isinstance(upgrade, UpgradeInfo) or (upgrade and "\n" not in upgrade)
        error = decode_error(body)
        assert error is None or isinstance(error, ApiError)
    # Both outcomes happen: the corpus is neither all valid nor all rubbish.
    assert outcomes["decoded"] > 1_000
    assert outcomes["refused"] > 10_000


_BAD_STRING = "a string is not valid UTF-8: byte 0x{} at offset {} of it"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b'{"status":"Upgrade\xe9chec"}',
            _BAD_STRING.format("e9", 7),
        ),
        (b'{"status":"\xed\xa0\x80"}', _BAD_STRING.format("ed", 0)),
        (b'{"zz":' + b"[" * DEEP + b"]" * DEEP + b"}", "nested too deeply to read"),
        (b'{"status":NaN}', "JSON is malformed: invalid character (byte 10)"),
        (b'{"status":1e400}', "Number out of range - at `$.status`"),
    ],
)
def test_a_hostile_upgrade_body_is_one_line_saying_why(body: bytes, reason: str) -> None:
    with pytest.raises(UpgradeDecodeError) as refused:
        decode_upgrade(body)
    assert str(refused.value) == reason


def test_a_body_nested_a_thousand_deep_is_refused_deep_in_a_call_stack() -> None:
    # In a run the decoder is called under anyio's tasks: the stack left is what matters.
    body = b'{"zz":' + b"[" * 1_000 + b"]" * 1_000 + b"}"

    def at_depth(levels: int) -> UpgradeInfo:
        return decode_upgrade(body) if levels == 0 else at_depth(levels - 1)

    with pytest.raises(UpgradeDecodeError, match="nested too deeply"):
        at_depth(sys.getrecursionlimit() // 2)


def test_a_lone_surrogate_in_text_is_refused() -> None:
    with pytest.raises(InputDecodeError) as refused:
        decode(msgspec.json.Decoder(ReportPage).decode, '{"lastSeenUpgradeId":"\ud800"}')
    assert refused.value.reason == "a lone surrogate U+D800 at character 22"


def test_a_shape_that_does_not_fit_is_marked_invalid() -> None:
    with pytest.raises(InputDecodeError) as refused:
        decode(msgspec.json.Decoder(TokenAnswer).decode, b'{"expires_in":1}')
    assert refused.value.invalid
    assert refused.value.reason == "Object missing required field `access_token`"


def test_an_exception_nobody_foresaw_is_named_and_cut_to_one_short_line() -> None:
    def read(data: bytes) -> object:
        raise OverflowError("too big\n" + "x" * 1000)

    with pytest.raises(InputDecodeError) as refused:
        decode(read, b"")
    assert not refused.value.invalid
    assert refused.value.reason.startswith("OverflowError: too big x")
    assert len(refused.value.reason) == MAX_REASON_CHARS


def test_a_valid_body_decodes_as_before() -> None:
    assert decode_upgrade(UPGRADE).device_list is not None
    assert decode(msgspec.json.Decoder(TokenAnswer).decode, TOKEN).access_token == "8f0e6a4c-token"
    assert decode(msgspec.json.Decoder(ReportPage).decode, PAGE).has_more_flag


# Each caller's documented failure, for the bodies that used to be tracebacks.

DEEP_LINE = b'{"record":"campaign","outcome":"ok","zz":' + b"[" * DEEP + b"]" * DEEP + b"}"


def test_a_records_line_the_decoder_cannot_read_is_a_bad_line_for_summary() -> None:
    night = Night(PhaseTable(PhasesConfig()), limit=10)
    night.read(
        [
            b'{"record":"campaign","outcome":"ok","upgrade_id":"u1"}\n',
            b'{"record":"campaign","outcome":"ok","campaign_status":"Upgrade\xe9chec"}\n',
            DEEP_LINE + b"\n",
            b'{"record":"run","run_id":"r","complete":true,"exit_code":0}\n',
        ]
    )
    assert (night.campaigns, night.bad_lines, night.first_bad_line) == (1, 2, 2)
    assert night.run is not None


def test_an_id_line_the_decoder_cannot_read_is_an_invalid_line() -> None:
    line = '{"upgradeId":"e3a8d88a-04c6-4ef3-b039-89b62f91e962","zz":' + "[" * DEEP + "]" * DEEP
    parsed = parse_line(line + "}", source="ids.txt", line_number=7, default_account="A-1")
    assert parsed == InvalidLine(
        "ids.txt", 7, "not a valid JSON id object: nested too deeply to read"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a = " + "[" * DEEP * 10 + "]" * DEEP * 10, "not valid TOML: nested too deeply to read"),
        (
            "[poll]\nrate = 1" + "0" * 5000,
            "not valid TOML: ValueError: Exceeds the limit (4300 digits) for integer string",
        ),
    ],
)
def test_a_config_the_decoder_cannot_read_is_a_config_error(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert str(refused.value).startswith(f"config {path}: {reason}")
