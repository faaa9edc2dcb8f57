// Package store holds openfgs's metadata store implementations: the
// adapters behind the fgs.Store port, which keeps tenants (domains,
// projects, users, credentials) and functions.
//
// Each implementation lives in its own subpackage (store/sqlite, the
// embedded store openfgs runs with by default) and must pass the
// conformance suite in store/storetest, which pins the behaviour the
// fgs.Store doc comments promise: error kinds and FSS codes, quota checks,
// pagination, cascades and durability. This package itself holds no code.
package store
