"""What the tests share: instances, PostgreSQL clusters, PgBouncer, browsers, fixtures."""
