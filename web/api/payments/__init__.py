"""Payments (docs/payments.md): a paid booking's instructions for its buyer (``buyer.py``),
and the staff's side behind the admin token (``admin.py``): the box office, bank statements,
refunds sent, the books and their exports."""
