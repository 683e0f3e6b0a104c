"""``python -m scripts.verify``: the same as ``ticketledger verify``."""

import sys

from scripts.commands.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["verify", *sys.argv[1:]]))
