"""The package's layers import one way (../shared/notes/architecture.md): models < data < evaluation, training <
pipelines < CLI. A module that reaches up a layer makes the lower layer depend on everything above it."""

import ast
from pathlib import Path

import pytest


PACKAGE = Path(__file__).resolve().parents[1] / "src" / "hf_livechat"
# Modules every layer may use: they import nothing of the package's layers themselves.
SHARED = {"tokenization", "distributed", "assets", "model_card", "__init__"}
ALLOWED = {
    "models": {"models"},
    "data": {"data"},
    "synthetic": {"synthetic", "data"},
    "evaluation": {"evaluation", "models", "data"},
    "training": {"training", "models", "data", "evaluation"},
    "pipelines": {"pipelines", "models", "data", "evaluation"},
}


def imported_layers(path: Path):
    """(line, layer, dotted module) for each import of a package module in `path`, relative imports resolved."""
    package = list(path.relative_to(PACKAGE).parent.parts)
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            module = base + (node.module.split(".") if node.module else [node.names[0].name])
        elif node.module and node.module.startswith("hf_livechat."):
            module = node.module.split(".")[1:]
        else:
            continue
        if module:
            yield node.lineno, module[0], ".".join(module)


def test_no_module_imports_from_a_layer_above_it():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if layer not in ALLOWED:
            continue  # the CLI and the quickstart sit on top
        for line, target, module in imported_layers(path):
            if target not in SHARED and target not in ALLOWED[layer]:
                violations.append(f"{path.relative_to(PACKAGE)}:{line}: {layer} imports {module}")
    assert not violations, "imports that reach up a layer:\n" + "\n".join(violations)


@pytest.mark.parametrize("layer", ["models", "data"])
def test_the_checker_sees_a_violation(tmp_path, layer, monkeypatch):
    # the rule is only as good as the import resolution: a planted upward import must be found
    fake = tmp_path / "hf_livechat"
    (fake / layer / "sub").mkdir(parents=True)
    (fake / layer / "sub" / "m.py").write_text("from ...pipelines.live import X\nfrom hf_livechat.training import y\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = [(target, module) for _, target, module in imported_layers(fake / layer / "sub" / "m.py")]
    assert found == [("pipelines", "pipelines.live"), ("training", "training")]
