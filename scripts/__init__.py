"""Command-line tools beside the web app, grouped under ``ticketledger`` (``scripts.cli``).

Each tool is a module with ``add_arguments(parser)`` and ``run(args)``, so its options
are defined once and the command line only assembles them.
"""
