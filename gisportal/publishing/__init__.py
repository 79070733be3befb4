"""Plan publication: upload intake, validation, drafts, impact preview, publication, imports."""
