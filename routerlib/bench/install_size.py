"""Install size of an optional extra: the disk space of what it adds beyond routerlib's own dependencies."""
from __future__ import annotations

import re
from importlib import metadata


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0).lower().replace("_", "-")


def installed_closure(names) -> set:
    """The installed distributions `names` need, themselves included (their optional extras left out)."""
    seen, todo = set(), [_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        todo += [_name(r) for r in requires if "extra ==" not in r]
    return seen


def installed_mb(names) -> float:
    """Megabytes on disk of the files these installed distributions own."""
    total = 0
    for name in names:
        for f in metadata.distribution(name).files or []:
            path = f.locate()
            total += path.stat().st_size if path.is_file() else 0
    return round(total / 2**20, 1)


def added_by(package: str) -> dict:
    """Disk size of `package` alone and of everything it adds beyond routerlib's own (non-optional) dependencies."""
    try:
        core = [r for r in metadata.requires("routerlib") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        core = []
    added = sorted(installed_closure([package]) - installed_closure(core))
    return {"package_mb": installed_mb([package]), "added_mb": installed_mb(added), "adds": added}
