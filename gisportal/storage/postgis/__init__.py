"""The PostGIS store, its SQL, bulk loads and read replicas."""
