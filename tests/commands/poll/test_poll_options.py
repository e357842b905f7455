"""`fota-poller poll`: its help documents every flag, the environment and the exit codes."""

from __future__ import annotations

from helpers import run_cli

from fota_poller.cli import build_parser


def test_poll_help_documents_every_flag_the_environment_and_exit_codes() -> None:
    result = run_cli(["poll", "--help"])
    assert result.returncode == 0
    text = result.stdout.decode()
    poll = build_parser()._subparsers._group_actions[0].choices["poll"]  # type: ignore[union-attr]
    for action in poll._actions:
        for flag in action.option_strings:
            assert flag in text
        assert action.help, f"{action.option_strings} has no help"
    for variable in ("THINGSPACE_BEARER_TOKEN", "THINGSPACE_SESSION_TOKEN"):
        assert variable in text
    for code in ("0 ", "1 ", "2 "):
        assert f"\n  {code}" in text
