import aiohttp
import pytest
from aiohttp import web

from fota_poller.client import RequestFailedError, read_capped


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


@pytest.fixture
async def base_url():
    app = web.Application()
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/sized", sized)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def read(url, cap):
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await read_capped(response, cap)


async def test_a_declared_length_over_the_cap_fails_before_reading(base_url):
    with pytest.raises(RequestFailedError, match="5000 bytes") as failure:
        await read(f"{base_url}/sized", 4999)
    assert failure.value.kind == "too_large"


async def test_a_chunked_body_stops_being_read_at_the_cap(base_url):
    with pytest.raises(RequestFailedError) as failure:
        await read(f"{base_url}/chunked?chunks=50", 10_000)
    assert failure.value.kind == "too_large"


async def test_bodies_within_the_cap_are_read_whole(base_url):
    assert len(await read(f"{base_url}/chunked?chunks=10", 10_000)) == 10_000
    assert len(await read(f"{base_url}/sized", 5000)) == 5000
