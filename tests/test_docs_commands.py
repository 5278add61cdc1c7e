"""Every command in the docs runs: the fenced ```bash blocks of README.md and docs/*.md, extracted and checked.

- **Parse** (every block): each `hf-livechat SUBCOMMAND ...` line (also `.venv/bin/hf-livechat`, `python -m
  hf_livechat.cli`) is parsed by the real command-line parser: the subcommand exists, `SUBCOMMAND --help` exits 0,
  and every flag and value the doc writes is accepted. Each `python SCRIPT.py ...` line names a script of the
  repository, and each of its flags is one the script's argparse parser defines (read from its source).
- **Run** (cheap blocks): a block runs as written, with bash, in a scratch folder laid out like the checkout
  (`.venv` and, when present, `../shared` are links; `hf-livechat` and `python` are the venv's), and must exit 0.
  A block that needs files which are absent (`../shared/data/...` on a machine without the shared samples) is
  skipped, saying which.

- **Links** (every page): relative links point at files that exist and at headings that exist in them.

The rule for expensive blocks: a block preceded by `<!-- not-run: REASON -->` (the line right before its fence) is
parsed but not run; REASON says why (it installs, trains for minutes, needs a live stream, or its paths are
placeholders for the user's data). A block preceded by `<!-- slow -->` runs only with `-m slow`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VENV_BIN = Path(sys.executable).parent
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.+?)\s*-->")
SLOW = re.compile(r"<!--\s*slow\b.*?-->")
OPERATORS = {"&&", "||", ";", "|", "&"}
RUN_TIMEOUT = 600


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    text: str
    not_run: str | None
    slow: bool

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def bash_blocks(path: Path) -> list[Block]:
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            before = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
            reason = NOT_RUN.search(before)
            blocks.append(Block(path, start + 1, "\n".join(body), reason.group(1) if reason else None, bool(SLOW.search(before))))
        i += 1
    return blocks


BLOCKS = [block for path in DOCS for block in bash_blocks(path)]


def commands(text: str) -> list[list[str]]:
    """The simple commands of a bash block: continuation lines joined, comments dropped, split at && || ; | &."""
    result = []
    for line in text.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        for token in lexer:
            if token in OPERATORS:
                result.append(current)
                current = []
            else:
                current.append(token)
        result.append(current)
    commands_ = []
    for words in result:
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):  # VAR=value prefixes
            words = words[1:]
        if words:
            commands_.append(words)
    return commands_


def cli_arguments(words: list[str]) -> list[str] | None:
    """The arguments after the program when a command runs `hf-livechat`, else None."""
    if Path(words[0]).name == "hf-livechat":
        return words[1:]
    if Path(words[0]).name.startswith("python") and words[1:3] == ["-m", "hf_livechat.cli"]:
        return words[3:]
    return None


def python_script(words: list[str]) -> tuple[str, list[str]] | None:
    """(script, arguments) when a command runs `python SCRIPT.py ...`, else None."""
    if Path(words[0]).name.startswith("python") and len(words) > 1 and words[1].endswith(".py"):
        return words[1], words[2:]
    return None


def script_flags(script: Path) -> set[str]:
    """The option strings of every `add_argument` call in a script's source (empty: it parses no argparse flags)."""
    flags = set()
    for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            flags.update(a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-"))
    return flags


def test_docs_have_commands():
    assert BLOCKS, "no ```bash block found in README.md or docs/"
    assert any(block.not_run is None for block in BLOCKS), "every block is marked not-run: nothing is run"


def test_every_cli_subcommand_in_the_docs_has_help():
    from hf_livechat.cli import build_parser

    used = {args[0] for block in BLOCKS for words in commands(block.text) if (args := cli_arguments(words))}
    assert used
    for subcommand in sorted(used):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([subcommand, "--help"])
        assert exit_.value.code == 0, f"hf-livechat {subcommand} --help exited {exit_.value.code}"
        assert f"usage: hf-livechat {subcommand}" in out.getvalue()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_commands_parse(block: Block):
    from hf_livechat.cli import build_parser

    for words in commands(block.text):
        if (args := cli_arguments(words)) is not None:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                try:
                    parsed = build_parser().parse_args(args)
                except SystemExit as exit_:
                    pytest.fail(f"{block.id}: `{shlex.join(words)}` does not parse (exit {exit_.code}):\n{err.getvalue()}")
            assert isinstance(parsed, argparse.Namespace) and parsed.command == args[0]
        elif (call := python_script(words)) is not None:
            script, arguments = call
            path = ROOT / script
            assert path.is_file(), f"{block.id}: {script} is not a file of the repository"
            known = script_flags(path)
            if not known:
                continue  # not an argparse script (e.g. HfArgumentParser over dataclasses)
            unknown = [a.split("=")[0] for a in arguments if a.startswith("--") and a.split("=")[0] not in known]
            assert not unknown, f"{block.id}: {script} has no {unknown} (it defines {sorted(known)})"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_doc_links_resolve(path: Path):
    """Relative links between the pages point at files that exist, and at headings that exist in them."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: broken links {broken}"


def _sandbox(tmp_path: Path) -> Path:
    """A scratch folder laid out like the checkout's root: the doc's relative paths resolve, its outputs land here."""
    work = tmp_path / "repo"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv" if (ROOT / ".venv").exists() else VENV_BIN.parent)
    for name in ("bench", "examples"):
        (work / name).symlink_to(ROOT / name)
    if (ROOT.parent / "shared").exists():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    return work


RUNNABLE = [b for b in BLOCKS if b.not_run is None]


@pytest.mark.parametrize(
    "block", [pytest.param(b, marks=[pytest.mark.slow] if b.slow else []) for b in RUNNABLE], ids=[b.id for b in RUNNABLE]
)
def test_doc_block_runs(block: Block, tmp_path):
    work = _sandbox(tmp_path)
    missing = [
        word for words in commands(block.text) for word in words
        if word.startswith("../") and not (work / word).exists()
    ]  # fmt: skip
    if missing:
        pytest.skip(f"{block.id} reads files absent here: {', '.join(missing)}")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.text], cwd=work, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert result.returncode == 0, f"{block.id} exited {result.returncode}:\n{block.text}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
