"""routerlib: a hands-on lab for LLM routing: strategies, recorded outcomes, costs and dashboards."""
from .catalog import Catalog, Model, cost
from .queries import Query, load_queries

__version__ = "0.1.0"
__all__ = ["Catalog", "Model", "Query", "cost", "load_queries", "__version__"]
