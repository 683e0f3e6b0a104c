"""Payments: the money side of a sale (docs/payments.md). ``PaymentDesk`` opens a paid
hold's payment, receives money (box office, bank credits), cancels paid bookings with their
refunds; ``statements`` reads camt.053 bank statements; ``bank`` matches their credits."""
