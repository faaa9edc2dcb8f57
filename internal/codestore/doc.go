// Package codestore holds the implementations of fgs.CodeStore, where code
// packages are kept by the SHA-512 of their bytes, and codestoretest, the
// suite each implementation passes.
package codestore
