"""Pods and their workloads: kubectl's columns (frames), slim decoding (podshape), requests, limits and
usage (resources), owners, workloads and nodes, right-sizing and forecasts (insights), one pod's history."""
