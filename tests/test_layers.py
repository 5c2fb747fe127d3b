"""
The import rules of the developer guide (docs/developer_guide.rst, "Layers"): every
package of ``src/iactpipe`` imports only packages of a lower layer (DESIGN.md:
dependencies point downward), nothing imports ``tools``, and there is no import circle
between modules. Imports inside functions and ``TYPE_CHECKING`` blocks count too.
"""

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "iactpipe"

#: layer of each package (and top-level module) of iactpipe: a package may import
#: packages of lower layers only (siblings of one layer do not import each other)
LAYERS = {
    0: {"version"},
    1: {"", "defaults", "instrument"},
    2: {"calib"},
    3: {"io"},
    4: {"simulation", "image", "stereo", "irf", "plotting"},
    5: {"batch", "reco", "dl3"},
    6: {"analysis", "quality"},
    7: {"workflow"},
    8: {"tools"},
}
RANK = {package: rank for rank, packages in LAYERS.items() for package in packages}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of the iactpipe modules (or names in them) the source imports."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "iactpipe"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "iactpipe":
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def _package(name: str) -> str:
    """``iactpipe.io.atomic`` -> ``io``; ``iactpipe.version`` -> ``version``; ``iactpipe``: ''."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


#: the parsed source of every module of iactpipe
TREES = {path: ast.parse(path.read_text()) for path in SRC.rglob("*.py")}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in TREES}

    def resolve(name):  # a name imported from a module -> that module
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    return {
        m: {resolve(t) for t in _imports(TREES[p], m, p.name == "__init__.py")} - {m, ""}
        for m, p in modules.items()
    }


GRAPH = _graph()


def test_every_package_has_a_layer():
    packages = {_package(m) for m in GRAPH}
    assert packages <= set(RANK), f"add {packages - set(RANK)} to LAYERS and the guide"


def test_imports_point_downward():
    wrong = [
        f"{module} (layer {RANK[_package(module)]}) imports {target}"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if _package(target) != _package(module)
        and RANK.get(_package(target), 99) >= RANK[_package(module)]
    ]
    assert not wrong, "not a lower layer:\n" + "\n".join(wrong)


def test_no_import_circles():
    """No strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not circles, circles


def test_rules_catch_a_violation():
    """The parser sees an upward import, relative or absolute, also inside a function."""
    text = "def f():\n    from ..tools.base import IactpipeTool\n    import iactpipe.dl3\n"
    found = _imports(ast.parse(text), "iactpipe.io.probe")
    assert found == {"iactpipe.tools.base.IactpipeTool", "iactpipe.dl3"}
    assert all(RANK[_package(t)] > RANK["io"] for t in found)


def _runtime_imports(statements: list[ast.stmt]) -> set[str]:
    """Top-level names of the modules imported outside ``if TYPE_CHECKING:`` blocks."""
    names = set()
    for node in statements:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            names |= _runtime_imports(node.orelse)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                block = getattr(node, field, None)
                if isinstance(block, list):
                    names |= _runtime_imports([n for n in block if isinstance(n, ast.AST)])
    return names


def test_only_plotting_imports_matplotlib():
    """Figures are made in ``iactpipe.plotting``; tools and reports call it."""
    users = sorted(
        _module_name(p)
        for p, tree in TREES.items()
        if p.parent.name != "plotting" and "matplotlib" in _runtime_imports(tree.body)
    )
    assert not users, users
