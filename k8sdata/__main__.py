"""`python -m k8sdata <command>`: see k8sdata.cli (one module per command)."""

from __future__ import annotations

import sys

from k8sdata.cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
