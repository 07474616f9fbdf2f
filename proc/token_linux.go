package proc

import (
	"bytes"
	"os"
	"strconv"
)

// tokenPids lists the live processes whose environment carries tok (or a
// token nested in it), from /proc/PID/environ: the environment a process
// started with. Another user's processes cannot be read, and need not be:
// a group's processes are its starter's user's. Zombies have an empty
// environ, so they do not count.
func tokenPids(tok string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	key := []byte(TokenVar + "=")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for kv := range bytes.SplitSeq(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, key); ok && carries(string(v), tok) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
