"""Save a tuned router (its fitted parts, thresholds and tier map) to one file, and load it back.

The file is JSON with readable metadata first: `format_version`, `routerlib_version`, `kind`,
`tiers` (tier -> model, cheap first), `thresholds`, the tier models' prices and the settings.
Fitted scikit-learn parts (a classifier, a learned verifier) are stored as a base64 pickle with its
sha256. Unpickling can run code: load only router files you made or trust.
"""
from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .catalog import Catalog, Model
from .files import read_json, write_json
from .routers.base import Decision
from .routers.cascade import CascadeRouter, HeuristicScorer, JudgeScorer, LogprobScorer, VerifierScorer
from .routers.classifier import ClassifierRouter
from .routers.llm_router import LLMRouter
from .routers.rules import RuleRouter

FORMAT = "routerlib-router"
FORMAT_VERSION = 1
KINDS = ("classifier", "rules", "cascade", "llm")


class RouterFileError(ValueError):
    """A router file cannot be written or read (wrong format, version, or contents)."""


@dataclass
class TunedRouter:
    """A router ready to serve: the router, its tier map (cheap first), thresholds and tier-model prices."""

    kind: str
    router: object
    tiers: dict
    thresholds: list | None = None
    models: list = field(default_factory=list)  # catalog records of every model the router uses
    meta: dict = field(default_factory=dict)

    def catalog(self) -> Catalog:
        """A catalog of the router's models, with its tier map."""
        models = [Model(**m) for m in self.models]
        return Catalog(models, {t: m for t, m in self.tiers.items()})

    def with_thresholds(self, thresholds) -> "TunedRouter":
        """The same router with other thresholds (checked); a cascade gets a copy that accepts at the new one."""
        thresholds = check_thresholds(self.kind, thresholds, len(self.tiers))
        router = self.router
        if self.kind == "cascade":
            router = copy.copy(router)
            router.threshold = thresholds[0]
        return TunedRouter(self.kind, router, self.tiers, thresholds, self.models, self.meta)

    def route(self, query, thresholds=None) -> Decision:
        """One decision (classifier, rules, llm); a cascade decides while answering (see CascadeRouter.run_live)."""
        if self.kind == "classifier":
            t = np.asarray(thresholds if thresholds is not None else self.thresholds, float)
            p = self.router.predict_proba_one(query.text)
            k = int(np.argmax(np.r_[p[:-1] >= t, True]))
            tier = list(self.tiers)[k]
            return Decision(query.id, tier, self.tiers[tier], score=float(p[k]))
        if self.kind == "llm" and self.router.backend is None:
            raise RuntimeError("the LLM router needs a backend for its rating calls: load_router(path, backend=...)")
        if self.kind == "cascade":
            raise RuntimeError("a cascade decides while answering: use router.run_live(query, backend, tiers)")
        return self.router.route(query)

    def __repr__(self):
        return (f"TunedRouter({self.kind}, tiers={self.tiers}, thresholds={self.thresholds}, "
                f"file={self.meta.get('path')!r})")


def check_thresholds(kind: str, thresholds, n_tiers: int) -> list | None:
    """Thresholds as a list (classifier: one per tier but the last; cascade: one), each in 0-1."""
    if kind not in ("classifier", "cascade"):
        if thresholds is not None:
            raise RouterFileError(f"a {kind} router takes no thresholds (got {thresholds!r}); leave them out")
        return None
    want = n_tiers - 1 if kind == "classifier" else 1
    values = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds, dtype=object))
    if len(values) == 1:
        values = np.repeat(values, want)
    ok = all(isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and 0 <= v <= 1
             for v in values)
    if not ok or len(values) != want:
        raise RouterFileError(f"a {kind} router over {n_tiers} tiers needs {want} threshold(s) between 0 and 1 "
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


def _describe(router, tiers, catalog):
    """(kind, settings, fitted part to pickle or None, model names used) of a router."""
    if isinstance(router, ClassifierRouter):
        if not hasattr(router, "models_"):
            raise RouterFileError("the ClassifierRouter is not fitted; call fit(train_table) before saving it")
        settings = {"good_enough": router.good_enough, "C": router.C, "max_features": router.max_features,
                    "use_stats": router.use_stats, "embedder": router.embedder is not None,
                    "n_features": len(router.vectorizer_.vocabulary_),
                    "base_rates": [float(b) for b in router.base_rates_]}
        return "classifier", settings, router, list(router.tier_models_)
    if isinstance(router, RuleRouter):
        return "rules", {"tier_map": router.tier_map, "default_tier": router.default_tier}, None, list(tiers.values())
    if isinstance(router, LLMRouter):
        settings = {"router_model": router.router_model, "labels": router.labels, "fallback_tier": router.fallback_tier,
                    "prompt": router.prompt, "cache": router.cache}
        return "llm", settings, None, [*tiers.values(), router.router_model]
    if isinstance(router, CascadeRouter):
        s = router.scorer
        settings = {"scorer": s.name}
        extra = []
        if isinstance(s, JudgeScorer):
            settings.update(judge_model=s.judge_model, accuracy=s.accuracy, good_enough=s.good_enough, seed=s.seed)
            extra = [s.judge_model] if s.judge_model else []
        elif isinstance(s, VerifierScorer) and not hasattr(s, "base_rate_"):
            raise RouterFileError("the cascade's VerifierScorer is not fitted; call cascade.fit(train_table) first")
        elif not isinstance(s, (HeuristicScorer, VerifierScorer, LogprobScorer)):
            raise RouterFileError(f"cannot save a cascade with scorer {s!r}; scorers: heuristic, verifier, judge, "
                                  "logprob")
        return "cascade", settings, s if isinstance(s, VerifierScorer) else None, [*tiers.values(), *extra]
    raise RouterFileError(f"cannot save {type(router).__name__}; save_router takes a ClassifierRouter, RuleRouter, "
                          "CascadeRouter or LLMRouter")


def save_router(router, path, thresholds=None, tiers=None, catalog=None, name=None, notes: str = "") -> Path:
    """Write a tuned router to `path` (JSON); thresholds default to the cascade's own or 0.5.

    `tiers` (tier -> model, cheap first) is needed only where the router does not know it: a
    cascade takes the catalog's tier defaults unless given. `catalog` prices the models (default:
    the router's own, else the project catalog).
    """
    catalog = catalog or getattr(router, "catalog", None) or Catalog.load()
    if isinstance(router, ClassifierRouter) and hasattr(router, "tiers_"):
        tiers = dict(zip(router.tiers_, router.tier_models_))
    elif tiers is None:
        tiers = dict(catalog.tiers)
    if len(tiers) < 2:
        raise RouterFileError(f"a router needs at least 2 tiers to choose between; got {tiers}")
    kind, settings, fitted, names = _describe(router, tiers, catalog)
    if thresholds is None and kind == "cascade":
        thresholds = router.threshold
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "routerlib_version": __version__,
           "kind": kind, "name": name or kind, "notes": notes,
           "saved_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "tiers": dict(tiers), "thresholds": check_thresholds(kind, thresholds, len(tiers)),
           "models": _records(catalog, names), "settings": settings}
    if fitted is not None:
        doc["fitted"] = _pickle(fitted, f"fitted {kind} router")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, doc)  # atomic: a reader never sees half a file


def _read(path: Path) -> dict:
    doc = read_json(path, RouterFileError, "router file",
                    ", so it is not a routerlib router file; write one with routerlib.persist.save_router()")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RouterFileError(f"{path} is not a routerlib router file (no \"format\": \"{FORMAT}\"); "
                              "write one with routerlib.persist.save_router()")
    found = doc.get("format_version")
    if found != FORMAT_VERSION:
        made_by = doc.get("routerlib_version", "unknown")
        newer = isinstance(found, int) and found > FORMAT_VERSION
        todo = (f"upgrade routerlib to {made_by} or newer" if newer else
                "load it with the routerlib that wrote it, or fit and save the router again with this one")
        raise RouterFileError(f"{path} has router format_version {found!r} (written by routerlib {made_by}); this "
                              f"routerlib {__version__} reads format_version {FORMAT_VERSION}: {todo}")
    missing = [k for k in ("kind", "tiers", "models", "settings") if k not in doc]
    if missing or doc["kind"] not in KINDS:
        raise RouterFileError(f"{path}: router file lacks {missing or 'a known kind'} (kinds: {', '.join(KINDS)}); "
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


def load_router(path, backend=None) -> TunedRouter:
    """Read a router file written by save_router(); `backend` answers an LLM router's rating calls.

    Only load files you trust: a fitted router is a pickle, and unpickling can run code.
    """
    path = Path(path)
    doc = _read(path)
    kind, s, tiers = doc["kind"], doc["settings"], dict(doc["tiers"])
    try:
        tuned = TunedRouter(kind, None, tiers, None, list(doc["models"]), {
            k: doc.get(k) for k in ("name", "notes", "saved_at", "routerlib_version", "format_version")})
        tuned.meta["path"] = str(path)
        thresholds = check_thresholds(kind, doc.get("thresholds"), len(tiers))
        catalog = tuned.catalog()
    except (TypeError, ValueError) as e:
        raise RouterFileError(f"{path}: bad tiers, models or thresholds ({e}); save the router again") from None
    if kind == "classifier":
        router = _unpickle(doc, path)
    elif kind == "rules":
        router = RuleRouter(s["tier_map"], s["default_tier"], catalog=catalog)
    elif kind == "llm":
        router = LLMRouter(backend, s["router_model"], s["labels"], s["fallback_tier"], catalog, s["prompt"], s["cache"])
    else:
        scorer = {"heuristic": HeuristicScorer, "logprob": LogprobScorer}.get(s["scorer"])
        if s["scorer"] == "verifier":
            scorer = _unpickle(doc, path)
        elif s["scorer"] == "judge":
            scorer = JudgeScorer(s.get("judge_model"), s["accuracy"], s["good_enough"], s["seed"])
        elif scorer is None:
            raise RouterFileError(f"{path}: unknown cascade scorer {s['scorer']!r}; save the router again")
        else:
            scorer = scorer()
        router = CascadeRouter(scorer, thresholds[0])
    tuned.router, tuned.thresholds = router, thresholds
    return tuned
