"""Passline's benchmarks, run with ``python -m bench`` (or ``make bench``).

Two benchmarks, each printed as a table and saved as JSON under ``bench/results/``:

- ``metadata``: audit events/s and lineage edges/s on embedded SQLite, embedded PostgreSQL
  and HTTP to a real server, single-call and batched; the audit chain's verify rate.
- ``artifacts``: put and get MB/s of a large random file against a plain copy of the same
  file (the floor), and the peak memory of each operation in a fresh child process.

See ``docs/benchmarks.md`` for what each figure means and the goals.
"""
