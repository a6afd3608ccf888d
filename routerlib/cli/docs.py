"""Generated docs: blocks of Markdown that a command wrote, checked for staleness or rewritten.

A block in README.md or docs/*.md reads

    <!-- generated: python -m routerlib COMMAND ARGS -->
    ...what the command printed...
    <!-- end generated -->

`docs --check` runs every command again and names each block whose text differs; `docs --update`
rewrites the blocks in place; plain `docs` writes the regenerated files to a folder of your choice.
"""
from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shlex
import tempfile
from pathlib import Path

BLOCK = re.compile(r"<!-- generated: (python -m routerlib [^\n]*?) -->\n(.*?)<!-- end generated -->", re.S)
PREFIX = ["python", "-m", "routerlib"]


def doc_files(root: Path) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.exists()]


def blocks(text: str) -> list:
    """(command, body, line number) of every generated block."""
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(text)]


def run(command: str, main) -> str:
    """What `command` prints through the command line's `main`, as a block body (fenced unless it prints Markdown)."""
    argv = shlex.split(command)
    if argv[:3] != PREFIX:
        raise ValueError(f"a generated block must run `python -m routerlib ...`, not {command!r}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv[3:])
    if code:
        raise ValueError(f"`{command}` exited with {code}; fix it before generating the docs")
    text = out.getvalue().strip("\n") + "\n"
    return text if "--markdown" in argv else f"```\n{text}```\n"


def regenerate(text: str, cache: dict, main) -> str:
    """The text with every generated block rewritten from its command (each command runs once)."""
    def fill(m):
        command = m.group(1)
        if command not in cache:
            cache[command] = run(command, main)
        return f"<!-- generated: {command} -->\n{cache[command]}<!-- end generated -->"
    return BLOCK.sub(fill, text)


NUMBER = re.compile(r"-?\d+(?:\.(\d+))?")


def same_text(committed: str, fresh: str) -> bool:
    """Equal, except that a printed decimal may differ by one step of its last digit (numeric libraries
    round a hair differently on other processors); whole numbers must match."""
    if committed == fresh:
        return True
    if NUMBER.sub("#", committed) != NUMBER.sub("#", fresh):
        return False
    for a, b in zip(NUMBER.finditer(committed), NUMBER.finditer(fresh)):
        if a.group(1) is None or b.group(1) is None:  # whole numbers are counts: exact
            if a.group() != b.group():
                return False
        elif abs(float(a.group()) - float(b.group())) > 1.01 * 10.0 ** -len(a.group(1)):
            return False
    return True


def stale(path: Path, fresh: str) -> list[str]:
    """One message per block of `path` whose committed text differs from `fresh` (beyond a last-digit step)."""
    old, new = blocks(path.read_text(encoding="utf-8")), blocks(fresh)
    messages = []
    for (command, body, line), (_, body_new, _) in zip(old, new):
        if not same_text(body, body_new):
            diff = list(difflib.unified_diff(body.splitlines(), body_new.splitlines(), "committed", "now", n=0,
                                             lineterm=""))[2:8]
            messages.append(f"stale: {path.name}:{line}: `{command}`\n    " + "\n    ".join(diff))
    return messages


def docs(main, root=".", check: bool = False, update: bool = False, out=None, data_dir=None) -> int:
    """Regenerate every block; --check: exit 1 naming stale blocks; --update: rewrite the files in place."""
    root = Path(root)
    if data_dir:
        os.environ["ROUTERLIB_DATA_DIR"] = str(data_dir)
    files = doc_files(root)
    if not any(blocks(p.read_text(encoding="utf-8")) for p in files):
        raise ValueError(f"no generated blocks in {', '.join(str(p) for p in files) or root}")
    target = Path(out or tempfile.mkdtemp(prefix="routerlib-docs-"))
    cache, problems = {}, []
    for path in files:
        fresh = regenerate(path.read_text(encoding="utf-8"), cache, main)
        problems += stale(path, fresh)
        if update:
            path.write_text(fresh, encoding="utf-8")
        else:
            (target / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(root)).write_text(fresh, encoding="utf-8")
    print(f"{len(cache)} command(s) run for {sum(len(blocks(p.read_text())) for p in files)} block(s) in "
          f"{len(files)} file(s)")
    if update:
        print("rewrote " + ", ".join(str(p) for p in files))
    else:
        print(f"regenerated copies in {target}")
    for p in problems:
        print(p)
    if check and problems and not update:
        print(f"{len(problems)} stale block(s); run `python -m routerlib docs --update` to rewrite them")
        return 1
    return 0
