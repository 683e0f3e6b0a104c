"""The hot-sale benchmark (``ticketledger bench``): a package so the command line can
import it; ``baseline_app`` is also served on its own by gunicorn from this folder."""
