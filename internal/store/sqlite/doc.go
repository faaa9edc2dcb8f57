// Package sqlite is openfgs's embedded metadata store: an fgs.Store kept in
// one SQLite database file, through modernc.org/sqlite (pure Go, no cgo).
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit
// fsyncs the write-ahead log before it returns, so a write that returned
// survives the process being killed (and the machine losing power, as far
// as the disk honours fsync). Pragmas are set through the DSN, so every
// connection database/sql opens has them, not just the first.
//
// # Concurrency
//
// SQLite lets one connection write at a time. The Store keeps two pools:
//
//   - a writer: a *sql.DB of exactly one connection, opened with
//     _txlock=immediate. Every write goes through it, so writes of one
//     process queue in database/sql (honouring their contexts) instead of
//     racing for SQLite's lock and failing with SQLITE_BUSY, and a write
//     transaction holds the RESERVED lock from its BEGIN: the quota checks
//     it reads cannot be invalidated by another writer before it commits.
//   - readers: a pooled *sql.DB with query_only set. In WAL mode readers
//     never wait for the writer, so reads (a credential lookup on every
//     API request) run in parallel with each other and with a write.
//
// Other processes (an "fgs admin" command beside the server) open the same
// file with the same DSN; BEGIN IMMEDIATE plus busy_timeout makes their
// writers wait for each other rather than fail, and since no transaction
// ever upgrades a read lock to a write lock, SQLite's deadlock-avoidance
// SQLITE_BUSY cannot happen.
//
// # Schema
//
// The schema is a list of embedded migrations (migrations/NNNN_*.sql),
// applied in order inside one write transaction at Open; PRAGMA
// user_version records how many have run. Append new files to change it.
package sqlite
