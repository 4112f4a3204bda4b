"""The command line: `python -m k8sdata <command>`, the same data the pages show, for scripts and CI.

Each command is one small module in this package with a `register(commands)` function that adds its
subparser and sets `handler=`; modules are discovered, so adding a command is adding one file.
Shared output helpers (kubectl-like tables, CSV, JSON) live in `k8sdata.cli.output`.

Failures print the SourceError's sentence to stderr and exit 1; invalid input exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from k8sdata.config import Settings
from k8sdata.errors import SourceError

#: Modules of this package that are helpers, not commands.
_NOT_COMMANDS = {"output"}


def command_modules() -> list[str]:
    """The command modules of this package, in name order (which is also the order of `--help`)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name not in _NOT_COMMANDS
                  and not info.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m k8sdata",
                                     description="KAMS data on the command line (read-only).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"{__name__}.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         environ: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    err = err or sys.stderr
    handler: Callable[[argparse.Namespace, Settings, TextIO], int] = args.handler
    try:
        return handler(args, Settings.from_env(environ), out)
    except SourceError as error:
        err.write(error.sentence + "\n")
        return 1
    except ValueError as error:  # e.g. an invalid namespace name given on the command line
        err.write(f"{error}\n")
        return 2
