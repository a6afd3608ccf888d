from collections import Counter

import pytest

from routerlib.queries import DIFFICULTIES, TASK_TYPES, Query, load_queries


def test_exercise_queries_span_difficulties_and_task_types():
    queries = load_queries()
    assert len(queries) == 50
    assert len({q.id for q in queries}) == 50
    assert set(Counter(q.task_type for q in queries)) == set(TASK_TYPES)
    counts = Counter(q.difficulty for q in queries)
    assert set(counts) == set(DIFFICULTIES) and counts["easy"] > counts["medium"] > counts["hard"] > 0
    assert all(q.reference for q in queries)


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_query_is_rejected(text):
    with pytest.raises(ValueError, match="empty text"):
        Query("q1", text)


@pytest.mark.parametrize("lines, words", [
    (['{"id": "a", "text": "   "}'], ":1: query 'a' has an empty text"),
    (['{"id": "a", "text": "hi"}', '{"id": "a", "text": "again"}'], ":2: duplicate id 'a'"),
    (['{"id": "a", "text": "hi"', ], ":1: Expecting"),
    (['["a", "b"]'], "must be a JSON object"),
    (['{"id": "a", "text": "hi", "difficulty": "extreme"}'], "difficulty must be one of"),
    (['{"id": "a", "text": 42}'], "empty text"),
])
def test_bad_query_files_name_the_line(tmp_path, lines, words):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="bad line") as e:
        load_queries(path)
    assert words in str(e.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "text": ""}\n{"id": "b", "text": "ok"}\n{oops\n')
    with pytest.raises(ValueError, match="2 bad line") as e:
        load_queries(path)
    assert ":1:" in str(e.value) and ":3:" in str(e.value)


def test_non_utf8_and_empty_and_missing_files(tmp_path):
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"id": "a", "text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_queries(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="holds no queries"):
        load_queries(empty)
    with pytest.raises(FileNotFoundError, match="query file not found"):
        load_queries(tmp_path / "none.jsonl")


def test_query_repr_is_short():
    r = repr(Query("q7", "x" * 100, "math", "hard"))
    assert r.startswith("Query('q7'") and "..." in r and len(r) < 120
