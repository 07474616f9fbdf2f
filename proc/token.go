package proc

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"strings"
)

// TokenVar is the environment variable that marks every process of a
// group: a process inherits it from whoever started it, so it stays on a
// process that left the process group (setsid, a double fork). Nested
// groups extend their starter's token (PARENT.CHILD), so stopping a group
// reaches the groups its processes started too (a runner's nodes).
const TokenVar = "ODU_TOKEN"

// NoCgroupVar, set to anything but "" or "0", makes proc track groups by
// their token alone, as on a host without a usable cgroup v2: for tests
// of that fallback, and for hosts where cgroups misbehave.
const NoCgroupVar = "ODU_NO_CGROUP"

// newToken returns a fresh token under parent ("" for none).
func newToken(parent string) string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	if parent == "" {
		return hex.EncodeToString(b)
	}
	return parent + "." + hex.EncodeToString(b)
}

// tokenOf returns the token in env (the last one, as for a process), or
// the process's own when env has none.
func tokenOf(env []string) string {
	for _, kv := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(kv, TokenVar+"="); ok {
			return v
		}
	}
	return os.Getenv(TokenVar)
}

// withToken returns env with tok as its only token.
func withToken(env []string, tok string) []string { return withVar(env, TokenVar, tok) }

// withVar returns env with name set to value, once.
func withVar(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// CgroupVar names, in a group leader's environment, the cgroup [Start]
// made for it: what [LeaveCgroup] may leave and remove. The processes the
// leader starts inherit it, so it is believed only by a group leader in
// that very cgroup.
const CgroupVar = "ODU_CGROUP"

// carries reports whether a token value belongs to the group of tok: it
// is tok, or a group nested in it.
func carries(value, tok string) bool {
	return value == tok || strings.HasPrefix(value, tok+".")
}

// cgroupsOff reports whether the environment asks for token tracking only.
func cgroupsOff() bool {
	v := os.Getenv(NoCgroupVar)
	return v != "" && v != "0"
}
