"""The metadata store: tables, engines and the migration chain."""
