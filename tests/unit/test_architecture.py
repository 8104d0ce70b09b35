"""The house plan holds: every module imports only from its own floor or lower ones, no two modules or packages
import each other, and only the search index imports whoosh (docs/architecture.md)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACKER = ROOT / "tracker"

# Top to bottom. A module belongs to the floor of the longest name that contains it.
FLOORS: list[tuple[str, ...]] = [
    ("tracker",),                                              # the factory: wires everything
    ("tracker.views", "tracker.cli"),                          # the ways in: pages, API, commands
    ("tracker.forms",),                                        # HTML forms, turned into service input
    ("tracker.services", "tracker.migrate"),                   # the domain
    ("tracker.search", "tracker.notifications", "tracker.documents"),  # the index replica; the outbox and its
                                                               # worker; attached files and their extraction
    ("tracker.models", "tracker.i18n"),                        # tables and types; language and formats
    ("tracker.db", "tracker.config", "tracker.errors", "tracker.lao", "tracker.pagination", "tracker.background",
     "tracker.translation", "tracker.logs", "tracker.metrics"),
]


def module_names() -> dict[str, Path]:
    names = {}
    for path in TRACKER.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


MODULES = module_names()


def floor_of(name: str) -> int:
    best = None
    for number, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (number, len(prefix))
    assert best is not None, f"{name} is on no floor: add it to FLOORS and docs/architecture.md"
    return best[0]


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(child) for child in ast.walk(inner))
    return skipped


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> tracker modules it imports, module -> other top-level packages it imports); imports done
    for type checking only are not dependencies; imports inside functions are."""
    tracker_edges: dict[str, set[str]] = defaultdict(set)
    outside: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = [f"{node.module}.{alias.name}" for alias in node.names
                              if f"{node.module}.{alias.name}" in MODULES]
                # "from tracker import lao" imports tracker.lao, not the factory.
                targets = submodules if len(submodules) == len(node.names) else [node.module, *submodules]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] != "tracker":
                    outside[name].add(target.split(".")[0])
                    continue
                resolved = _resolve(target)
                if resolved and resolved != name:
                    tracker_edges[name].add(resolved)
    return tracker_edges, outside


EDGES, OUTSIDE = imports()


def test_no_module_imports_from_a_floor_above_its_own():
    upward = [f"{name} -> {target}" for name, targets in sorted(EDGES.items()) for target in sorted(targets)
              # A package's __init__ may name what its own modules define.
              if floor_of(target) < floor_of(name) and not name.startswith(target + ".")]
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_directly_or_in_a_ring():
    assert _cycles(EDGES) == []


def _package(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def test_no_two_packages_import_each_other():
    packages: dict[str, set[str]] = defaultdict(set)
    for name, targets in EDGES.items():
        for target in targets:
            if _package(name) != _package(target) and _package(target) != "tracker":
                packages[_package(name)].add(_package(target))
    assert _cycles(packages) == []


def test_only_the_search_index_imports_whoosh():
    assert sorted(name for name, packages in OUTSIDE.items()
                  if "whoosh" in packages and not name.startswith("tracker.search")) == []


def test_the_walk_sees_the_known_floors_and_catches_an_upward_import(tmp_path):
    # The test itself must be able to fail: a service importing a view is caught.
    assert floor_of("tracker.services.editing") > floor_of("tracker.views.editing")
    assert "tracker.services.editing" in EDGES["tracker.views.editing"]
    assert floor_of("tracker.lao") == len(FLOORS) - 1


@pytest.mark.slow
def test_create_app_writes_nothing_outside_the_instance_folder(tmp_path):
    """Run in a fresh process with a read-only $HOME: building the app (and loading the Lao segmenter, which
    a search needs) must not try to write there."""
    home = tmp_path / "home"
    home.mkdir()
    instance = tmp_path / "instance"
    script = (
        "from tracker import create_app\n"
        f"app = create_app({{'DATABASE_URL': 'sqlite:///{tmp_path / 'app.db'}', 'SECRET_KEY': 'x'}})\n"
        "from tracker import lao\n"
        "assert lao.words('ລົດໄຟຟ້າ') == ['ລົດໄຟຟ້າ']\n"
    )
    home.chmod(0o555)
    try:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHAINLP", "TRACKER_"))}
        env.update(HOME=str(home), TRACKER_INSTANCE_PATH=str(instance), XDG_CACHE_HOME=str(home / ".cache"),
                   XDG_DATA_HOME=str(home / ".local/share"))
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=120)
    finally:
        home.chmod(0o755)
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(home.iterdir()) == []
