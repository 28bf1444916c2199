"""rtl_sweep: Routing the Lottery (adaptive lottery tickets) as a distributed sweep."""

__version__ = "0.1.0"
