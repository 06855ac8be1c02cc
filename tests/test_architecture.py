"""The package's layering (docs/architecture.rst): imports flow one way, faces only re-export, light imports."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sksurv_tace"
MODULES = sorted(PACKAGE.rglob("*.py"))

# layer -> layers it must never import
FORBIDDEN = {
    "datasets": ("models", "paper", "cli", "explain"),
    "preprocessing": ("models", "paper", "cli", "explain"),
    "metrics": ("models", "paper", "cli", "explain", "preprocessing", "datasets"),
    "models": ("paper", "cli"),
    "paper": ("cli",),
    "explain": ("paper", "cli"),
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """Top-level sksurv_tace sub-packages/modules imported anywhere in ``path`` (absolute or relative)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts + [a.name] for a in node.names] if len(parts) == 1 else [parts]
            else:
                parts = (node.module or "").split(".")
                names = [parts + [a.name] for a in node.names] if parts == ["sksurv_tace"] else [parts]
            found |= {n[1] for n in names if n[0] == "sksurv_tace" and len(n) > 1}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("sksurv_tace.")}
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    layer = _layer(path)
    bad = _imported(path) & set(FORBIDDEN.get(layer, ()))
    assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(bad)}"
    if layer != "cli":
        assert "cli" not in _imported(path)


@pytest.mark.parametrize("path", [p for p in MODULES if p.name == "__init__.py" and p.parent != PACKAGE],
                         ids=lambda p: p.parent.name)  # fmt: skip
def test_subpackage_faces_only_reexport(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_all = isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__all__"]
        assert is_doc or is_all or isinstance(node, ast.ImportFrom), ast.dump(node)[:80]


@pytest.mark.parametrize("module", ["sksurv_tace", "sksurv_tace.metrics", "sksurv_tace.datasets"])
def test_light_imports_load_neither_torch_nor_matplotlib(module):
    code = f"import sys, {module}; assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_resolve_lazily():
    import sksurv_tace

    for name in sksurv_tace.__all__:
        assert getattr(sksurv_tace, name) is not None
    with pytest.raises(AttributeError, match="no attribute"):
        sksurv_tace.not_a_name  # noqa: B018
