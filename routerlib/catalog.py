"""Model catalog: tiers, prices per 1M tokens (with sources), cost(), and each tier's model for a table of outcomes."""
from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .files import read_json

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_CATALOG = DATA_DIR / "models.json"


class CatalogError(ValueError):
    """A model or catalog file is invalid."""


class UnknownModelError(KeyError):
    """A model name is not in the catalog."""

    def __str__(self):
        return self.args[0]


def _price(name, field, value):
    if value is None:
        raise CatalogError(
            f"model {name!r} has no {field} price; give both input_per_mtok and "
            "output_per_mtok in USD per 1M tokens (0 for a free local model)")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CatalogError(f"model {name!r}: {field} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise CatalogError(f"model {name!r}: {field} must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Model:
    """One model: its tier, USD prices per 1M tokens, and where it is served."""

    name: str
    tier: str
    input_per_mtok: float
    output_per_mtok: float
    source: str = ""
    date: str = ""
    base_url: str | None = None
    api_name: str | None = None  # name sent to the server, when it differs from `name`
    ttft_ms: float | None = None  # median time to first token, ms (None: not known)
    output_tokens_per_s: float | None = None  # median output speed after the first token
    latency_source: str = ""
    latency_date: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise CatalogError(f"a model needs a non-empty name, got {self.name!r}")
        if not isinstance(self.tier, str) or not self.tier.strip():
            raise CatalogError(f"model {self.name!r} needs a tier name")
        object.__setattr__(self, "input_per_mtok", _price(self.name, "input_per_mtok", self.input_per_mtok))
        object.__setattr__(self, "output_per_mtok", _price(self.name, "output_per_mtok", self.output_per_mtok))
        for field in ("ttft_ms", "output_tokens_per_s"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise CatalogError(f"model {self.name!r}: {field} must be a number > 0 (or left out), got {value!r}")

    def latency_s(self, completion_tokens: float) -> float | None:
        """Seconds for one answer of this many tokens at the median figures (None where they are unknown)."""
        if self.ttft_ms is None or self.output_tokens_per_s is None:
            return None
        return self.ttft_ms / 1000 + completion_tokens / self.output_tokens_per_s

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD cost of one call with these token counts."""
        for label, n in (("prompt_tokens", prompt_tokens), ("completion_tokens", completion_tokens)):
            if isinstance(n, bool) or not isinstance(n, (int, float)) or not n >= 0:
                raise ValueError(f"{label} must be a number >= 0, got {n!r}")
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


_MODEL_FIELDS = set(Model.__dataclass_fields__)


def model_from_dict(entry: dict) -> Model:
    """Build a Model from a catalog entry, with a clear error for bad fields."""
    if not isinstance(entry, dict):
        raise CatalogError(f"a catalog model entry must be an object, got {entry!r}")
    unknown = set(entry) - _MODEL_FIELDS
    if unknown:
        raise CatalogError(f"model {entry.get('name')!r}: unknown field(s) {sorted(unknown)}; "
                           f"allowed: {sorted(_MODEL_FIELDS)}")
    missing = {"name", "tier"} - set(entry)
    if missing:
        raise CatalogError(f"model entry {entry!r} is missing {sorted(missing)}")
    return Model(**{"input_per_mtok": None, "output_per_mtok": None, **entry})


class Catalog:
    """Models by name, and an ordered map from tier (cheap to expensive) to its default model."""

    def __init__(self, models=(), tiers=None):
        self.models: dict[str, Model] = {}
        self.tiers: dict[str, str] = dict(tiers or {})
        for m in models:
            self.models[m.name] = m
        self._check_tiers()

    @classmethod
    def load(cls, path=None) -> "Catalog":
        """Load a catalog JSON file (the project's data/models.json by default)."""
        return cls().update_from_file(path or DEFAULT_CATALOG)

    def update_from_file(self, path) -> "Catalog":
        """Add or override models and tier defaults from a JSON file; returns self."""
        path = Path(path)
        spec = read_json(path, CatalogError, "catalog file")
        if not isinstance(spec, dict) or not isinstance(spec.get("models", []), list):
            raise CatalogError(f"catalog file {path} must be an object with a 'models' list")
        for entry in spec.get("models", []):
            self.add(model_from_dict(entry), check=False)
        self.tiers.update(spec.get("tiers", {}))
        self._check_tiers()
        return self

    def _check_tiers(self):
        for tier, name in self.tiers.items():
            if name not in self.models:
                raise CatalogError(f"tier {tier!r} names model {name!r}, which is not in the catalog")
            if self.models[name].tier != tier:
                raise CatalogError(f"tier {tier!r} names model {name!r}, whose tier is {self.models[name].tier!r}")
        for m in self.models.values():
            if self.tiers and m.tier not in self.tiers:
                raise CatalogError(f"model {m.name!r} has unknown tier {m.tier!r}; tiers: {list(self.tiers)}")

    def add(self, model: Model, check: bool = True) -> "Catalog":
        """Add a model, replacing one of the same name; returns self."""
        if not isinstance(model, Model):
            raise TypeError(f"add() takes a Model, got {type(model).__name__}")
        self.models[model.name] = model
        if check:
            self._check_tiers()
        return self

    def get(self, name: str) -> Model:
        """The model called `name`, or UnknownModelError with close matches."""
        try:
            return self.models[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), self.models, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownModelError(
                f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(self.models))}. "
                "Add it with Catalog.add(Model(...)) or a --catalog JSON file.") from None

    def __contains__(self, name):
        return name in self.models

    def tier_model(self, tier: str) -> Model:
        """The default model of a tier."""
        if tier not in self.tiers:
            raise CatalogError(f"unknown tier {tier!r}; tiers are {list(self.tiers)}")
        return self.models[self.tiers[tier]]

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD cost of one call to `model`."""
        return self.get(model).cost(prompt_tokens, completion_tokens)

    def with_base_url(self, name: str, base_url: str) -> "Catalog":
        """Serve `name` from an OpenAI-compatible server at base_url; returns self."""
        self.models[name] = replace(self.get(name), base_url=base_url)
        return self

    def records(self) -> list[dict]:
        """The catalog as a list of plain dicts, tier order first."""
        order = {t: i for i, t in enumerate(self.tiers)}
        models = sorted(self.models.values(), key=lambda m: (order.get(m.tier, len(order)), m.input_per_mtok))
        return [asdict(m) for m in models]

    def __repr__(self):
        tiers = ", ".join(f"{t}={m}" for t, m in self.tiers.items())
        return f"Catalog({len(self.models)} models; {tiers})"


def choose_tiers(table, catalog: Catalog | None = None) -> tuple[Catalog, list]:
    """Each tier's model: its best on this table, kept only where it costs more and scores better than
    the tier below (a dominated tier takes its best undominated model, or is dropped). Returns the
    catalog and notes saying what was replaced or dropped."""
    catalog, notes = infer_tiers(table, catalog)
    models = [catalog.get(m) for m in table.models if m in catalog]
    quality, cost = table.wide("quality").mean(), table.wide("cost_usd").mean()
    chosen, below = {}, None
    for tier in [t for t in catalog.tiers if any(m.tier == t for m in models)]:
        candidates = [m.name for m in models if m.tier == tier and not math.isnan(quality.get(m.name, math.nan))]
        if not candidates:
            continue
        best = max(candidates, key=lambda m: (quality[m], -cost[m]))
        fine = [m for m in candidates if below is None or (quality[m] > quality[below] and cost[m] > cost[below])]
        if not fine:
            notes.append(f"dropped tier {tier!r}: none of its models ({', '.join(candidates)}) both costs more and "
                         f"scores better than {below} ({chosen_tier(chosen, below)})")
            continue
        pick = max(fine, key=lambda m: (quality[m], -cost[m]))
        if pick != best:
            notes.append(f"tier {tier!r}: {best} is dominated by {below} (cheaper and at least as good); "
                         f"using {pick}")
        chosen[tier], below = pick, pick
    return Catalog([m for m in models if m.tier in chosen], chosen), notes


def tier_names(k: int) -> list:
    """Names of k inferred tiers, cheapest first: cheap, mid, expensive (mid-1, mid-2, ... past three)."""
    return {1: ["cheap"], 2: ["cheap", "expensive"], 3: ["cheap", "mid", "expensive"]}.get(
        k, ["cheap", *[f"mid-{i}" for i in range(1, k - 1)], "expensive"])


def infer_tiers(table, catalog: Catalog | None = None) -> tuple[Catalog, list]:
    """The catalog, if it knows every model of the table; else tiers inferred from mean cost per query.

    Inferred: cheapest first, a model is kept only if it scores better than every cheaper one kept
    (the front rule). Prices come from the catalog, else from the table's cost per token.
    """
    catalog = catalog or Catalog.load()
    unknown = [m for m in table.models if m not in catalog]
    if not unknown:
        return catalog, []
    quality, cost = table.wide("quality").mean(), table.wide("cost_usd").mean()
    usable = [m for m in table.models if not (math.isnan(quality[m]) or math.isnan(cost[m]))]
    front, dominated = [], []
    for m in sorted(usable, key=lambda m: (cost[m], -quality[m])):
        (dominated if front and quality[m] <= quality[front[-1]] else front).append(m)
    if not front:
        raise ValueError(f"{table.name}: no model has a recorded quality and cost, so no tiers can be inferred")
    names = tier_names(len(front))
    models = [replace(catalog.get(m), tier=t) if m in catalog else estimated_model(table, m, t)
              for m, t in zip(front, names)]
    notes = [f"tiers inferred from mean cost per query ({', '.join(unknown)} not in the catalog; map them with "
             "--tiers or --catalog): " + ", ".join(f"{t}={m} (${cost[m] * 1000:.3g}/1k)" for t, m in zip(names, front))]
    if dominated:
        notes.append(f"left out {', '.join(dominated)}: a cheaper model scores at least as well")
    if len(usable) < len(table.models):
        notes.append(f"left out {', '.join(m for m in table.models if m not in usable)}: no quality or cost recorded")
    return Catalog(models, dict(zip(names, front))), notes


def estimated_model(table, name: str, tier: str) -> Model:
    """A model missing from the catalog: its costs are the recorded ones; its price per token is estimated from them."""
    rows = table.outcomes[table.outcomes["model"] == name]
    tokens = (rows["prompt_tokens"].fillna(0) + rows["completion_tokens"].fillna(0)).sum()
    per_mtok = float(rows["cost_usd"].sum() / tokens * 1e6) if tokens > 0 else 0.0
    how = ("recorded cost / recorded tokens (an overestimate where completion tokens are unknown)" if tokens > 0
           else "unknown (no tokens recorded), taken as 0")
    return Model(name, tier, per_mtok, per_mtok, source=f"not in the catalog; price per token {how}")


def parse_tiers(text: str) -> dict:
    """`small=cheap,big=expensive` as {model: tier}, in the order given (cheapest tier first)."""
    pairs = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in pairs if p.count("=") < 1 or not all(x.strip() for x in p.rsplit("=", 1))]
    if bad or not pairs:
        raise ValueError(f"--tiers expects MODEL=TIER pairs separated by commas, cheapest tier first "
                         f"(e.g. small-model=cheap,big-model=expensive); got {text!r}")
    return {m.strip(): t.strip() for m, t in (p.rsplit("=", 1) for p in pairs)}


def chosen_tier(chosen: dict, model: str) -> str:
    """The tier a chosen model serves."""
    return next(t for t, m in chosen.items() if m == model)


_default: Catalog | None = None


def default_catalog() -> Catalog:
    """The project's catalog, loaded once (copy it before changing it)."""
    global _default
    if _default is None:
        _default = Catalog.load()
    return _default


def cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD cost of one call to `model`, priced from the default catalog."""
    return default_catalog().cost(model, prompt_tokens, completion_tokens)
