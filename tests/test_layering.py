"""Architecture rules: the data path is one-way (media -> codec -> processing -> model -> train/evaluation/cli).

A module may import from its own layer or a layer to its left, never from one to its right. The check parses every
module's imports (no execution), so it also catches imports hidden inside functions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ov_vlm"

# Lower number = earlier in the data path. Top-level subpackages/modules not listed are the model layer.
LAYERS = {
    "utils": 0,
    "errors": 0,  # the error family's base (`ov_vlm.errors`), below every layer
    "resources": 0,  # package data (presets, eval suites/tasks, recipes); its files that are not modules are skipped
    "media": 1,
    "codec": 2,
    "processing": 3,
    "encoders": 4,
    "model": 4,
    "data": 5,
    "train": 6,
    "evaluation": 6,
    "demo": 7,
    "cli": 8,
}


def is_module(path: Path) -> bool:
    """A file of an importable package (every folder up to ``ov_vlm/`` has an ``__init__.py``), not shipped data
    such as an lmms-eval task's ``utils.py``."""
    return all((folder / "__init__.py").is_file() for folder in path.parents if folder.is_relative_to(PACKAGE))


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "ov_vlm" or len(parts) == 1:
        return None
    return LAYERS.get(parts[1], LAYERS["model"])


def imports_of(path: Path) -> list[tuple[str, int]]:
    module = "ov_vlm." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
    return found


def test_no_module_imports_from_a_later_layer():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own_module = "ov_vlm." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        own = layer_of(own_module)
        if own is None or not is_module(path):
            continue
        for target, line in imports_of(path):
            other = layer_of(target)
            if other is not None and other > own:
                violations.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not violations, "imports against the data path:\n" + "\n".join(violations)


def test_no_dispatch_on_checkpoint_path_substrings():
    """Behaviour comes from configs and registries, never from `"x" in model_path`-style checks."""
    suspicious = ("in model_name", "in model_path", "in pretrained", "in str(path)", "in name_or_path")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {text}"
        for path in PACKAGE.rglob("*.py")
        for text in suspicious
        if text in path.read_text()
    ]
    assert not offenders, offenders


def test_media_and_codec_import_without_torch():
    """The layers below processing are torch-free (a codec worker or a frame reader needs no deep-learning stack)."""
    code = (
        "import sys, ov_vlm.media, ov_vlm.codec; "
        "heavy = sorted(m for m in ('torch', 'transformers', 'deepspeed') if m in sys.modules); print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def module_name(path: Path) -> str:
    return ("ov_vlm." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def import_time_imports(path: Path, modules: set[str]) -> set[str]:
    """The ov-vlm modules ``path`` needs when it is imported: statements outside functions (an import inside a
    function runs later), ``from package import name`` naming the package and, when ``name`` is one, a submodule."""
    own = module_name(path)
    base = own.split(".") if path.name == "__init__.py" else own.split(".")[:-1]
    found = set()
    pending = list(ast.parse(path.read_text(), filename=str(path)).body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(prefix + ([node.module] if node.module else []))
            submodules = {f"{target}.{alias.name}" for alias in node.names}
            if not (submodules <= modules and own.startswith(target + ".")):
                found.add(target)  # ``from <own package> import <submodule>`` does not need the package complete
            found.update(submodules)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in modules} - {own}


def test_no_import_cycles():
    """Importing any module never needs a module that is still half-imported (the direction rule above allows
    cycles inside one layer)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py") if is_module(p)}
    graph = {name: import_time_imports(path, set(paths)) for name, path in paths.items()}
    cycles, state = [], {}  # state: 1 while on the depth-first path, 2 when done

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycles.append(" -> ".join([*trail[trail.index(other) :], other]))
            elif other not in state:
                visit(other, [*trail, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
