"""The administration behind the admin token: tiers, webhooks and the dashboard's figures."""
