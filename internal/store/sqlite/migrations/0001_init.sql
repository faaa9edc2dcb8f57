-- 0001: tenants and functions.
--
-- Times are TEXT in UTC, fixed width with nanoseconds
-- ("2006-01-02T15:04:05.000000000Z"), so they sort as they compare.
-- Upserts use INSERT ... ON CONFLICT DO UPDATE, never INSERT OR REPLACE:
-- REPLACE deletes the old row first, which would cascade.

CREATE TABLE domains (
    id      TEXT NOT NULL PRIMARY KEY,
    name    TEXT NOT NULL,
    created TEXT NOT NULL
) STRICT;

CREATE INDEX domains_name ON domains (name);

CREATE TABLE projects (
    id      TEXT NOT NULL PRIMARY KEY,
    name    TEXT NOT NULL,
    domain  TEXT NOT NULL REFERENCES domains (id),
    created TEXT NOT NULL
) STRICT;

CREATE INDEX projects_domain ON projects (domain, id);

-- A user is keyed by (domain, name); its ID is an attribute.
CREATE TABLE users (
    domain        TEXT NOT NULL REFERENCES domains (id),
    name          TEXT NOT NULL,
    id            TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created       TEXT NOT NULL,
    PRIMARY KEY (domain, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE credentials (
    access_key     TEXT NOT NULL PRIMARY KEY,
    secret_key     TEXT NOT NULL,
    project        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    security_token TEXT NOT NULL,
    expires        TEXT,            -- NULL: never
    description    TEXT NOT NULL,
    created        TEXT NOT NULL
) STRICT;

CREATE INDEX credentials_project ON credentials (project, access_key);

-- seq is AUTOINCREMENT so that a deleted function's seq is never handed
-- out again: pagination by "seq > after" stays stable.
CREATE TABLE functions (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    project   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    package   TEXT NOT NULL,
    name      TEXT NOT NULL,
    digest    TEXT NOT NULL,
    code_size INTEGER NOT NULL,
    doc       TEXT NOT NULL,        -- the whole fgs.Function as JSON
    UNIQUE (project, package, name)
) STRICT;

CREATE INDEX functions_project_seq ON functions (project, seq);
CREATE INDEX functions_digest ON functions (digest);
