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


class RunLog:
    """One JSON object per call; a line cut short by a killed run is skipped and counted."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.records: list[dict] = []
        self.bad_lines = 0
        self._done: dict[str, dict] = {}
        self._cut_short = False  # the last line has no newline: a killed run cut it short
        if self.path.exists():
            self._read()
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.touch()
            except OSError as e:
                raise OSError(f"cannot create run log {self.path}: {e.strerror}; choose a writable path") from None

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
            self._cut_short = f.tell() > 0 and not raw.endswith(b"\n")
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
        line = json.dumps(rec, ensure_ascii=False) + "\n"
        with self._lock:
            with open(self.path, "ab") as f:
                if self._cut_short:
                    f.write(b"\n")  # never glue a record onto a line a killed run cut short
                    self._cut_short = False
                f.write(line.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            self.records.append(rec)
            if rec["error"] is None:
                self._done[rec["key"]] = rec

    def __len__(self):
        return len(self.records)

    def __repr__(self):
        return f"RunLog({str(self.path)!r}, {len(self.records)} records, {len(self._done)} finished)"
