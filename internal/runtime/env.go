package runtime

// What every Kind derives from a Function the same way: the environment
// an instance starts with, its code folder and its response limit.

import (
	"encoding/json"
	"os"
)

// BaseEnv returns the environment every instance starts with, before
// Environ adds the function's (a new slice each call).
func BaseEnv() []string {
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=/tmp",
		"LANG=C.UTF-8",
	}
}

// StandaloneEnviron is the environment of an instance that learns its
// function from its environment alone, having no Load frame (Go1.x,
// Custom, http): Environ(base, fn), but with RUNTIME_USERDATA holding the
// encrypted user data too, since that variable is where such an instance
// reads them (the Go SDK's GetUserData does); they are still not exported
// as variables of their own. Then extra ("NAME=value", overriding). Every
// name appears once.
func StandaloneEnviron(base []string, fn *Function, extra ...string) []string {
	env := append(Environ(base, fn), "RUNTIME_USERDATA="+allUserDataJSON(fn))
	return dedupEnv(append(env, extra...))
}

// allUserDataJSON is the JSON object of fn's user data and encrypted user
// data, the encrypted values winning.
func allUserDataJSON(fn *Function) string {
	m := make(map[string]string, len(fn.UserData)+len(fn.EncryptedUserData))
	for k, v := range fn.UserData {
		m[k] = v
	}
	for k, v := range fn.EncryptedUserData {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil { // a map[string]string always encodes
		panic(err)
	}
	return string(b)
}

// CodeDirOf is fn's code folder as its instance sees it: fn.CodeDir, or
// CodeDir when that is not set.
func CodeDirOf(fn *Function) string {
	if fn.CodeDir != "" {
		return fn.CodeDir
	}
	return CodeDir
}

// HostCodeDir is fn's code folder when it is a folder of this host
// (tests, or no sandbox), so that a Kind can check the code package
// itself; "" when it is the sandbox's path (or not a folder here).
func HostCodeDir(fn *Function) string {
	d := fn.CodeDir
	if d == "" || d == CodeDir {
		return ""
	}
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return ""
	}
	return d
}

// MaxResponse is the response limit of fn: its MaxResponseBytes, or
// DefaultMaxResponseBytes when it sets none (or fn is nil).
func MaxResponse(fn *Function) int {
	if fn != nil && fn.MaxResponseBytes > 0 {
		return fn.MaxResponseBytes
	}
	return DefaultMaxResponseBytes
}
