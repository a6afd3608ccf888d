"""The config of `routerlib serve`: model aliases (saved router file + thresholds), the upstream, limits, auth.

    {"routers": {"router-clf": {"file": "clf.router.json", "thresholds": [0.6, 0.4]},
                 "router-rules": {"file": "rules.router.json"}},
     "upstream": {"mode": "simulated", "seed": 0},
     "run_log": "runs/serve.jsonl", "auth_token_env": "ROUTERLIB_SERVE_TOKEN",
     "max_body_bytes": 1000000, "read_timeout_s": 30, "monitor_window": 1000}

Upstream modes: "simulated" (seed), "replay" (dataset, data_dir) and "live" (base_url, api_key_env,
timeout, max_retries). Relative paths are read from the config file's folder. Keys and tokens are
never written in the config: name the environment variable that holds them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..files import read_json

DEFAULT_MAX_BODY = 1_000_000
KEYS = {"routers", "upstream", "catalog", "run_log", "auth_token_env", "max_body_bytes", "read_timeout_s",
        "monitor_window"}
UPSTREAM_KEYS = {"simulated": {"mode", "seed"}, "replay": {"mode", "dataset", "data_dir", "seed"},
                 "live": {"mode", "base_url", "api_key_env", "timeout", "max_retries"}}


class ConfigError(ValueError):
    """The serve config is invalid; the message says which key and what to do."""


@dataclass
class ServeConfig:
    """Parsed serve config: aliases -> (router file, thresholds or None), upstream spec, paths and limits."""

    routers: dict
    upstream: dict = field(default_factory=lambda: {"mode": "simulated", "seed": 0})
    catalog: Path | None = None
    run_log: Path = Path("runs/serve.jsonl")
    auth_token_env: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    monitor_window: int = 1000
    source: str = "<dict>"
    read_timeout_s: float = 30.0  # a client's request headers, then its body, must arrive within this (else 408)

    @classmethod
    def from_file(cls, path) -> "ServeConfig":
        """Read a JSON config; relative paths in it are taken from its folder."""
        path = Path(path)
        return cls.from_dict(read_json(path, ConfigError, "serve config"), path.parent, str(path))

    @classmethod
    def from_dict(cls, doc: dict, base_dir=".", source: str = "<dict>") -> "ServeConfig":
        """Check a config dict; relative paths are taken from base_dir."""
        def bad(message):
            return ConfigError(f"serve config {source}: {message}")

        if not isinstance(doc, dict):
            raise bad("must be a JSON object with a 'routers' map")
        if "auth_token" in doc or "api_key" in (doc.get("upstream") or {}):
            raise bad("never write a token or key in the config; put it in an environment variable and name it "
                      "with auth_token_env (clients) or upstream.api_key_env (upstream)")
        unknown = set(doc) - KEYS
        if unknown:
            raise bad(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(KEYS)}")
        base = Path(base_dir)
        here = (lambda p: None if p is None else p if Path(p).is_absolute() else base / p)
        routers = doc.get("routers")
        if not isinstance(routers, dict) or not routers:
            raise bad('needs "routers": {"<alias>": {"file": "<saved router>", "thresholds": [...]}}')
        aliases = {}
        for name, spec in routers.items():
            if not isinstance(spec, dict) or not isinstance(spec.get("file"), str) or set(spec) - {"file", "thresholds"}:
                raise bad(f'alias {name!r} must be {{"file": "<saved router file>", "thresholds": optional}}')
            if ":" in name or not name.strip():
                raise bad(f"alias {name!r}: names must be non-empty and have no ':' (it selects thresholds)")
            aliases[name] = (here(spec["file"]), spec.get("thresholds"))
        upstream = dict(doc.get("upstream") or {"mode": "simulated"})
        mode = upstream.get("mode")
        if mode not in UPSTREAM_KEYS:
            raise bad(f"upstream.mode must be one of {list(UPSTREAM_KEYS)}, got {mode!r}")
        if set(upstream) - UPSTREAM_KEYS[mode]:
            raise bad(f"upstream ({mode}) takes {sorted(UPSTREAM_KEYS[mode])}; got {sorted(upstream)}")
        if mode == "replay":
            if not isinstance(upstream.get("dataset"), str):
                raise bad('a replay upstream needs "dataset": a dataset name or an outcome file')
            if Path(here(upstream["dataset"])).exists():
                upstream["dataset"] = str(here(upstream["dataset"]))
        for key, low in (("max_body_bytes", 1000), ("monitor_window", 10)):
            value = doc.get(key, cls.__dataclass_fields__[key].default)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(f"{key} must be a whole number of at least {low}, got {value!r}")
        timeout = doc.get("read_timeout_s", 30.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
            raise bad(f"read_timeout_s must be a number of seconds above 0, got {timeout!r}")
        token_env = doc.get("auth_token_env")
        if token_env is not None and (not isinstance(token_env, str) or not token_env):
            raise bad(f"auth_token_env must name an environment variable, got {token_env!r}")
        return cls(aliases, upstream, here(doc.get("catalog")), here(doc.get("run_log", "runs/serve.jsonl")),
                   token_env, doc.get("max_body_bytes", DEFAULT_MAX_BODY), doc.get("monitor_window", 1000), source,
                   float(timeout))

    def auth_token(self) -> str | None:
        """The bearer token clients must send, read from the named environment variable (None: no auth)."""
        if self.auth_token_env is None:
            return None
        token = os.environ.get(self.auth_token_env)
        if not token:
            raise ConfigError(f"serve config {self.source}: auth_token_env names {self.auth_token_env}, which is not "
                              f"set; export {self.auth_token_env}=<a long random token> or drop auth_token_env")
        return token

    def __repr__(self):
        return (f"ServeConfig({self.source}: aliases={list(self.routers)}, upstream={self.upstream.get('mode')}, "
                f"run_log={str(self.run_log)!r}, auth={'on' if self.auth_token_env else 'off'})")
