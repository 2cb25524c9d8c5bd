"""Import contracts: the layering the docs promise, checked over the source's syntax tree.

``graph`` (arrays → graph-tool) < ``optimization`` (cvxpy models) < ``chokepoint`` (the
domain) < ``pipelines`` (Dagster and the command line). A module may import first-party
code only from its own layer or lower ones; inside ``chokepoint`` the folders are layered
the same way (inputs < model < analyses < warehouse < report; ``errors``, ``settings`` and
``safety``, ``files`` at the bottom). No import of first-party code sits inside a function, no
module imports Dagster outside ``pipelines``, and the module import graph has no cycle.
A wrong import fails here, so it fails CI.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graph", "optimization", "chokepoint", "pipelines")
LAYER = {"graph": 0, "optimization": 1, "chokepoint": 2, "pipelines": 3}
#: Layers inside the domain package (first component after ``chokepoint``).
DOMAIN_LAYER = {"__init__": 0, "errors": 0, "files": 1, "settings": 1, "safety": 1, "threads": 1, "inputs": 2,
                "model": 3, "analyses": 4, "warehouse": 5, "report": 6}
#: Third-party packages a layer must not import.
FORBIDDEN = {"graph": ("dagster", "cvxpy", "duckdb"), "optimization": ("dagster", "duckdb", "polars"),
             "chokepoint": ("dagster",), "pipelines": ()}


@dataclass(frozen=True)
class Import:
    module: str      # importing module, dotted
    target: str      # imported module, dotted (best resolution)
    line: int
    in_function: bool
    dynamic: bool = False  # importlib.import_module: deliberate, visible dispatch (the CLI's handlers)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[Import]:
    name = module_name(path, root)
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[Import] = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(name, alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                # "from a.b import c" may import the module a.b.c or the name c of a.b
                for alias in child.names:
                    candidate = f"{child.module}.{alias.name}"
                    target = candidate if _is_module(candidate, root) else child.module
                    found.append(Import(name, target, child.lineno, in_function))
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                  and child.func.attr == "import_module" and child.args):
                # importlib.import_module(f"pipelines.commands.{name}"): the literal prefix names the package
                arg = child.args[0]
                prefix = arg.value if isinstance(arg, ast.Constant) else (
                    arg.values[0].value if isinstance(arg, ast.JoinedStr) and arg.values
                    and isinstance(arg.values[0], ast.Constant) else "")
                if prefix:
                    found.append(Import(name, prefix.rstrip("."), child.lineno, in_function, dynamic=True))
            visit(child, inner)

    visit(tree, False)
    return found


def _is_module(dotted: str, root: Path) -> bool:
    path = root / Path(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def source_files(root: Path, packages=PACKAGES) -> list[Path]:
    return sorted(p for package in packages for p in (root / package).rglob("*.py"))


def violations(root: Path, packages=PACKAGES) -> list[str]:
    """Every broken contract in the packages under ``root``, one line each."""
    problems = []
    edges: dict[str, set[str]] = {}
    for path in source_files(root, packages):
        for imp in imports_of(path, root):
            source_package = imp.module.split(".")[0]
            target_package = imp.target.split(".")[0]
            where = f"{path.relative_to(root)}:{imp.line}"
            for banned in FORBIDDEN[source_package]:
                if target_package == banned or target_package.startswith(banned + "_"):
                    problems.append(f"{where}: {imp.module} imports {imp.target} ({source_package} never imports "
                                    f"{banned})")
            if target_package not in LAYER:
                continue
            if imp.in_function and not imp.dynamic:
                problems.append(f"{where}: {imp.module} imports {imp.target} inside a function")
            if LAYER[target_package] > LAYER[source_package]:
                problems.append(f"{where}: {imp.module} ({source_package}) imports {imp.target} from a higher "
                                f"layer ({target_package})")
            if source_package == target_package == "chokepoint":
                mine, theirs = _domain_layer(imp.module), _domain_layer(imp.target)
                if theirs > mine:
                    problems.append(f"{where}: {imp.module} imports {imp.target} from a higher domain folder")
            if imp.target != imp.module and not imp.in_function:
                edges.setdefault(imp.module, set()).add(imp.target)
    problems.extend(f"import cycle: {' → '.join(cycle)}" for cycle in _cycles(edges))
    return problems


def _domain_layer(module: str) -> int:
    parts = module.split(".")
    return DOMAIN_LAYER.get(parts[1] if len(parts) > 1 else "__init__", max(DOMAIN_LAYER.values()))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component) + [sorted(component)[0]])

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return result


def test_the_code_base_keeps_every_import_contract():
    assert violations(ROOT) == []


def test_the_domain_package_has_only_subpackages_and_a_handful_of_modules():
    top = sorted(p.name for p in (ROOT / "chokepoint").iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "errors.py", "files.py", "safety.py", "settings.py", "threads.py"]


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for package in PACKAGES:
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").touch()


@pytest.mark.parametrize("files, expected", [
    ({"graph/a.py": "from optimization.b import x\n", "optimization/b.py": "x = 1\n"}, "from a higher layer"),
    ({"chokepoint/inputs/a.py": "import dagster\n"}, "never imports dagster"),
    ({"optimization/a.py": "def f():\n    from graph.b import x\n", "graph/b.py": "x = 1\n"}, "inside a function"),
    ({"optimization/a.py": "from optimization.b import x\n", "optimization/b.py": "from optimization.a import y\n"},
     "import cycle"),
    ({"chokepoint/inputs/a.py": "from chokepoint.analyses.b import x\n", "chokepoint/analyses/b.py": "x = 1\n"},
     "higher domain folder"),
    ({"chokepoint/a.py": "import importlib\nimportlib.import_module(f'pipelines.{1}')\n"}, "from a higher layer"),
])
def test_the_checker_reports_each_kind_of_broken_contract(tmp_path, files, expected):
    _write(tmp_path, files)
    found = violations(tmp_path)
    assert any(expected in line for line in found), found


def test_the_checker_accepts_a_well_layered_tree(tmp_path):
    _write(tmp_path, {"graph/a.py": "x = 1\n", "optimization/b.py": "from graph.a import x\n",
                      "chokepoint/model/c.py": "from chokepoint.inputs.d import y\nfrom optimization.b import x\n",
                      "chokepoint/inputs/d.py": "y = 2\n",
                      "pipelines/e.py": "import dagster\nfrom chokepoint.model.c import x\n"})
    assert violations(tmp_path) == []
