"""The package layout of DESIGN.md, checked: a stage imports only stages to its left (lazy imports
inside functions count too), and no modules import each other in a circle."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "citywalk"

# Left to right. Floors first: modules every stage may use.
STAGES = [
    {"errors", "safeio", "media", "tracks", "registry", "__init__"},
    {"shot"},
    {"prompt"},
    {"scene"},
    {"sources"},
    {"camera"},
    {"agents"},
    {"look"},
    {"render"},
    {"likeness"},
    {"capture"},
    {"video"},
    {"generate"},
    {"pipeline"},
    {"sheets", "studio", "farm"},
    {"cli", "__main__"},
]
RANK = {name: i for i, names in enumerate(STAGES) for name in names}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the citywalk modules a file imports (anywhere in it)."""
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("citywalk")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("citywalk"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    return {name: {m for m in _imports(p) if m in files and m != name} for name, p in files.items()}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_stage():
    unknown = sorted({_stage(m) for m in _graph()} - set(RANK))
    assert not unknown, f"modules outside DESIGN.md's stages: {unknown}"


def test_imports_point_left():
    wrong = [f"{a} -> {b}" for a, deps in _graph().items() for b in deps
             if RANK[_stage(b)] > RANK[_stage(a)]]
    assert not wrong, "imports pointing right:\n" + "\n".join(sorted(wrong))


def test_no_import_circles():
    # a package's __init__ importing its own modules (re-exports) is not a circle between modules
    graph = {a: {b for b in deps if not b.startswith(a + ".")} for a, deps in _graph().items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on_stack.discard(comp[-1])
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"
