"""`python -m k8sdata archive migrate|verify --to s3://BUCKET/PREFIX | DIR`

- `migrate` rewrites every snapshot still in the legacy layout (`<prefix>/<cluster>/<day>/<HHMMSSZ>/...`)
  into the Hive layout with a manifest: copy, verify the copy, then delete the old keys. Run it again at
  any time: it finishes an interrupted run and does nothing on a migrated archive.
- `verify` re-reads the newest snapshots (`--limit`) and checks every table against its manifest's size
  and SHA-256; exit 1 when any snapshot is incomplete or a file is corrupt, naming the key.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from k8sdata.archive import DEFAULT_LIST_LIMIT, archive_from_target
from k8sdata.config import Settings


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    archive = archive_from_target(args.to, settings)
    archive.ping()  # a wrong bucket or key fails here with a sentence, before any work
    if args.action == "migrate":
        done = archive.migrate(progress=lambda line: print(line, file=sys.stderr))
        out.write(f"Migrated {len(done)} snapshot(s) to the Hive layout in {archive.describe()}.\n")
        for moved in done:
            out.write(f"  {moved.old_folder} -> {moved.manifest_key}\n")
        return 0
    failed = 0
    snapshots = archive.list_snapshots(limit=args.limit)
    for snapshot in snapshots:
        problems = archive.verify_snapshot(snapshot)
        failed += bool(problems)
        out.write(f"{'FAIL' if problems else 'ok  '} {snapshot.folder}\n")
        for problem in problems:
            out.write(f"     {problem}\n")
    out.write(f"{len(snapshots) - failed} of {len(snapshots)} snapshot(s) verified.\n")
    return 1 if failed else 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "archive", help="migrate the archive to the Hive layout, or verify snapshots against their manifests",
        description="migrate: rewrite legacy-layout snapshots into cluster=/dt= keys with a manifest "
                    "(copy, verify, delete the old keys; idempotent). verify: re-read the newest snapshots "
                    "and compare each file with its manifest's SHA-256.")
    parser.add_argument("action", choices=("migrate", "verify"))
    parser.add_argument("--to", required=True, metavar="TARGET", help="s3://BUCKET/PREFIX or a folder")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT,
                        help=f"verify: how many of the newest snapshots (default {DEFAULT_LIST_LIMIT})")
    parser.set_defaults(handler=run)
