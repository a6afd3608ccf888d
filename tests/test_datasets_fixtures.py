"""Loaders, data location and downloads on small mirrors the tests write themselves (no network but 127.0.0.1)."""
import functools
import http.server
import json
import threading

import pandas as pd
import pytest

from routerlib import datasets
from routerlib.datasets import arena
from routerlib.datasets.routerbench import HUB_REPO
from routerlib.datasets.sources import DataFormatError, DataNotFoundError, fetch

GSM = "lm-sys/RouteLLM/routellm/evals/gsm8k"
RB = "shuhao02/RouterDC/datasets/routerbench_zs"
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def mini_gsm8k(root):
    df = pd.DataFrame({"prompt": ["What is 1+1?", "What is 2+2?", "Leaked question?"],
                       STRONG: [True, True, True], WEAK: [True, False, True],
                       f"{STRONG}_response": ["2", "4", "x"], f"{WEAK}_response": ["2", "five", "x"]})
    write(root, f"{GSM}/gsm8k_responses.csv", df.to_csv(index=False))
    write(root, f"{GSM}/contaminated_prompts.jsonl", json.dumps({"eval_prompt": "Leaked question?"}) + "\n")


def mini_routerbench(root):
    for split, ids in (("train", ["s1", "s2", "s2"]), ("test", ["s3"])):
        n = len(ids)
        df = pd.DataFrame({"sample_id": ids, "prompt": [f"['question {i}']" for i in ids], "eval_name": "mbpp",
                           "cheap-m": [1, 0, 1][:n], "cheap-m|model_response": ["a"] * n,
                           "cheap-m|total_cost": [0.001] * n, "big-m": [1] * n, "big-m|model_response": ["b"] * n,
                           "big-m|total_cost": [0.01] * n})
        write(root, f"{RB}/mbpp_{split}.csv", df.to_csv(index=False))


def mini_arena(root, scores=(9, None, -1, "abc", "7", 8.5)):
    base = arena.ROOT
    qids = [f"q{i}" for i in range(len(scores))]
    write(root, f"{base}/question.jsonl", "".join(json.dumps({"question_id": q, "category": "c", "turns": [f"ask {q}"]})
                                                  + "\n" for q in qids))
    for judged, answered in arena.JUDGED.items():
        model = {"gpt-4-turbo": "gpt-4-1106-preview", "Mixtral-8x7B-Instruct-v0.1": WEAK,
                 "Mistral-7B-Instruct-v0.1": "mistralai/Mistral-7B-Instruct-v0.1"}.get(judged, answered)
        write(root, f"{base}/model_judgment/{judged}.jsonl", "".join(
            json.dumps({"question_id": q, "model": model, "score": s}) + "\n" for q, s in zip(qids, scores)))
        write(root, f"{base}/model_answer/{answered}.jsonl", "".join(
            json.dumps({"question_id": q, "model_id": model, "choices": [{"turns": [f"answer to {q}"]}]}) + "\n"
            for q in qids))


def test_gsm8k_fixture_is_decontaminated(tmp_path):
    mini_gsm8k(tmp_path)
    t = datasets.load("routellm-gsm8k", tmp_path)
    assert (t.n_queries, t.notes["original"]) == (2, 3)
    assert t.wide("quality").to_dict("list") == {STRONG: [1.0, 1.0], WEAK: [1.0, 0.0]}
    assert t.outcomes["response"].notna().all() and (t.outcomes["cost_usd"] > 0).all()


def test_routerbench_fixture_keeps_recorded_costs_and_unique_ids(tmp_path):
    mini_routerbench(tmp_path)
    t = datasets.load("routerbench-mbpp", tmp_path)
    assert t.n_queries == 4 and t.queries.index.is_unique and t.models == ["cheap-m", "big-m"]
    assert t.wide("cost_usd")["big-m"].tolist() == [0.01] * 4
    assert t.queries["prompt"].iloc[0] == "question s1"  # list repr unwrapped


def test_arena_scores_missing_minus_one_and_garbage_are_missing_not_zero(tmp_path):
    mini_arena(tmp_path)
    t = datasets.load("arena-bench", tmp_path)
    raw = t.wide("quality_raw").astype(float)["claude-1"].tolist()
    assert raw[0] == 9 and raw[4] == 7 and raw[5] == 8.5
    assert all(pd.isna(x) for x in raw[1:4])
    assert t.notes["missing_scores"] == 3 * 15


def test_corrupted_csv_names_the_file(tmp_path):
    mini_gsm8k(tmp_path)
    path = tmp_path / GSM / "gsm8k_responses.csv"
    path.write_text(path.read_text() + '"unterminated,quote\n')
    with pytest.raises(DataFormatError, match="gsm8k_responses.csv"):
        datasets.load("routellm-gsm8k", tmp_path)


def test_corrupted_jsonl_names_file_and_line(tmp_path):
    mini_arena(tmp_path)
    path = tmp_path / arena.ROOT / "model_judgment/claude-1.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = '{"question_id": "q2", "score": '
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"claude-1\.jsonl:3: not valid JSON"):
        datasets.load("arena-bench", tmp_path)


def test_missing_column_is_named(tmp_path):
    mini_gsm8k(tmp_path)
    path = tmp_path / GSM / "gsm8k_responses.csv"
    pd.read_csv(path).drop(columns=[f"{WEAK}_response"]).to_csv(path, index=False)
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['mistralai/Mixtral-8x7B-Instruct-v0.1_response'\]"):
        datasets.load("routellm-gsm8k", tmp_path)


def test_missing_file_offline_lists_it_and_how_to_get_it(tmp_path):
    mini_gsm8k(tmp_path)
    (tmp_path / GSM / "contaminated_prompts.jsonl").unlink()
    with pytest.raises(DataNotFoundError) as e:
        datasets.load("routellm-gsm8k", tmp_path)
    msg = str(e.value)
    assert "gsm8k/contaminated_prompts.jsonl" in msg and "gsm8k_responses.csv" not in msg
    assert "data fetch" in msg and "ROUTERLIB_DATA_DIR" in msg and "ROUTERLIB_OFFLINE" in msg


def test_unknown_dataset_name():
    with pytest.raises(KeyError, match="unknown dataset 'mmlu'; known: routellm-mmlu"):
        datasets.load("mmlu")


def test_data_dir_resolution(tmp_path, monkeypatch):
    from routerlib.datasets.sources import cache_dir, data_dir
    monkeypatch.setenv("ROUTERLIB_DATA_DIR", str(tmp_path / "env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("ROUTERLIB_DATA_DIR")
    assert data_dir() == cache_dir()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    """Serve a folder over HTTP on 127.0.0.1; yields a function folder -> URL template."""
    servers = []

    def serve(folder):
        handler = functools.partial(_Quiet, directory=str(folder))
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/{{repo}}/{{path}}"

    yield serve
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_download_from_a_pinned_url_into_the_cache(data_mirror, file_server, tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTERLIB_DATA_URL", file_server(data_mirror))
    monkeypatch.setenv("ROUTERLIB_OFFLINE", "0")
    empty = tmp_path / "empty"
    from routerlib.datasets.sources import cache_dir
    names = datasets.get("routellm-gsm8k").files()
    paths = fetch(names, empty)
    for name, path in paths.items():
        assert path.read_bytes() == (data_mirror / name).read_bytes()
        assert path == cache_dir() / name  # into the cache, never into the data dir
    assert datasets.load("routellm-gsm8k", empty).n_queries == 1307


def test_download_with_a_wrong_hash_is_rejected(file_server, tmp_path, monkeypatch):
    served = tmp_path / "served"
    mini_gsm8k(served)  # same names as the pinned files, different bytes
    monkeypatch.setenv("ROUTERLIB_DATA_URL", file_server(served))
    monkeypatch.setenv("ROUTERLIB_OFFLINE", "0")
    with pytest.raises(DataNotFoundError, match="does not match its pinned sha256"):
        fetch([f"{GSM}/contaminated_prompts.jsonl"], tmp_path / "empty")
    from routerlib.datasets.sources import cache_dir
    assert not list(cache_dir().rglob("contaminated_prompts.jsonl*"))  # nothing half-written left behind


def test_download_failure_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTERLIB_DATA_URL", "http://127.0.0.1:9/{repo}/{path}")  # nothing listens there
    monkeypatch.setenv("ROUTERLIB_OFFLINE", "0")
    with pytest.raises(DataNotFoundError, match="download failed"):
        fetch([f"{GSM}/contaminated_prompts.jsonl"], tmp_path)


def test_full_routerbench_pickle_from_the_data_dir_or_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="routerbench_0shot.pkl"):
        datasets.load("routerbench-0shot", tmp_path)
    df = pd.DataFrame({"sample_id": ["a", "b"], "prompt": ["x", "y"], "eval_name": "mmlu",
                       "m1": [1.0, 0.0], "m1|model_response": ["r", "s"], "m1|total_cost": [0.1, 0.2]})
    (tmp_path / HUB_REPO).mkdir(parents=True)
    df.to_pickle(tmp_path / HUB_REPO / "routerbench_0shot.pkl")
    t = datasets.load("routerbench-0shot", tmp_path)
    assert t.n_queries == 2 and t.wide("cost_usd")["m1"].tolist() == [0.1, 0.2]


def test_fetch_of_the_full_routerbench_offline_says_how(tmp_path, capsys):
    from routerlib.cli import main
    assert main(["data", "fetch", "routerbench-5shot", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "routerbench_5shot.pkl" in err and "Hugging Face hub" in err and "ROUTERLIB_DATA_DIR" in err


def test_fetch_all_without_network_stops_at_once_and_leaves_no_folders(tmp_path, monkeypatch, capsys):
    from routerlib.cli import main
    from routerlib.datasets.sources import cache_dir
    monkeypatch.setenv("ROUTERLIB_DATA_URL", "http://127.0.0.1:9/{repo}/{path}")  # nothing listens there
    monkeypatch.setenv("ROUTERLIB_OFFLINE", "0")
    assert main(["data", "fetch", "all", "--data-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert "routellm-mmlu: NOT fetched" in err and "data fetch all" in err
    assert "routellm-gsm8k" not in err  # no network: the other datasets are not tried one by one
    assert not cache_dir().exists() or not any(cache_dir().rglob("*"))


def test_progress_counts_only_files_that_arrived(file_server, tmp_path, monkeypatch, capsys):
    from routerlib.datasets import sources
    served = tmp_path / "served"
    mini_gsm8k(served)  # other bytes than the pinned files, so nothing is pinned here
    monkeypatch.setattr(sources, "manifest", lambda: {})
    (served / GSM / "gsm8k_responses.csv").unlink()  # this one answers 404
    monkeypatch.setenv("ROUTERLIB_DATA_URL", file_server(served))
    monkeypatch.setenv("ROUTERLIB_OFFLINE", "0")
    with pytest.raises(DataNotFoundError, match="gsm8k_responses.csv: File not found"):
        fetch([f"{GSM}/gsm8k_responses.csv", f"{GSM}/contaminated_prompts.jsonl"], tmp_path / "empty")
    err = capsys.readouterr().err
    assert "1/2" in err and "2/2" not in err and "failed=1" in err  # an HTTP error does not stop the others
    assert [p.name for p in sources.cache_dir().rglob("*") if p.is_file()] == ["contaminated_prompts.jsonl"]


def test_verify_exits_non_zero_when_files_are_missing(tmp_path, capsys):
    from routerlib.cli import main
    assert main(["data", "verify", "--data-dir", str(tmp_path)]) == 1
    assert "run `python -m routerlib data fetch all`" in capsys.readouterr().err
    mini_gsm8k(tmp_path)
    assert main(["data", "verify", "routellm-gsm8k", "--data-dir", str(tmp_path)]) == 1  # present, but not pinned bytes
    assert "MISMATCH" in capsys.readouterr().err


def test_verify_passes_on_the_mirror(data_mirror):
    from routerlib.cli import main
    assert main(["data", "verify", "--data-dir", str(data_mirror)]) == 0


def test_a_notebook_without_data_says_what_to_run_in_one_line(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    monkeypatch.setenv("ROUTERLIB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ROUTERLIB_OFFLINE", "1")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from routerlib import datasets\ndatasets.load('routellm-mtbench')")])
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    error = next(o for o in nb.cells[0].outputs if o["output_type"] == "error")
    assert len(error["traceback"]) == 1 and "python -m routerlib data fetch all" in error["traceback"][0]


def test_the_stated_size_of_fetch_all_is_the_manifests():
    from routerlib.catalog import DATA_DIR
    from routerlib.datasets.sources import ALL_MEGABYTES, manifest
    files = [f for name in datasets.PINNED for f in datasets.get(name).files()]
    megabytes = sum(manifest()[f]["bytes"] for f in files) / 1e6
    assert round(megabytes) == ALL_MEGABYTES
    readme = (DATA_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert f"{len(files)} files, about {ALL_MEGABYTES} MB" in readme
