"""Where recorded data files live: a data dir or the cache, downloaded at a pinned commit when missing.

Files are named `<owner>/<repo>/<path>`, so the same name is also the public URL of the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..catalog import DATA_DIR

PINNED_COMMITS = {
    "lm-sys/RouteLLM": "0b64fdafe049e596a3f5657c219329f24af24198",
    "lmarena/arena-hard-auto": "4a705dd6963f777aba2ae79259e3013934e6e012",
    "shuhao02/RouterDC": "0e63989c5bf4363330b8a4616386e3f7f116d9f8",
}
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
MANIFEST = DATA_DIR / "manifest.json"  # sha256 and size of every known file, for downloads and `data verify`
ALL_MEGABYTES = 55  # what `data fetch all` downloads (the manifest's files); a test checks it


class DataNotFoundError(FileNotFoundError):
    """Recorded data files are missing and could not be downloaded."""

    def _render_traceback_(self):
        """In a notebook: one line saying what to run, instead of a traceback."""
        return [f"Recorded data missing ({self.args[0].splitlines()[0]}). Run `python -m routerlib data fetch all` "
                "on a machine with network, or set ROUTERLIB_DATA_DIR to a mirror; then run this cell again."]


class NoNetworkError(DataNotFoundError):
    """Missing data files could not be downloaded because the host could not be reached at all."""


class DataFormatError(ValueError):
    """A data file could not be parsed; the message names the file (and line where known)."""


def cache_dir() -> Path:
    """Where downloads and derived files go: ROUTERLIB_CACHE_DIR, else ~/.cache/routerlib."""
    return Path(os.environ.get("ROUTERLIB_CACHE_DIR") or Path.home() / ".cache" / "routerlib")


def data_dir(explicit=None) -> Path:
    """The data dir to read: the explicit one, else ROUTERLIB_DATA_DIR, else the cache folder."""
    return Path(explicit or os.environ.get("ROUTERLIB_DATA_DIR") or cache_dir())


def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def url_of(name: str) -> str:
    """Public URL of a mirrored file at its pinned commit (ROUTERLIB_DATA_URL overrides the host)."""
    owner, repo, path = name.split("/", 2)
    template = os.environ.get("ROUTERLIB_DATA_URL") or RAW_URL
    return template.format(repo=f"{owner}/{repo}", commit=PINNED_COMMITS[f"{owner}/{repo}"], path=path)


def locate(name: str, explicit=None) -> Path | None:
    """The local copy of a file, in the data dir or the cache, or None."""
    for root in dict.fromkeys([data_dir(explicit), cache_dir()]):
        if (root / name).is_file():
            return root / name
    return None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str) -> Path:
    """Fetch one file into the cache (never into a data dir we only read), checking its hash."""
    target = cache_dir() / name
    part = target.with_name(target.name + ".part")
    expected = manifest().get(name, {})
    with urllib.request.urlopen(url_of(name), timeout=30) as response:  # folders only once the server answers
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(part, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or expected.get("bytes")
                with tqdm(total=total, unit="B", unit_scale=True, desc=name.rsplit("/", 1)[-1], leave=False) as bar:
                    for block in iter(lambda: response.read(1 << 16), b""):
                        out.write(block)
                        bar.update(len(block))
            if expected.get("sha256") and sha256(part) != expected["sha256"]:
                raise DataFormatError(f"downloaded {name} does not match its pinned sha256; try again")
        except BaseException:
            part.unlink(missing_ok=True)
            remove_empty_folders(target.parent)
            raise
    part.replace(target)
    return target


def remove_empty_folders(folder: Path) -> None:
    """Remove this folder and its parents while they are empty, up to the cache folder."""
    root = cache_dir().resolve()
    folder = folder.resolve()
    while folder != root and root in folder.parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def no_network(error: Exception) -> bool:
    """True for a failure to reach the host at all (no network, DNS, refused), not an HTTP error answer."""
    return isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError)


def downloads_allowed() -> bool:
    return os.environ.get("ROUTERLIB_OFFLINE", "").lower() not in ("1", "true", "yes")


def fetch(names, explicit=None, download_missing: bool | None = None) -> dict[str, Path]:
    """Local paths of these files, downloading the missing ones where allowed and possible."""
    found = {n: locate(n, explicit) for n in names}
    missing = [n for n, p in found.items() if p is None]
    allowed = downloads_allowed() if download_missing is None else download_missing
    failures, unreachable = [], False
    with tqdm(total=len(missing), desc="files downloaded", disable=not (missing and allowed)) as bar:
        for name in missing if allowed else []:
            try:
                found[name] = download(name)
                bar.update(1)  # counts only files that arrived
            except (urllib.error.URLError, OSError, DataFormatError) as e:
                failures.append(f"{name}: {getattr(e, 'reason', e)}")
                bar.set_postfix(failed=len(failures))
                unreachable = no_network(e)
                if unreachable:
                    break  # the other files would fail the same way
    still = [n for n, p in found.items() if p is None]
    if still:
        listed = "\n  ".join(still[:10]) + (f"\n  ... and {len(still) - 10} more" if len(still) > 10 else "")
        why = ("download failed (" + "; ".join(failures[:3]) + ")" if failures
               else "downloads are off (ROUTERLIB_OFFLINE=1)" if not allowed else "")
        raise (NoNetworkError if unreachable else DataNotFoundError)(
            f"{len(still)} data file(s) missing from {' and '.join(map(str, dict.fromkeys([data_dir(explicit), cache_dir()])))}:"
            f"\n  {listed}\n"
            f"{why}\nTo get them: on a machine with network run `python -m routerlib data fetch all` (about "
            f"{ALL_MEGABYTES} MB), or point ROUTERLIB_DATA_DIR (or --data-dir) at a mirror laid out as "
            "<owner>/<repo>/<path>.")
    return found


def build_manifest(mirror) -> dict:
    """sha256 and size of every file under a mirror's pinned repositories."""
    mirror = Path(mirror)
    entries = {}
    for repo in PINNED_COMMITS:
        for path in sorted((mirror / repo).rglob("*")):
            if path.is_file():
                entries[path.relative_to(mirror).as_posix()] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    return entries
