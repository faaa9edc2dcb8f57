// Package fgs holds openfgs's domain: the resources the FunctionGraph API
// manages (functions, projects, credentials), their URNs, the error kinds
// every layer speaks, and the ports that have more than one implementation
// (the metadata store and the code store).
//
// Nothing in this package does I/O. The API layer turns its errors into
// FSS error bodies; the store and codestore packages implement its ports.
package fgs
