"""config.py is the one home of every default and every name of a `[poll]` setting.

The settings objects below it take their values from `PollConfig` under the same names and
carry no defaults of their own, so a default is changed in one place and a value can be
followed by its name from the TOML file to the code that uses it.
"""

import ast
import inspect
import time
from pathlib import Path

import msgspec
import pytest

import fota_poller
from fota_poller.config import PollConfig, load_config
from fota_poller.errors import ConfigError
from fota_poller.pacing.backoff import BackoffSettings, SharedBackoff
from fota_poller.pacing.circuit import CircuitBreaker
from fota_poller.pacing.ratelimit import RateLimiter
from fota_poller.pacing.retry import RetryPolicy
from fota_poller.pacing.throttle import Throttle

PACKAGE = Path(fota_poller.__file__).parent
SETTINGS_STRUCTS = [RetryPolicy, BackoffSettings]
# Built from the settings above and `[poll]`.
SETTINGS_TAKERS = [CircuitBreaker, Throttle, SharedBackoff, RateLimiter]
# Parameters that are not config values: what the object works with, and the time source.
COLLABORATORS = {"limiter", "settings", "clock"}


def poll_names() -> set[str]:
    """The `[poll]` keys and the fixed values PollConfig holds as class variables."""
    fixed = {
        name
        for name, value in vars(PollConfig).items()
        if not name.startswith("_") and isinstance(value, int | float)
    }
    return set(PollConfig.__struct_fields__) | fixed


def parameters(cls: type) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]


@pytest.mark.parametrize("settings", SETTINGS_STRUCTS, ids=lambda c: c.__name__)
def test_a_settings_struct_has_no_default_of_its_own(settings):
    defaulted = [
        field.name
        for field in msgspec.structs.fields(settings)
        if field.default is not msgspec.NODEFAULT or field.default_factory is not msgspec.NODEFAULT
    ]
    assert defaulted == [], f"{settings.__name__} restates config defaults: {defaulted}"


@pytest.mark.parametrize("cls", SETTINGS_TAKERS, ids=lambda c: c.__name__)
def test_a_class_built_from_settings_has_no_default_but_the_real_clock(cls):
    defaulted = [
        p.name
        for p in parameters(cls)
        if p.default is not inspect.Parameter.empty
        and not (p.name == "clock" and p.default is time.monotonic)
    ]
    assert defaulted == [], f"{cls.__name__} has defaults of its own: {defaulted}"


@pytest.mark.parametrize("settings", SETTINGS_STRUCTS, ids=lambda c: c.__name__)
def test_a_settings_field_is_named_as_its_config_key(settings):
    renamed = set(settings.__struct_fields__) - poll_names()
    assert renamed == set(), f"{settings.__name__} renames [poll] values: {renamed}"


@pytest.mark.parametrize("cls", [CircuitBreaker, Throttle], ids=lambda c: c.__name__)
def test_a_parameter_is_named_as_its_config_key(cls):
    renamed = {p.name for p in parameters(cls)} - COLLABORATORS - poll_names()
    assert renamed == set(), f"{cls.__name__} renames [poll] values: {renamed}"


def test_every_value_reaches_the_circuit_and_the_throttle_under_its_own_name():
    poll = PollConfig(circuit_failures=2, circuit_probe_s=3, circuit_probe_max_s=7, max_outage_s=11)
    shared = SharedBackoff(RateLimiter(10), BackoffSettings.from_config(poll))
    for part in (shared.circuit, shared.throttle):
        for p in parameters(type(part)):
            if p.name not in COLLABORATORS:
                assert getattr(part, f"_{p.name}") == getattr(poll, p.name), p.name
    poll = PollConfig(max_attempts=3, backoff_initial_s=0.2, backoff_max_s=4, max_retry_after_s=9)
    policy = RetryPolicy.from_config(poll)
    assert msgspec.structs.asdict(policy) == {
        name: getattr(poll, name) for name in RetryPolicy.__struct_fields__
    }


def defaults_outside_config() -> list[str]:
    """Every default, in a module other than config.py, given to a name PollConfig holds."""
    names = poll_names()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target = node.target
                defaulted = [target.id] if isinstance(target, ast.Name) else []
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                positional = args.posonlyargs + args.args
                with_default = positional[len(positional) - len(args.defaults) :]
                keyword = zip(args.kwonlyargs, args.kw_defaults, strict=True)
                with_default += [a for a, d in keyword if d is not None]
                defaulted = [a.arg for a in with_default]
            else:
                continue
            where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
            found += [f"{where} {name}" for name in defaulted if name in names]
    return found


def test_no_module_but_config_gives_a_poll_setting_a_default():
    assert defaults_outside_config() == []


def test_a_fixed_value_of_the_config_is_no_toml_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[poll]\nmin_rate = 1.0\n")
    with pytest.raises(ConfigError, match=r"unknown key poll\.min_rate"):
        load_config(path)
