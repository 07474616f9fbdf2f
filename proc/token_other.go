//go:build !linux && !darwin

package proc

// tokenPids cannot list processes by their environment here: only the
// process group is stopped.
func tokenPids(string) []int { return nil }
