import anyio
import pytest
from anyio import wait_all_tasks_blocked

from fota_poller.run import channels


@pytest.mark.parametrize("buffer", [0, 1, 4])
async def test_items_arrive_in_order_and_the_stream_ends(buffer):
    send, receive = anyio.create_memory_object_stream[int](buffer)
    got = []

    async def consume():
        async with receive:
            got.extend([item async for item in channels.receive_all(receive)])

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        async with send:
            for item in range(100):
                await channels.send(send, item)
    assert got == list(range(100))


async def test_send_waits_while_the_buffer_is_full():
    send, receive = anyio.create_memory_object_stream[int](1)
    sent = []

    async def produce():
        for item in (1, 2):
            await channels.send(send, item)
            sent.append(item)

    async with send, receive, anyio.create_task_group() as group:
        group.start_soon(produce)
        await wait_all_tasks_blocked()
        assert sent == [1]
        assert receive.receive_nowait() == 1
        await wait_all_tasks_blocked()
        assert sent == [1, 2]


async def test_receive_all_on_a_closed_send_side_ends_at_once():
    send, receive = anyio.create_memory_object_stream[int](1)
    await send.aclose()
    async with receive:
        assert [item async for item in channels.receive_all(receive)] == []
