"""Saving and loading tuned routers: round trips, readable metadata, and clear errors for bad or foreign files."""
import base64
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from routerlib.backends.simulated import SimulatedBackend
from routerlib.catalog import Catalog
from routerlib.queries import load_queries
from routerlib.routers.base import Router
from routerlib.routers.cascade import CascadeRouter, HeuristicScorer, JudgeScorer, VerifierScorer
from routerlib.routers.classifier import ClassifierRouter
from routerlib.routers.llm import LLMRouter
from routerlib.routers.rules import RuleRouter
from routerlib.routers.saved import FORMAT_VERSION, RouterFileError, load_router, save_router
from routerlib.tables import TierTable

LEVEL = {"easy": 0, "medium": 1, "hard": 2}


class Unregistered(Router):
    """A router the registry does not know."""

    name = "home-made"


def toy_table() -> TierTable:
    """The 50 exercise queries as a 3-tier table: a tier is good enough from the query's difficulty up."""
    qs, cat = load_queries(), Catalog.load()
    tiers = list(cat.tiers)
    quality = np.array([[float(LEVEL[q.difficulty] <= k) for k in range(3)] for q in qs])
    answers = np.array([[("Sure, here it is." if ok else "I'm not sure, it might be") for ok in row] for row in quality],
                       dtype=object)
    return TierTable("toy", tiers, [cat.tiers[t] for t in tiers], quality, np.full(quality.shape, 1e-4),
                     pd.Series([q.text for q in qs], index=[q.id for q in qs]), answers, np.ones(len(qs)), False, cat)


@pytest.fixture(scope="module")
def fitted():
    return ClassifierRouter().fit(toy_table())


def test_classifier_round_trip_keeps_scores_thresholds_and_readable_metadata(fitted, tmp_path):
    path = save_router(fitted, tmp_path / "clf.json", thresholds=[0.6, 0.4], name="toy-clf", notes="for tests")
    meta = json.loads(path.read_text())
    assert (meta["format_version"], meta["router"], meta["name"]) == (FORMAT_VERSION, "classifier", "toy-clf")
    assert meta["tiers"] == {"cheap": "gpt-4o-mini", "mid": "gpt-4o", "expensive": "gpt-4-turbo"}
    assert meta["thresholds"] == [0.6, 0.4] and meta["routerlib_version"]
    assert [m["name"] for m in meta["models"]] == list(meta["tiers"].values())
    tuned = load_router(path)
    assert (tuned.name, tuned.thresholds, tuned.tier_models()) == ("classifier", [0.6, 0.4], meta["tiers"])
    assert (tuned.meta["name"], tuned.meta["notes"], tuned.meta["path"]) == ("toy-clf", "for tests", str(path))
    texts = [q.text for q in load_queries()]
    assert np.allclose(tuned.predict_proba(texts), fitted.predict_proba(texts))
    assert hasattr(tuned, "coef_")  # the by-hand single-query scorer survives the round trip
    for q in load_queries():
        p = fitted.predict_proba([q.text])[0]
        want = "cheap" if p[0] >= 0.6 else "mid" if p[1] >= 0.4 else "expensive"
        assert tuned.route(q).tier == want
    assert tuned.with_thresholds(1.0).route(load_queries()[0]).tier == "expensive"


def test_rules_router_round_trip_routes_the_same(tmp_path):
    rules = RuleRouter(tier_map={"math": "expensive", "simple_fact": "cheap"}, default_tier="mid")
    tuned = load_router(save_router(rules, tmp_path / "rules.json"))
    assert tuned.name == "rules" and tuned.thresholds is None
    assert [tuned.route(q).tier for q in load_queries()] == [rules.route(q).tier for q in load_queries()]
    with pytest.raises(RouterFileError, match="takes no thresholds"):
        save_router(rules, tmp_path / "r2.json", thresholds=[0.5])


def test_baselines_round_trip_by_registry_name(tmp_path):
    from routerlib.routers.baselines import AlwaysRouter, RandomRouter
    always = load_router(save_router(AlwaysRouter("expensive"), tmp_path / "always.json"))
    assert always.name == "always-expensive" and always.thresholds is None
    assert {always.route(q).tier for q in load_queries()} == {"expensive"}
    rand = RandomRouter(seed=3)
    loaded = load_router(save_router(rand, tmp_path / "random.json", thresholds=0.3))
    assert (loaded.name, loaded.seed, loaded.thresholds) == ("random", 3, [0.3, 0.3])
    assert [loaded.route(q).tier for q in load_queries()] == [rand.with_thresholds(0.3).route(q).tier
                                                             for q in load_queries()]


def test_cascades_round_trip(tmp_path):
    tt = toy_table()
    verifier = CascadeRouter(VerifierScorer(), thresholds=0.7).fit(tt)
    tuned = load_router(save_router(verifier, tmp_path / "v.json"))
    assert tuned.name == "cascade-verifier" and tuned.thresholds == [0.7, 0.7]  # one per tier but the last
    assert isinstance(tuned.scorer, VerifierScorer)
    assert np.allclose(tuned.tier_scores(tt), verifier.tier_scores(tt))
    judge = load_router(save_router(CascadeRouter(JudgeScorer("gpt-4o-mini", accuracy=0.9)), tmp_path / "j.json",
                                    thresholds=0.3))
    assert (judge.name, judge.scorer.judge_model, judge.scorer.accuracy, judge.thresholds) == (
        "cascade-judge", "gpt-4o-mini", 0.9, [0.3, 0.3])
    heuristic = load_router(save_router(CascadeRouter(HeuristicScorer()), tmp_path / "h.json"))
    assert isinstance(heuristic.scorer, HeuristicScorer) and heuristic.tier_models() == Catalog.load().tiers
    with pytest.raises(ValueError, match="decides while answering"):
        heuristic.route(load_queries()[0])


def test_llm_router_round_trip_needs_a_backend_to_route(tmp_path):
    backend = SimulatedBackend(router_accuracy=1.0)
    router = LLMRouter(backend, fallback_tier="mid", cache=False)
    path = save_router(router, tmp_path / "llm.json")
    assert json.loads(path.read_text())["settings"]["fallback_tier"] == "mid"
    with pytest.raises(ValueError, match="needs a backend"):
        load_router(path).route(load_queries()[0])
    tuned = load_router(path, backend=backend)
    assert [tuned.route(q).tier for q in load_queries()[:10]] == [router.route(q).tier for q in load_queries()[:10]]


def test_version_and_format_errors_name_the_file_and_what_to_do(fitted, tmp_path):
    path = save_router(fitted, tmp_path / "clf.json")
    doc = json.loads(path.read_text())
    for found, hint in ((FORMAT_VERSION + 1, "upgrade routerlib"), (0, "fit and save the router again")):
        (tmp_path / "v.json").write_text(json.dumps({**doc, "format_version": found}))
        with pytest.raises(RouterFileError) as e:
            load_router(tmp_path / "v.json")
        msg = str(e.value)
        assert str(tmp_path / "v.json") in msg and f"format_version {found}" in msg
        assert f"reads format_version {FORMAT_VERSION}" in msg and hint in msg
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(RouterFileError, match="not a routerlib router file"):
        load_router(tmp_path / "other.json")
    (tmp_path / "bin.json").write_bytes(b"\x80\x81 not json")
    with pytest.raises(RouterFileError, match="not a routerlib router file"):
        load_router(tmp_path / "bin.json")
    with pytest.raises(RouterFileError, match="not found"):
        load_router(tmp_path / "missing.json")
    blob = bytearray(base64.b64decode(doc["fitted"]["pickle_b64"]))
    blob[-5] ^= 1
    doc["fitted"]["pickle_b64"] = base64.b64encode(bytes(blob)).decode()
    (tmp_path / "tampered.json").write_text(json.dumps(doc))
    with pytest.raises(RouterFileError, match="sha256"):
        load_router(tmp_path / "tampered.json")


def test_save_refuses_what_it_cannot_save(fitted, tmp_path):
    with pytest.raises(RouterFileError, match="not fitted"):
        save_router(ClassifierRouter(), tmp_path / "a.json")
    with pytest.raises(RouterFileError, match="needs 2 threshold"):
        save_router(fitted, tmp_path / "a.json", thresholds=[0.5, 0.5, 0.5])
    with pytest.raises(RouterFileError, match="between 0 and 1"):
        save_router(fitted, tmp_path / "a.json", thresholds=[1.5, 0.2])
    with pytest.raises(RouterFileError, match="cannot save Unregistered"):
        save_router(Unregistered(), tmp_path / "a.json")  # load_router could not make it again
    with pytest.raises(RouterFileError, match="cannot save OracleRouter"):
        from routerlib.routers.baselines import OracleRouter
        save_router(OracleRouter().fit(toy_table()), tmp_path / "a.json")  # it knows only the test labels
    lam = ClassifierRouter(use_stats=False).fit(toy_table())
    lam.embedder = lambda texts: np.zeros((len(texts), 2))
    with pytest.raises(RouterFileError, match="picklable"):
        save_router(lam, tmp_path / "a.json")
    assert not (tmp_path / "a.json").exists()


class HedgingCheapTier(SimulatedBackend):
    """Simulated answers, but the cheap tier hedges: the heuristic scorer's confidence in it is 0.7."""

    def complete(self, request):
        c = super().complete(request)
        return dataclasses.replace(c, text="It might be Paris.") if request.model == "gpt-4o-mini" else c


def test_new_thresholds_reach_a_cascade_and_leave_the_loaded_one_alone(tmp_path):
    tuned = load_router(save_router(CascadeRouter(HeuristicScorer(), 0.5), tmp_path / "c.json"),
                        backend=HedgingCheapTier())
    strict = tuned.with_thresholds(0.9)
    assert list(strict.threshold_vector()) == [0.9, 0.9] and tuned.thresholds == [0.5, 0.5]
    q = load_queries()[0]
    assert strict.route(q).tier == "mid" and tuned.route(q).tier == "cheap"  # route() accepts at its thresholds
    assert tuned.route(q, thresholds=0.9).tier == "mid" and tuned.thresholds == [0.5, 0.5]
