"""`python -m routerlib`: see routerlib.cli."""
import sys

from .cli import main

sys.exit(main())
