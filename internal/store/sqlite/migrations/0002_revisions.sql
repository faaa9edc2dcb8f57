-- 0002: function revisions, and the disk a package takes unpacked.
--
-- Every write of a function takes the next value of one counter, so a
-- revision orders states across all functions (a re-created function is
-- later than the one it replaces) and an update can compare-and-set on
-- the revision it read. Wall-clock last_modified stays for display only.

CREATE TABLE counters (
    name  TEXT NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

ALTER TABLE functions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

UPDATE functions SET revision = seq;

INSERT INTO counters (name, value)
    VALUES ('revision', coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = 'functions'), 0));

-- A zip package is also kept unpacked: the bytes of its files plus a
-- block per entry count against the project's code-storage quota with
-- the package itself. Rows from before this count at code_size only.
ALTER TABLE functions ADD COLUMN unpacked_bytes INTEGER NOT NULL DEFAULT 0;
