"""Fees, orders, payment providers and receipts."""
