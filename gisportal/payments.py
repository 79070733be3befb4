"""Fee orders and payments through a provider interface (issue 7)."""
