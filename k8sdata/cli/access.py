"""`python -m k8sdata access [--policy PATH] [--email E] [--groups a,b]`: check the access policy
(KAMS_ACCESS_POLICY by default) and, given a person, print the role and namespaces it gives them.

The container runs this before the website starts (deploy/Dockerfile), so a malformed policy stops
start-up with the sentence naming the file and line, instead of a website that lets nobody in."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from k8sdata.access import Identity, PolicyError, groups_from_header, load_policy
from k8sdata.config import Settings


def run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    path = args.policy or settings.access_policy
    if not path:
        if settings.auth_mode in ("oidc", "proxy"):
            sys.stderr.write(f"KAMS_AUTH is {settings.auth_mode}, but KAMS_ACCESS_POLICY names no access "
                             "policy, so nobody could be let in.\n")
            return 1
        out.write("No access policy (KAMS_ACCESS_POLICY is not set).\n")
        return 0
    try:
        policy = load_policy(path)
    except PolicyError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    out.write(f"{path}: {len(policy.rules)} rules, valid.\n")
    if args.email or args.groups:
        access = policy.decide(Identity(args.email or "", groups_from_header(args.groups)))
        if access is None:
            out.write("refused: no rule matches\n")
        else:
            scope = "every namespace" if access.namespaces is None else ", ".join(sorted(access.namespaces))
            out.write(f"{access.role}: {scope}\n")
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "access", help="check the access policy, and what it gives one person",
        description="Checks the access policy file (KAMS_ACCESS_POLICY unless --policy is given): exit 1 "
                    "with the file and line of the first problem. With --email/--groups, prints the role "
                    "and namespaces the policy gives that person.")
    parser.add_argument("--policy", help="the policy file (default: $KAMS_ACCESS_POLICY)")
    parser.add_argument("--email", help="a person's email")
    parser.add_argument("--groups", help="their groups, comma-separated")
    parser.set_defaults(handler=run)
