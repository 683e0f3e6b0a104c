"""What the resources share of their JSON: fields and base schemas, and the shapes two
resources both answer with (bookings, tiers)."""
