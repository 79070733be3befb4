"""The document library: approved plans' regulations, laws, decrees, procedures."""
