"""The document library: approved plans' regulations, laws, procedures (issue 7)."""
