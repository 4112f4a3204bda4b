"""The snapshot archive: what a snapshot holds (snapshot), how it is written and verified in S3 or a folder
(store), where it waits while the store is down (spool), and the trends read back with DuckDB (trends)."""
