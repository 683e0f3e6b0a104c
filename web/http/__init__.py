"""The HTTP plumbing around every resource: errors, logs, protection, proxies, request bodies,
rate limits, metrics, event streams, the tier list's one copy, and what the app and the
server runtime agree on."""
