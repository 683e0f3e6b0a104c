"""Command-line tools beside the web app, grouped under ``ticketledger`` (``scripts.commands.cli``).

Each tool is a module with ``run(args)`` and, if it has options, ``add_arguments(parser)``,
so its options are defined once and the command line only assembles them.
"""
