"""The citizen services: complaints, committees, payments, the document library,
subscriptions, contact."""
