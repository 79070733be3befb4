"""Staff sign-in, accounts and the audit log on the web."""
