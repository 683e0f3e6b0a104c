"""The HTTP plumbing around every resource: errors, logs, protection, proxies, request bodies,
rate limits, metrics, health, event streams and the tier list's one copy."""
