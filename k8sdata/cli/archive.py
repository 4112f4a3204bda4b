"""`python -m k8sdata archive migrate|verify|prune --to s3://BUCKET/PREFIX | DIR`

- `migrate` rewrites every snapshot still in the legacy layout (`<prefix>/<cluster>/<day>/<HHMMSSZ>/...`)
  into the Hive layout with a manifest: copy, verify the copy, then delete the old keys. Run it again at
  any time: it finishes an interrupted run and does nothing on a migrated archive.
- `verify` re-reads the newest snapshots (`--limit`) and checks every table against its manifest's size
  and SHA-256; exit 1 when any snapshot is incomplete or a file is corrupt, naming the key.
- `prune --cluster NAME --older-than DAYS` deletes that cluster's snapshots (both layouts) taken more than
  DAYS days ago, manifest first, without taking a snapshot (`snapshot --prune-older-than` does both).
  Exit 2 with a sentence when --cluster is missing or DAYS is not a whole number >= 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from k8sdata.archive.store import DEFAULT_LIST_LIMIT, prune_cutoff, retention_days
from k8sdata.config import Settings
from k8sdata.sources.archive import archive_from_target


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if args.action == "prune":
        return _prune(args, settings, out)
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


def _prune(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    # Both checked before the archive is opened: a typo exits 2 at once and deletes nothing.
    if args.older_than is None:
        raise ValueError("archive prune needs --older-than DAYS (for example --older-than 30)")
    days = retention_days(args.older_than, "--older-than")
    if not (args.cluster or "").strip():
        raise ValueError("archive prune needs --cluster NAME: it prunes one cluster's snapshots at a time")
    archive = archive_from_target(args.to, settings)
    archive.ping()
    cutoff = prune_cutoff(days)
    pruned = archive.prune(args.cluster, cutoff)
    out.write(f"Pruned {len(pruned)} snapshot(s) of cluster {args.cluster!r} older than {days} day(s) "
              f"(taken before {cutoff.isoformat().replace('+00:00', 'Z')}) from {archive.describe()}.\n")
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "archive", help="migrate the archive to the Hive layout, verify snapshots against their manifests, "
                        "or prune a cluster's old snapshots",
        description="migrate: rewrite legacy-layout snapshots into cluster=/dt= keys with a manifest "
                    "(copy, verify, delete the old keys; idempotent). verify: re-read the newest snapshots "
                    "and compare each file with its manifest's SHA-256. prune: delete one cluster's "
                    "snapshots older than --older-than DAYS (manifest first).")
    parser.add_argument("action", choices=("migrate", "verify", "prune"))
    parser.add_argument("--to", required=True, metavar="TARGET", help="s3://BUCKET/PREFIX or a folder")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT,
                        help=f"verify: how many of the newest snapshots (default {DEFAULT_LIST_LIMIT})")
    parser.add_argument("--cluster", help="prune: the cluster whose snapshots are pruned (required)")
    parser.add_argument("--older-than", metavar="DAYS",
                        help="prune: delete snapshots taken more than DAYS days ago (required)")
    parser.set_defaults(handler=run)
