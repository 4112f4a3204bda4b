"""The sandbox: a demo cluster and the real servers the tests and `make run` use.

Pieces (each importable on its own, none imports streamlit):
  apiserver/      stand-in Kubernetes API server (stdlib HTTP)
  cluster/        the demo cluster's objects as YAML, written as if "now" were DEMO_ANCHOR
  cluster_loader  loads cluster/*.yaml and shifts every timestamp so the demo looks live
  demo_names      names shared by the demo data, the sample apps and the exporter
  usage           deterministic CPU/memory/network model per container (metrics.k8s.io and exporter agree)
  demo_logs       deterministic pod logs that grow with the clock
  sampleapp, traffic, exporter, prometheus/   metrics side, real Prometheus
  seaweed         real SeaweedFS S3 launcher
  stack           starts all of it together (tests, `make run`)
"""
