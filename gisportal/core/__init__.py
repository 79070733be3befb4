"""What every capability shares: settings, errors, the agency database, numbering, secret codes,
accounts and audit, signing, notifications, coordinates, vector reading, files."""
