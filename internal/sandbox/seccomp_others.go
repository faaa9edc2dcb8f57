//go:build linux && !amd64 && !arm64

package sandbox

// No filter is defined for this architecture: sandboxes refuse to start
// (see seccompProgram).
const (
	seccompArch   = 0
	seccompNrMask = 0
)
