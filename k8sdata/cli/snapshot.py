"""`python -m k8sdata snapshot --to s3://BUCKET/PREFIX | --to DIR [--context C] [--cluster NAME]
[--prune-older-than DAYS]`

Takes one snapshot (k8sdata.archive.snapshot: pods, events, nodes, requests, security findings and scores) and
writes it to the archive as CSV, then prints the keys and the rows of each table. This is what the
`kams-snapshot` CronJob runs. With --prune-older-than, once the snapshot is written, the same cluster's
snapshots in the same archive older than DAYS days are deleted (manifest first) and counted; a snapshot
that fails prunes nothing, so an outage never eats the history. DAYS that is not a whole number >= 1
exits 2 before anything is read. A single source that fails (e.g. no Prometheus) is a note in the
snapshot and a line on stderr, and the rest is still written.

Nothing is lost (k8sdata.archive.spool): snapshots that an earlier run could not archive are uploaded
first, oldest first, each verified; when the archive fails (down, wrong credentials, no bucket), this
snapshot goes to the spool (KAMS_SPOOL_DIR) and the run exits 1 with a sentence saying why and where it
waits. Exit 1 also when the cluster cannot be read at all (nothing to archive).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import sys
from typing import Any, TextIO

from k8sdata.archive.snapshot import NOTES_TABLE, cluster_name, take_snapshot
from k8sdata.archive.spool import DrainResult, Spool, Spooled, deliver_snapshot
from k8sdata.archive.store import prune_cutoff, retention_days
from k8sdata.cli.output import add_context_option, kube_from_args
from k8sdata.config import Settings
from k8sdata.errors import SourceError
from k8sdata.sources.archive import FolderArchive, archive_from_target
from k8sdata.sources.prom import client_from_settings

#: Tables that come from the Kubernetes API alone: when none of them could be taken, the cluster failed.
KUBERNETES_TABLES = ("pods", "events", "nodes")


class ClusterUnreadable(SourceError):
    """Nothing could be read from the cluster: the snapshot is not written."""


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    days = retention_days(args.prune_older_than) if args.prune_older_than is not None else None
    if args.prometheus_url:
        settings = dataclasses.replace(settings, prometheus_url=args.prometheus_url)
    archive = archive_from_target(args.to, settings)
    if isinstance(archive, FolderArchive):
        with contextlib.suppress(OSError):  # `--to ./snapshots` need not exist yet; if it can't be made,
            archive.root.mkdir(parents=True, exist_ok=True)  # the write fails and the snapshot is spooled
    spool = Spool.from_settings(settings)
    kube = kube_from_args(args, settings)
    prom = client_from_settings(settings) if settings.prometheus_url else None
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        tables = take_snapshot(kube, prom, settings, at=at,
                               progress=lambda sentence: print(sentence, file=sys.stderr))
    finally:
        kube.close()
        if prom is not None:
            prom.close()
    notes = tables.get(NOTES_TABLE)
    if not any(name in tables for name in KUBERNETES_TABLES):
        with contextlib.suppress(SourceError):  # nothing new to archive, but the backlog still goes first
            _report_backlog(spool, archive.destination(), spool.drain(archive))
        first = notes["sentence"].iloc[0] if notes is not None and len(notes) else "no table was taken"
        raise ClusterUnreadable("kubernetes", f"the snapshot was not written: {first}")
    if notes is not None:
        for table, sentence in zip(notes["table"], notes["sentence"], strict=True):
            sys.stderr.write(f"note ({table}): {sentence}\n")
    context = getattr(kube, "context", None) or args.context or settings.context
    cluster = args.cluster or cluster_name(settings, context)
    try:
        delivery = deliver_snapshot(archive, spool, tables, cluster, context, at,
                                    progress=lambda line: print(line, file=sys.stderr))
    except Spooled:
        _report_backlog(spool, archive.destination(), None)
        raise
    _report_backlog(spool, archive.destination(), delivery.drained)
    *table_keys, manifest = delivery.keys  # the manifest is written, and listed, last
    out.write(f"Wrote {len(table_keys)} tables to {archive.describe()}, each verified:\n")
    for (name, frame), key in zip(tables.items(), table_keys, strict=True):
        out.write(f"  {key}  {len(frame)} rows ({name})\n")
    out.write(f"  {manifest}  (manifest: rows, bytes and SHA-256 of each table)\n")
    if delivery.drained.uploaded:
        out.write(f"Uploaded {len(delivery.drained.uploaded)} spooled snapshot(s) first, oldest first, "
                  "each verified:\n")
        for _spooled, keys in delivery.drained.uploaded:
            out.write(f"  {keys[-1]}\n")
    if days is not None:
        cutoff = prune_cutoff(days, at)
        name = cluster or context or "unknown"  # the name the snapshot's keys were written under
        pruned = archive.prune(name, cutoff)
        out.write(f"Pruned {len(pruned)} snapshot(s) of cluster {name!r} older than {days} day(s) "
                  f"(taken before {cutoff.isoformat().replace('+00:00', 'Z')}).\n")
    return 0


def _report_backlog(spool: Spool, destination: str, drained: DrainResult | None) -> None:
    """What still waits in the spool, on stderr: a cron log shows it without failing the run for it."""
    for spooled, problem in drained.damaged if drained is not None else []:
        sys.stderr.write(f"spool: {spooled.path} was not uploaded: {problem.sentence}\n")
    if drained is not None and drained.busy:
        sys.stderr.write(f"spool: another run is uploading the snapshots in {spool.root}; left to it.\n")
    waiting = spool.count(destination)
    if waiting:
        sys.stderr.write(f"spool: {waiting} snapshot(s) for {destination} wait in {spool.root}.\n")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "snapshot", help="archive the cluster's tables (pods, events, nodes, requests, security) as CSV",
        description="Take one snapshot (pods, events, nodes, request rates, security findings and scores) "
                    "and write it as CSV files to S3 (--to s3://BUCKET/PREFIX; endpoint and credentials "
                    "from boto3's chain and AWS_ENDPOINT_URL_S3) or to a folder (--to DIR).")
    parser.add_argument("--to", required=True, metavar="TARGET", help="s3://BUCKET/PREFIX or a folder")
    add_context_option(parser)
    parser.add_argument("--cluster", help="cluster name in the archive's keys (default: the kubeconfig "
                                          "context's cluster, else the context)")
    parser.add_argument("--prune-older-than", metavar="DAYS",
                        help="after writing the snapshot, delete this cluster's snapshots in the same "
                             "archive taken more than DAYS days ago (manifest first); other clusters' "
                             "are kept")
    parser.add_argument("--prometheus-url", help="default: $PROMETHEUS_URL (unset: no requests table)")
    parser.set_defaults(handler=run)
