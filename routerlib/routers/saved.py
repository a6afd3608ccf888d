"""Save a tuned router (its fitted parts, thresholds and tier map) to one file, and load it back.

The file is JSON with readable metadata first: `format_version`, `routerlib_version`, `router` (its name),
`tiers` (tier -> model, cheap first), `thresholds`, the tier models' prices and the settings.
What fit() learned (a classifier, a learned verifier) are stored as a base64 pickle with its
sha256. Unpickling can run code: load only router files you made or trust.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import pickle
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..catalog import Catalog, Model
from ..files import read_json, write_json
from .base import Router
from .registry import make, names

FORMAT = "routerlib-router"
FORMAT_VERSION = 2  # 2: any router of the registry, by name and settings; 1 had a fixed list of kinds


class RouterFileError(ValueError):
    """A router file cannot be written or read (wrong format, version, or contents)."""


def check_thresholds(router, thresholds, n_tiers: int) -> list | None:
    """Thresholds as a list, one per tier but the last, each in 0-1; None for routers that take none."""
    if not router.uses_thresholds:
        if thresholds is not None:
            raise RouterFileError(f"a {router.name} router takes no thresholds (got {thresholds!r}); leave them out")
        return None
    want = n_tiers - 1
    values = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, dtype=object))
    if len(values) == 1:
        values = np.repeat(values, want)
    ok = all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and 0 <= v <= 1
             for v in values)
    if not ok or len(values) != want:
        raise RouterFileError(f"a {router.name} router over {n_tiers} tiers needs {want} threshold(s) between 0 and 1 "
                              f"(one per tier but the last, cheap first); got {thresholds!r}")
    return [float(v) for v in values]


def _records(catalog: Catalog, names) -> list:
    return [asdict(catalog.get(n)) for n in dict.fromkeys(names)]


def _pickle(obj, what: str) -> dict:
    try:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise RouterFileError(f"cannot save the {what}: {e}. A custom embedder or scorer must be a picklable "
                              "object (a module-level class or function, not a lambda), or None") from None
    import sklearn
    return {"pickle_b64": base64.b64encode(blob).decode("ascii"), "sha256": hashlib.sha256(blob).hexdigest(),
            "sklearn_version": sklearn.__version__}


def save_router(router, path, thresholds=None, tiers=None, catalog=None, name=None, notes: str = "") -> Path:
    """Write a tuned router to `path` (JSON); thresholds default to the router's own, else 0.5.

    `tiers` (tier -> model, cheap first) defaults to what the router was fitted on, else the
    catalog's tier defaults. `catalog` prices the models (default: the router's own, else the
    project catalog).
    """
    known = names(live_only=True)
    kind = getattr(router, "name", None)
    if not isinstance(router, Router) or not isinstance(kind, str) or not (kind in known or kind.startswith("always-")):
        raise RouterFileError(f"cannot save {type(router).__name__} (router name {kind!r}); save_router takes a router "
                              f"of the registry: {', '.join(known)} or always-<tier>")
    if router.uses_test_labels:
        raise RouterFileError(f"cannot save {type(router).__name__}: an oracle knows only the outcomes it was shown "
                              "(test labels); it is a reference to compare with, not a router to deploy")
    catalog = catalog or getattr(router, "catalog", None) or Catalog.load()
    tiers = dict(tiers or router.tier_models())
    if len(tiers) < 2:
        raise RouterFileError(f"a router needs at least 2 tiers to choose between; got {tiers}")
    try:
        fitted = router.fitted_part()
        settings = router.settings()
    except ValueError as e:
        raise RouterFileError(str(e)) from None
    if thresholds is None:
        thresholds = router.thresholds
    used = [*tiers.values(), *[settings.get(k) for k in ("router_model", "judge_model") if settings.get(k)]]
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "routerlib_version": __version__,
           "router": router.name, "name": name or router.name, "notes": notes,
           "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "tiers": tiers, "thresholds": check_thresholds(router, thresholds, len(tiers)),
           "models": _records(catalog, used), "settings": settings}
    if fitted is not None:
        doc["fitted"] = _pickle(fitted, f"fitted {router.name} router")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, doc)  # atomic: a reader never sees half a file


def _read(path: Path) -> dict:
    doc = read_json(path, RouterFileError, "router file",
                    ", so it is not a routerlib router file; write one with routerlib.routers.saved.save_router()")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RouterFileError(f"{path} is not a routerlib router file (no \"format\": \"{FORMAT}\"); "
                              "write one with routerlib.routers.saved.save_router()")
    found = doc.get("format_version")
    if found != FORMAT_VERSION:
        made_by = doc.get("routerlib_version", "unknown")
        newer = isinstance(found, int) and found > FORMAT_VERSION
        todo = (f"upgrade routerlib to {made_by} or newer" if newer else
                "load it with the routerlib that wrote it, or fit and save the router again with this one")
        raise RouterFileError(f"{path} has router format_version {found!r} (written by routerlib {made_by}); this "
                              f"routerlib {__version__} reads format_version {FORMAT_VERSION}: {todo}")
    missing = [k for k in ("router", "tiers", "models", "settings") if k not in doc]
    known = names(live_only=True)
    if missing or not (doc["router"] in known or str(doc["router"]).startswith("always-")):
        raise RouterFileError(f"{path}: router file lacks {missing or 'a known router'} (routers: {', '.join(known)}); "
                              "it may be damaged; save the router again")
    return doc


def _unpickle(doc: dict, path: Path):
    fitted = doc.get("fitted") or {}
    try:
        blob = base64.b64decode(fitted["pickle_b64"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise RouterFileError(f"{path}: the fitted part is missing or not base64; save the router again") from None
    if hashlib.sha256(blob).hexdigest() != fitted.get("sha256"):
        raise RouterFileError(f"{path}: the fitted part does not match its sha256 (the file was changed or damaged); "
                              "save the router again")
    try:
        return pickle.loads(blob)
    except Exception as e:
        import sklearn
        raise RouterFileError(f"{path}: cannot unpickle the fitted router ({type(e).__name__}: {e}); it was saved with "
                              f"scikit-learn {fitted.get('sklearn_version')}, this is {sklearn.__version__}; "
                              "install that version or fit and save the router again") from None


def load_router(path, backend=None) -> Router:
    """Read a router file written by save_router(); `backend` answers an LLM router's rating calls
    (and a cascade's answers). The router carries its tiers, thresholds and the file's metadata (`meta`).

    Only load files you trust: a fitted router is a pickle, and unpickling can run code.
    """
    path = Path(path)
    doc = _read(path)
    tiers = dict(doc["tiers"])
    try:
        catalog = Catalog([Model(**m) for m in doc["models"]], tiers)
        settings = dict(doc["settings"])
        if str(doc["router"]).startswith("always-"):
            settings.pop("tier", None)  # the name says the tier
        router = make(doc["router"], catalog, **settings)
        thresholds = check_thresholds(router, doc.get("thresholds"), len(tiers))
    except (TypeError, ValueError) as e:
        raise RouterFileError(f"{path}: bad tiers, models, settings or thresholds ({e}); save the router again") from None
    if "fitted" in doc:
        router = router.restore(_unpickle(doc, path))
    if hasattr(router, "backend"):
        router.backend = backend
    router.thresholds, router.tier_models_, router.catalog = thresholds, tiers, catalog
    router.meta = {k: doc.get(k) for k in ("name", "notes", "saved_at", "routerlib_version", "format_version")}
    router.meta["path"] = str(path)
    return router
