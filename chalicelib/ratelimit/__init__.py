"""Rate limiting: fixed-window counters per route class and principal."""
