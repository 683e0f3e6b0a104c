"""What operators and their tools ask: liveness, readiness and the Prometheus metrics."""
