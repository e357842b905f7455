"""`check`'s `inventory` step: the first page of one account's device list, when the night joins it.

The real CLI against the simulator (`run_check`): `--inventory` or `[inventory] enabled`
fetch one page of `--account`'s list, else of the first id list's account; a list the API
refuses is the night's exit 1 and the check goes on to its logout; no account to sample is
said, not guessed.
"""

from helpers import ACCOUNT

from fota_poller.simulator import run_simulator

from .conftest import SMALL

UNKNOWN = "0000999999-00009"


async def listed_devices(account: str) -> int:
    async with run_simulator(SMALL) as sim:
        return len(sim.inventory.truth(account))


async def test_the_first_page_of_the_accounts_list_is_counted(run_check):
    checked = await run_check("--inventory", "--account", ACCOUNT)

    assert checked.code == 0, checked.lines
    devices = await listed_devices(ACCOUNT)
    assert checked.step("inventory") == [
        f"ok   inventory   {ACCOUNT}: {devices} devices on the first page, more: no"
    ]
    assert checked.lines[-1] == "ok   logout      session closed"


async def test_without_an_account_the_first_id_lists_is_sampled(catalog_ids, run_check):
    checked = await run_check("--inventory", "--ids", str(catalog_ids))

    assert checked.code == 0, checked.lines
    [line] = checked.step("inventory")
    assert line.startswith(f"ok   inventory   {ACCOUNT}: ")


async def test_a_list_the_api_refuses_fails_with_the_nights_exit_1(tmp_path, run_check):
    config = tmp_path / "config.toml"
    config.write_text("[inventory]\nenabled = true\n", encoding="utf-8")

    checked = await run_check("--config", str(config), "--account", UNKNOWN)

    assert checked.code == 1
    [line] = checked.step("inventory")
    assert line.startswith(f"FAIL inventory   {UNKNOWN}: HTTP 4"), line
    assert checked.lines[-1] == "ok   logout      session closed"


async def test_with_no_account_to_sample_the_step_says_so(run_check):
    checked = await run_check("--inventory")

    assert checked.code == 0, checked.lines
    assert checked.step("inventory") == [
        "skip inventory   no account to sample: give --account, or --ids of a file"
    ]


async def test_without_inventory_there_is_no_step(run_check):
    checked = await run_check("--account", ACCOUNT)

    assert checked.code == 0, checked.lines
    assert checked.step("inventory") == []
