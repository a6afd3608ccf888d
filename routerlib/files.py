"""Writing result files safely: check first, write atomically."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def ensure_writable(path) -> Path:
    """Fail early, before any work or spending, if `path` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise OSError(f"cannot write {path}: it is a directory; give a file name such as {path / 'out.json'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OSError(f"cannot write {path}: folder {parent} does not exist; create it or choose another path")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OSError(f"cannot write {path}: permission denied; choose a writable path")
    return path


def write_json(path, obj) -> Path:
    """Write JSON to a temporary file beside `path`, then rename it into place (through a symlink, onto its target)."""
    path = ensure_writable(Path(os.path.realpath(path)) if Path(path).is_symlink() else path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def read_json(path, error=ValueError, what: str = "file", hint: str = ""):
    """The JSON in `path`, or `error` saying the file is missing or not valid UTF-8 JSON (then `hint`)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{what} {path} is not valid UTF-8 JSON: {e}{hint}") from None
