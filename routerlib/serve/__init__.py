"""An OpenAI-compatible server that routes each request: config, service, stats, streaming and the app."""
from .app import ServerThread, create_app, run

__all__ = ["ServerThread", "create_app", "run"]
