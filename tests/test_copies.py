"""Model files stay self-contained for remote code (`save_pretrained` copies them flat next to the weights), so code
they share is copied, and every copy is marked the way transformers marks its own:

    # Copied from hf_livechat.models.v2lc.modeling_v2lc.V2LCAttention with V2LC->AffectFusion, video_num_heads->num_heads

Code copied from transformers is marked the same way (`# Copied from transformers.models.bart.modeling_bart.
shift_tokens_right`) and checked against the installed transformers, so an upgrade that changes the source shows.

This test re-derives each marked copy from its source (the replacements applied in order, as plain text) and fails
when the two have drifted apart: change the source and its copies together.
"""

import ast
import difflib
import re
import textwrap
from pathlib import Path

import pytest


SRC = Path(__file__).resolve().parents[1] / "src"
COPY_MARK = re.compile(r"^\s*# Copied from (?P<source>(?:hf_livechat|transformers)(?:\.\w+)+)(?: with (?P<replacements>.+))?\s*$")


def source_root(dotted: str, root: Path = SRC) -> Path:
    """Where a copy's source lives: transformers' sources in the installed package, the others under `root`."""
    if dotted.split(".")[0] == "transformers":
        import transformers

        return Path(transformers.__file__).resolve().parents[1]
    return root


def _objects_by_first_line(tree: ast.AST) -> dict[int, ast.AST]:
    """Function and class definitions (nested ones included) by their first line (a decorator's, when decorated)."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            found[first] = node
    return found


def _object_code(lines: list[str], node: ast.AST) -> str:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return textwrap.dedent("\n".join(lines[first - 1 : node.end_lineno]))


def source_code(dotted: str, root: Path = SRC) -> str:
    """The code of `pkg.module.Object[.method]` as it stands in the source tree under `root`."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        path = root.joinpath(*parts[:split]).with_suffix(".py")
        if path.is_file():
            break
    else:
        raise LookupError(f"no module of {dotted} under {root}")
    text = path.read_text(encoding="utf-8")
    scope = ast.parse(text).body
    node = None
    for name in parts[split:]:
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name), None)
        if node is None:
            raise LookupError(f"{dotted}: {path} defines no {name}")
        scope = node.body
    return _object_code(text.splitlines(), node)


def parse_replacements(text: str | None) -> list[tuple[str, str]]:
    """`"A->B, C->D"` -> [("A", "B"), ("C", "D")]."""
    if not text:
        return []
    pairs = []
    for item in text.split(","):
        old, arrow, new = item.strip().partition("->")
        if not arrow or not old or not new:
            raise ValueError(f"replacement {item.strip()!r} is not OLD->NEW")
        pairs.append((old.strip(), new.strip()))
    return pairs


def marked_copies(root: Path = SRC):
    """(where, source dotted name, replacements, the copy's code) for every `# Copied from` mark under `root`."""
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "# Copied from" not in text:
            continue
        lines = text.splitlines()
        objects = _objects_by_first_line(ast.parse(text))
        for number, line in enumerate(lines, 1):
            mark = COPY_MARK.match(line)
            if mark is None:
                continue
            where = f"{path.relative_to(root)}:{number}"
            if number + 1 not in objects:
                raise AssertionError(f"{where}: a '# Copied from' mark must stand right above a def or class")
            yield where, mark["source"], parse_replacements(mark["replacements"]), _object_code(lines, objects[number + 1])


def copy_drift(source: str, replacements: list[tuple[str, str]], copy: str, root: Path = SRC) -> str:
    """An empty string when `copy` is `source` with the replacements applied; else a unified diff."""
    expected = source_code(source, source_root(source, root))
    for old, new in replacements:
        expected = expected.replace(old, new)
    if expected == copy:
        return ""
    diff = difflib.unified_diff(expected.splitlines(), copy.splitlines(), "source with replacements", "copy", lineterm="")
    return "\n".join(diff)


COPIES = list(marked_copies())


def test_the_model_files_mark_their_copies():
    # The copies this refactor marked; a mark removed without removing its copy would let the two drift unseen.
    sources = {source for _, source, _, _ in COPIES}
    assert {
        "hf_livechat.models.livechat.layers_livechat.eager_attention_forward",
        "hf_livechat.models.v2lc.modeling_v2lc.V2LCAttention",
        "hf_livechat.models.v2lc.modeling_v2lc._text_model_kwargs",
        "hf_livechat.models.v2lc.modeling_v2lc._load_text_weights",
        "hf_livechat.models.v2lc.modeling_v2lc._init_linear_embedding_layer_norm",
        "hf_livechat.models.livechat.processing_livechat._message_text",
        "transformers.models.bart.modeling_bart.shift_tokens_right",
    } <= sources


@pytest.mark.parametrize("where, source, replacements, copy", COPIES, ids=[c[0] for c in COPIES])
def test_every_marked_copy_matches_its_source(where, source, replacements, copy):
    drift = copy_drift(source, replacements, copy)
    assert not drift, f"{where} is marked as a copy of {source} but differs from it:\n{drift}"


def test_a_drifted_copy_is_caught(tmp_path):
    package = tmp_path / "hf_livechat"
    package.mkdir()
    (package / "a.py").write_text(
        "class FooLayer:\n    def forward(self, x):\n        return self.foo_proj(x) * 2\n"
    )
    copy = "# Copied from hf_livechat.a.FooLayer with Foo->Bar, foo_proj->bar_proj\nclass BarLayer:\n    def forward(self, x):\n        return self.bar_proj(x) * 2\n"
    (package / "b.py").write_text(copy)
    [(where, source, replacements, code)] = marked_copies(tmp_path)
    assert where == "hf_livechat/b.py:1" and replacements == [("Foo", "Bar"), ("foo_proj", "bar_proj")]
    assert copy_drift(source, replacements, code, tmp_path) == ""

    # The source changes and the copy does not: the check fails and shows the line.
    (package / "a.py").write_text("class FooLayer:\n    def forward(self, x):\n        return self.foo_proj(x) * 3\n")
    drift = copy_drift(source, replacements, code, tmp_path)
    assert "-        return self.bar_proj(x) * 3" in drift and "+        return self.bar_proj(x) * 2" in drift


def test_a_method_can_be_the_source_and_a_bad_mark_is_an_error(tmp_path):
    package = tmp_path / "hf_livechat"
    package.mkdir()
    (package / "a.py").write_text("class A:\n    @staticmethod\n    def f(x):\n        return x + 1\n")
    (package / "b.py").write_text("class B:\n    # Copied from hf_livechat.a.A.f\n    @staticmethod\n    def f(x):\n        return x + 1\n")
    [(_, source, replacements, code)] = marked_copies(tmp_path)
    assert copy_drift(source, replacements, code, tmp_path) == ""
    with pytest.raises(LookupError, match="defines no g"):
        source_code("hf_livechat.a.A.g", tmp_path)
    (package / "c.py").write_text("# Copied from hf_livechat.a.A\n\nx = 1\n")
    with pytest.raises(AssertionError, match="right above a def or class"):
        list(marked_copies(tmp_path))
    with pytest.raises(ValueError, match="not OLD->NEW"):
        parse_replacements("A->B, C")


def test_a_copy_from_transformers_is_checked_against_the_installed_source(tmp_path):
    package = tmp_path / "hf_livechat"
    package.mkdir()
    bart = source_code("transformers.models.bart.modeling_bart.shift_tokens_right", source_root("transformers.x"))
    assert bart.startswith("def shift_tokens_right(")
    (package / "a.py").write_text("# Copied from transformers.models.bart.modeling_bart.shift_tokens_right\n" + bart + "\n")
    [(_, source, replacements, code)] = marked_copies(tmp_path)
    assert source.startswith("transformers.") and copy_drift(source, replacements, code, tmp_path) == ""
    (package / "a.py").write_text(
        "# Copied from transformers.models.bart.modeling_bart.shift_tokens_right\n" + bart.replace("-100", "-1") + "\n"
    )
    [(_, source, replacements, code)] = marked_copies(tmp_path)
    assert "-1, pad_token_id)" in copy_drift(source, replacements, code, tmp_path)


def test_constants_kept_in_several_layers_agree():
    # The model config is self-contained for remote code and keeps its own copy of the modality names and the
    # default frame model; the data layer's are the source for everything above it. They must not drift apart.
    from hf_livechat.data.backbones import DEFAULT_FEATURE_MODEL
    from hf_livechat.data.clip_inputs import MODALITIES
    from hf_livechat.models.livechat import configuration_livechat
    from hf_livechat.synthetic import vocabulary

    assert configuration_livechat.MODALITIES == MODALITIES and vocabulary.MODALITIES is MODALITIES
    assert configuration_livechat.LiveChatConfig().feature_model == DEFAULT_FEATURE_MODEL
