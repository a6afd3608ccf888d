"""Generated docs: every result table comes from a command, and a stale one is named."""
import subprocess
import sys

import pytest

from routerlib.cli import main
from routerlib.cli.docs import blocks, docs

BLOCK = "<!-- generated: python -m routerlib models --catalog {cat} -->\n{body}<!-- end generated -->\n"


@pytest.fixture
def checkout(tmp_path):
    """A checkout with a README whose generated block is stale, and a docs page with a fresh one."""
    cat = tmp_path / "cat.json"
    cat.write_text('{"models": [{"name": "tiny", "tier": "cheap", "input_per_mtok": 0.01, "output_per_mtok": 0.02}]}')
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Title\n\ntext\n\n" + BLOCK.format(cat=cat, body="```\nold table\n```\n"))
    return tmp_path, cat


def test_check_names_the_stale_block_and_update_fixes_it(checkout, capsys):
    root, cat = checkout
    assert docs(main, root, check=True) == 1
    out = capsys.readouterr().out
    assert "stale: README.md:5: `python -m routerlib models" in out and "-old table" in out
    assert "old table" in (root / "README.md").read_text()  # a check never writes the tracked file
    assert docs(main, root, update=True) == 0
    text = (root / "README.md").read_text()
    assert "tiny" in text and "old table" not in text and text.startswith("# Title\n\ntext\n")
    assert docs(main, root, check=True) == 0


def test_plain_docs_writes_copies_where_asked(checkout, capsys, tmp_path_factory):
    root, _ = checkout
    out = tmp_path_factory.mktemp("copies")
    assert docs(main, root, out=out) == 0
    assert "tiny" in (out / "README.md").read_text() and "old table" in (root / "README.md").read_text()


def test_blocks_and_bad_commands(checkout):
    root, cat = checkout
    (command, body, line), = blocks((root / "README.md").read_text())
    assert command.startswith("python -m routerlib models") and line == 5 and "old table" in body
    (root / "docs" / "x.md").write_text("<!-- generated: python -m routerlib nope -->\n<!-- end generated -->\n")
    with pytest.raises(SystemExit):  # argparse refuses an unknown command
        docs(main, root, check=True)


def test_the_committed_docs_are_what_the_commands_print(data_mirror):
    """The README's and docs/'s result tables, regenerated on the mirror (a few minutes)."""
    from conftest import REPO
    done = subprocess.run([sys.executable, "-m", "routerlib", "docs", "--check", "--root", str(REPO), "--data-dir",
                           str(data_mirror)], capture_output=True, text=True, timeout=3600, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "stale" not in done.stdout


def test_a_last_digit_step_is_not_stale_but_more_is():
    from routerlib.cli.docs import same_text
    assert same_text("| a | 0.584 | 37.12 | 5/5 |", "| a | 0.585 | 37.11 | 5/5 |")
    assert not same_text("| a | 0.584 |", "| a | 0.586 |")
    assert not same_text("| a | 0.584 |", "| b | 0.584 |")
    assert not same_text("| 5/5 |", "| 4/5 |")
    assert not same_text("| 0.5 |", "| 1 |")


def test_every_documented_command_parses():
    """Each `python -m routerlib ...` in a code block or a generated marker of README.md and docs/ parses."""
    import re
    import shlex
    from pathlib import Path

    from routerlib.cli import build_parser

    root = Path(__file__).resolve().parent.parent
    found = 0
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md")), root / "notebooks" / "README.md"]:
        in_code = False
        for line in page.read_text(encoding="utf-8").splitlines():
            in_code ^= line.startswith("```")
            match = re.search(r"python -m routerlib ([^`|#<>]*)", line.replace("-->", ""))
            if not match or not (in_code or line.startswith("<!-- generated:")):
                continue
            try:
                build_parser().parse_args(shlex.split(match.group(1)))
            except SystemExit as e:
                pytest.fail(f"{page.name}: `python -m routerlib {match.group(1).strip()}` does not parse ({e})")
            found += 1
    assert found >= 20


def test_every_command_and_option_has_help_text():
    import argparse

    from routerlib.cli import build_parser

    def undocumented(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:  # one per command; aliases share it
                    yield from ([] if choice.help else [f"{path} {choice.dest}"])
                    yield from undocumented(action.choices[choice.dest], f"{path} {choice.dest}")
            elif not action.help:
                yield f"{path} {action.option_strings or action.dest}"

    assert list(undocumented(build_parser(), "routerlib")) == []
