"""Request traffic from Prometheus: the PromQL catalogue (queries), metric conventions, rate, errors and
duration (red), histograms, traffic patterns and spikes, service levels (slo) and the Grafana export."""
