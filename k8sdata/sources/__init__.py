"""Where KAMS reads from: the Kubernetes API (kube, kubeconfig, watchcache), Prometheus (prom), and what
keeps those reads bounded (breaker, parallel). Everything else in k8sdata computes on what these return."""
