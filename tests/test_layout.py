"""The package's layout: the layers stack one way, no import cycle, every exception in
errors.py, no module over 300 lines, a `poll` run without the simulator.

Modules are read with `ast`, never imported: a lazy import inside a function hides no cycle.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from helpers import modules_loaded_by

PACKAGE = Path(__file__).parent.parent / "fota_poller"
MAX_LINES = 300


# The layers, lowest first, as docs/development.md ("Layers") gives them. A module may import
# from its own layer and the ones below; two folders (or top-level modules) never import each
# other, even in one layer. A new folder must be placed here before it can be imported.
LAYERS: Final = (
    ("errors", "text", "durations", "decoding", "lines", "regular_files", "_version"),
    ("model",),
    ("config", "config_messages", "config_sources"),
    ("api", "ids", "pacing", "inventory", "output", "state"),
    ("observe",),
    ("run",),
    ("summary", "report", "simulator", "testing"),
    ("commands",),
    ("cli", "__main__"),
)


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module in `path`; a package's `__init__` is the package."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package in `root`, by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imported_modules(name: str, path: Path, known: Collection[str]) -> set[str]:
    """The package modules that the module `name`, in `path`, imports anywhere in its text.

    Counted: imports at the top, inside functions, and in `if TYPE_CHECKING:` blocks (a cycle
    through a type-only import is still two modules that each need the other to be read).
    Not counted: the parent packages Python runs first (`fota_poller/__init__.py` for
    `fota_poller.api.client`): as it re-exports the public names, every module would be in a
    cycle with it.
    """
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package=is_package, module=node.module, level=node.level)
            for alias in node.names:
                # `from fota_poller.api import client` imports the module `client`;
                # `from fota_poller.api.client import UpgradeClient` imports `client`.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {module for module in found if module in known and module != name}


def _absolute(name: str, *, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    anchor = name.split(".") if is_package else name.split(".")[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, module] if module else anchor)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    modules = package_modules(root)
    return {name: imported_modules(name, path, modules.keys()) for name, path in modules.items()}


def _reachable(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, ...]]:
    """Each group of modules that import each other, directly or not, as a sorted tuple."""
    reach = {name: _reachable(graph, name) for name in graph}
    return sorted(
        {
            tuple(sorted(other for other in reach[name] if name in reach[other]))
            for name in graph
            if name in reach[name]
        }
    )


def cycle_path(graph: Mapping[str, Iterable[str]], group: Iterable[str]) -> list[str]:
    """One closed path through a cycle's `group`, to name it in a failure: [a, b, a]."""
    members = set(group)
    start = min(members)
    # Breadth-first from `start`, inside the group, until an import leads back to it.
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for child in sorted(set(graph[node]) & members):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                frontier.append(child)
    return [start]


def unit_of(module: str) -> str | None:
    """The folder or top-level module a module belongs to; None for the package's __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_violations(
    graph: Mapping[str, set[str]], layers: Sequence[Sequence[str]] = LAYERS
) -> list[str]:
    """Each import from a lower layer up, each unit in no layer, each pair importing each other.

    The package's own `__init__` is left out: it names the public API lazily, from every layer.
    """
    rank = {unit: number for number, units in enumerate(layers) for unit in units}
    edges: dict[tuple[str, str], list[str]] = {}
    found: list[str] = []
    for name in sorted(graph):
        source = unit_of(name)
        for target in sorted(graph[name]):
            dest = unit_of(target)
            if source is None or dest is None or dest == source:
                continue
            edges.setdefault((source, dest), []).append(f"{name} -> {target}")
            if source not in rank or dest not in rank:
                found.append(f"not in any layer: {name} -> {target}")
            elif rank[dest] > rank[source]:
                found.append(f"upward: {name} -> {target}")
    for (source, dest), imports in sorted(edges.items()):
        if source < dest and (dest, source) in edges:
            both = [imports[0], edges[dest, source][0]]
            found.append(f"{source} and {dest} import each other: {'; '.join(both)}")
    return found


def exception_classes(root: Path = PACKAGE) -> dict[str, list[str]]:
    """The exception classes each module of the package defines, known by their bases' names."""
    trees = {name: ast.parse(path.read_bytes()) for name, path in package_modules(root).items()}
    known = {name for name, value in vars(builtins).items() if _is_exception(value)}
    found: dict[str, list[str]] = {}
    # Until no new class is found: a subclass may come before its base in the walk.
    while True:
        new = {
            (module, node.name)
            for module, tree in trees.items()
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name not in known
            if any(_base_name(base) in known for base in node.bases)
        }
        if not new:
            return found
        for module, name in sorted(new):
            known.add(name)
            found.setdefault(module, []).append(name)


def _is_exception(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseException)


def _base_name(base: ast.expr) -> str | None:
    if isinstance(base, ast.Name):
        return base.id
    return base.attr if isinstance(base, ast.Attribute) else None


def long_modules(root: Path = PACKAGE) -> dict[str, int]:
    """The modules over `MAX_LINES` lines, with their line counts."""
    lines = {name: path.read_bytes().count(b"\n") for name, path in package_modules(root).items()}
    return {name: count for name, count in lines.items() if count > MAX_LINES}


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(
        " -> ".join(cycle_path(graph, group)) for group in cycles
    )


def test_the_layers_stack_one_way() -> None:
    assert layer_violations(import_graph()) == []


def test_errors_is_the_bottom_layer() -> None:
    assert import_graph()["fota_poller.errors"] == set()


def test_regular_files_sits_on_errors_alone() -> None:
    # The lock (run/), the metrics (observe/), the output (output/) and the state (state/)
    # all open their files through it: it may import nothing those folders import.
    assert import_graph()["fota_poller.regular_files"] == {"fota_poller.errors"}


def test_every_exception_type_is_in_errors() -> None:
    # The simulator is a separate program served for tests: its own errors may stay in it.
    elsewhere = {
        module: names
        for module, names in exception_classes().items()
        if module != "fota_poller.errors" and not module.startswith("fota_poller.simulator")
    }
    assert elsewhere == {}


def test_no_module_passes_300_lines() -> None:
    long = long_modules()
    assert long == {}, f"modules over {MAX_LINES} lines: {long}"


def test_a_poll_run_does_not_load_the_simulator() -> None:
    # The simulator's server costs a `poll` process about 3 MB of peak RSS (6% of the
    # throughput benchmark's): building the parser imports the options of simulate and demo for
    # their options, and they import the simulator only when their command runs.
    loaded, _ = modules_loaded_by(
        "import fota_poller.commands.poll.core, fota_poller.cli; fota_poller.cli.build_parser()"
    )
    assert "fota_poller.commands.poll.core" in loaded
    assert "fota_poller.simulator" not in loaded


def _write_package(root: Path, modules: Mapping[str, str]) -> Path:
    package = root / "fota_poller"
    for relative, text in {"__init__.py": "", **modules}.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()  # every folder a package, as in fota_poller
        path.write_text(text, encoding="utf-8")
    return package


def test_a_cycle_through_a_lazy_import_and_a_type_check_block_is_found(tmp_path: Path) -> None:
    package = _write_package(
        tmp_path,
        {
            "api/client.py": "from fota_poller.pacing import retry\n",
            "pacing/retry.py": "def tally():\n    from ..observe.tally import RunTally\n",
            "observe/tally.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from fota_poller.api.client import UpgradeClient\n"
            ),
            "text.py": "import fota_poller.api.client\n",
        },
    )
    graph = import_graph(package)
    [cycle] = find_cycles(graph)
    assert cycle_path(graph, cycle) == [
        "fota_poller.api.client",
        "fota_poller.pacing.retry",
        "fota_poller.observe.tally",
        "fota_poller.api.client",
    ]


def test_a_planted_upward_import_is_found_even_lazy_or_type_only(tmp_path: Path) -> None:
    package = _write_package(
        tmp_path,
        {
            "model/records.py": "def f():\n    from fota_poller.run import pipeline\n",
            "config.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from fota_poller.commands import poll\n"
            ),
            "run/pipeline.py": "",
            "commands/poll.py": "",
        },
    )
    assert layer_violations(import_graph(package)) == [
        "upward: fota_poller.config -> fota_poller.commands.poll",
        "upward: fota_poller.model.records -> fota_poller.run.pipeline",
    ]


def test_a_planted_pair_of_folders_importing_each_other_is_found(tmp_path: Path) -> None:
    # One layer, no cycle between modules: still two folders that each need the other.
    package = _write_package(
        tmp_path,
        {
            "api/client.py": "from fota_poller.pacing import ratelimit\n",
            "pacing/ratelimit.py": "",
            "pacing/retry.py": "from fota_poller.api import client\n",
        },
    )
    graph = import_graph(package)
    assert find_cycles(graph) == []
    pair = (
        "api and pacing import each other: "
        "fota_poller.api.client -> fota_poller.pacing.ratelimit; "
        "fota_poller.pacing.retry -> fota_poller.api.client"
    )
    assert layer_violations(graph) == [pair]


def test_a_folder_in_no_layer_is_found(tmp_path: Path) -> None:
    package = _write_package(
        tmp_path, {"plugins/extra.py": "from fota_poller import errors\n", "errors.py": ""}
    )
    assert layer_violations(import_graph(package)) == [
        "not in any layer: fota_poller.plugins.extra -> fota_poller.errors"
    ]


def test_an_exception_outside_errors_is_found(tmp_path: Path) -> None:
    package = _write_package(
        tmp_path,
        {
            "errors.py": "class FotaPollerError(Exception): ...\n",
            "run/lock.py": (
                "from fota_poller import errors\n"
                "class AlreadyRunningError(errors.FotaPollerError): ...\n"
                "class Locked(AlreadyRunningError): ...\n"
                "class Holder: ...\n"
            ),
        },
    )
    assert exception_classes(package) == {
        "fota_poller.errors": ["FotaPollerError"],
        "fota_poller.run.lock": ["AlreadyRunningError", "Locked"],
    }


def test_a_long_module_is_found(tmp_path: Path) -> None:
    package = _write_package(tmp_path, {"long.py": "x = 1\n" * (MAX_LINES + 1), "short.py": ""})
    assert long_modules(package) == {"fota_poller.long": MAX_LINES + 1}
