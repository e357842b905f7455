"""The body reader: the cap counts decoded bytes, whatever the encoding or Content-Length says."""

import gzip
import zlib

import pytest
from aiohttp import web
from helpers import serve_app

from fota_poller.api.client import open_session
from fota_poller.api.response_body import read_body
from fota_poller.config import Config
from fota_poller.errors import UnreadableBodyError
from fota_poller.simulator.hostile import GzipBomb

MB = 1024 * 1024
# JSON-like and compressible, but not a run of one byte: about 10:1 under gzip.
TEXT = b"".join(b'{"deviceId":"%015d","status":"UpgradeSuccess"},' % n for n in range(20_000))


async def chunked(request):
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(int(request.query["chunks"])):
        await response.write(b"x" * 1000)
    await response.write_eof()
    return response


async def sized(_request):
    return web.Response(body=b"y" * 5000)


def encoded(body, encoding):
    async def handler(_request):
        return web.Response(body=body, headers={"Content-Encoding": encoding})

    return handler


async def echo_accept_encoding(request):
    return web.Response(text=request.headers.get("Accept-Encoding", ""))


# About 40 MB that compresses 200:1, as a campaign of alike devices does: over the 32 MiB
# that aiohttp's own decompression allows a chunk, which a network chunk can inflate to.
LARGE = b'{"deviceList":[' + b'{"deviceId":"1","status":"UpgradeSuccess"},' * 950_000 + b"{}]}"
ROUTES = {
    "/gzip": encoded(gzip.compress(TEXT), "gzip"),
    "/deflate": encoded(zlib.compress(TEXT), "deflate"),
    "/raw-deflate": encoded(zlib.compress(TEXT, wbits=-15), "deflate"),
    "/identity": encoded(TEXT, "identity"),
    "/br": encoded(b"\x1b\x00\x00", "br"),
    "/two-members": encoded(gzip.compress(TEXT) + gzip.compress(TEXT), "gzip"),
    "/cut": encoded(gzip.compress(TEXT)[:-20], "gzip"),
    "/large": encoded(gzip.compress(LARGE, compresslevel=1), "gzip"),
    "/bomb": encoded(GzipBomb(64).body(), "gzip"),
}


@pytest.fixture
async def base_url():
    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/sized", sized)
    app.router.add_get("/accept", echo_accept_encoding)
    for path, handler in ROUTES.items():
        app.router.add_get(path, handler)
    async with serve_app(app) as base_url:
        yield base_url


async def read(url, cap):
    # The poller's own session: automatic decompression off, its Accept-Encoding sent.
    async with open_session(Config()) as session, session.get(url) as response:
        return await read_body(response, cap)


async def test_a_declared_length_over_the_cap_fails_before_reading(base_url):
    with pytest.raises(UnreadableBodyError, match="5000 bytes") as failure:
        await read(f"{base_url}/sized", 4999)
    assert failure.value.kind == "too_large"


async def test_a_chunked_body_stops_being_read_at_the_cap(base_url):
    with pytest.raises(UnreadableBodyError) as failure:
        await read(f"{base_url}/chunked?chunks=50", 10_000)
    assert failure.value.kind == "too_large"


async def test_bodies_within_the_cap_are_read_whole(base_url):
    assert len(await read(f"{base_url}/chunked?chunks=10", 10_000)) == 10_000
    assert len(await read(f"{base_url}/sized", 5000)) == 5000


async def test_the_session_asks_only_for_encodings_the_reader_undoes(base_url):
    assert await read(f"{base_url}/accept", None) == b"gzip, deflate"


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/raw-deflate", "/identity"])
async def test_each_supported_encoding_decodes_to_the_body(base_url, path):
    assert await read(f"{base_url}{path}", 2 * len(TEXT)) == TEXT


async def test_gzip_members_one_after_another_are_all_decoded(base_url):
    assert await read(f"{base_url}/two-members", 4 * len(TEXT)) == TEXT + TEXT


async def test_the_cap_counts_decoded_bytes_though_content_length_is_small(base_url):
    # 50 KB on the wire, within the cap; 1.1 MB decoded, over it.
    with pytest.raises(UnreadableBodyError, match="inflated bytes") as failure:
        await read(f"{base_url}/gzip", len(TEXT) - 1)
    assert failure.value.kind == "too_large"


async def test_a_bomb_is_refused_at_the_cap(base_url):
    # 64 KB that inflates to 64 MiB, against a 1 MiB cap.
    with pytest.raises(UnreadableBodyError, match="over the 1048576 byte cap") as failure:
        await read(f"{base_url}/bomb", MB)
    assert failure.value.kind == "too_large"


async def test_a_genuine_body_past_aiohttps_32_mib_decompression_limit_decodes(base_url):
    assert len(LARGE) > 32 * MB
    assert await read(f"{base_url}/large", 64 * MB) == LARGE


async def test_an_unknown_encoding_is_a_clear_failure(base_url):
    with pytest.raises(UnreadableBodyError, match="Content-Encoding 'br'") as failure:
        await read(f"{base_url}/br", MB)
    assert failure.value.kind == "http"


async def test_a_compressed_body_cut_short_is_a_clear_failure(base_url):
    with pytest.raises(UnreadableBodyError, match="ends before") as failure:
        await read(f"{base_url}/cut", 2 * len(TEXT))
    assert failure.value.kind == "http"
