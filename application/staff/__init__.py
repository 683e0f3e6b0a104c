"""The people who run a sale: staff accounts, organizers, roles, API keys and door devices
(``accounts.StaffAccounts``), kept in the ledger's store as event-sourced aggregates
(``domain.staff``, ``domain.organizers``, ``domain.credentials``)."""
