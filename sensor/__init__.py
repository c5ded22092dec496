"""trustwatch sensor: packets in, Observations out. Never imports analytics."""
