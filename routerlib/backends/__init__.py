"""Backends answer requests: live (OpenAI-compatible), replay (recorded outcomes) and simulated."""
from .base import Backend, Completion, MissingCredentialsError, Request

__all__ = ["Backend", "Completion", "MissingCredentialsError", "Request"]
