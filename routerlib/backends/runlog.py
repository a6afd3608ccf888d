"""Append-only JSONL run log: every live call recorded, finished calls skipped on re-run."""
from __future__ import annotations

import json
import os
import threading
import time
import warnings
from pathlib import Path

FIELDS = ("key", "query_id", "model", "purpose", "prompt", "prompt_tokens", "completion_tokens", "cost_usd",
          "latency_s", "attempts", "text", "error", "finish_reason", "ts")


class JsonlFile:
    """Append-only JSON lines, each flushed and fsynced before append() returns; safe across threads.

    A file whose last line a killed writer cut short gets a newline first, so no record is glued onto it.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            open(self.path, "ab").close()  # fail now, before any paid call, if it cannot be written
        except OSError as e:
            raise OSError(f"cannot create run log {self.path}: {e.strerror}; choose a writable path") from None
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            f.seek(max(size - 1, 0))
            self._cut_short = size > 0 and f.read(1) != b"\n"

    def append(self, obj: dict) -> None:
        """Write one JSON line durably."""
        line = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:  # only one writer may end a cut-short line
            with open(self.path, "ab") as f:
                f.write((b"\n" if self._cut_short else b"") + line)
                f.flush()
                os.fsync(f.fileno())
            self._cut_short = False

    def __repr__(self):
        return f"JsonlFile({str(self.path)!r})"


class RunLog:
    """One JSON object per call; a line cut short by a killed run is skipped and counted."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.records: list[dict] = []
        self.bad_lines = 0
        self._done: dict[str, dict] = {}
        if self.path.exists():
            self._read()
        self._file = JsonlFile(self.path)

    def _read(self):
        with open(self.path, "rb") as f:
            for raw in f:
                try:
                    rec = json.loads(raw.decode("utf-8"))
                    if not isinstance(rec, dict) or "key" not in rec:
                        raise ValueError("not a run-log record")
                except ValueError:
                    self.bad_lines += 1
                    continue
                self.records.append(rec)
                if rec.get("error") is None:
                    self._done[rec["key"]] = rec
        if self.bad_lines:
            warnings.warn(f"run log {self.path}: skipped {self.bad_lines} unreadable line(s) "
                          "(a run killed mid-write leaves one); those calls will be made again")

    def finished(self, key: str) -> dict | None:
        """The successful record for this call key, if the log has one."""
        return self._done.get(key)

    def append(self, record: dict) -> None:
        """Write one record durably (flush and fsync) before returning."""
        rec = {k: record.get(k) for k in FIELDS}
        rec["ts"] = rec["ts"] or time.time()
        with self._lock:
            self._file.append(rec)
            self.records.append(rec)
            if rec["error"] is None:
                self._done[rec["key"]] = rec

    def __len__(self):
        return len(self.records)

    def __repr__(self):
        return f"RunLog({str(self.path)!r}, {len(self.records)} records, {len(self._done)} finished)"
