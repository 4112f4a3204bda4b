"""Container logs (containers: read, merge and follow) and Kubernetes events (events: categories and
views)."""
