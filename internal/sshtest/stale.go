package sshtest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A server's directory and cgroup are named after the test process that
// made them, so that one that was killed before its cleanup ran (a test
// binary stopped by a signal or a timeout) can be told from one in use,
// and swept by the next test process that starts a server.
var (
	prefix    = "odu-sshtest-" + strconv.Itoa(os.Getpid()) + "-"
	sweepOnce sync.Once
)

// orphaned reports whether name is a server's directory or cgroup whose
// test process is gone.
func orphaned(name string) bool {
	rest, ok := strings.CutPrefix(name, "odu-sshtest-")
	if !ok {
		return false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// sweepStale removes what test processes that are gone left behind.
func sweepStale() {
	sweepDirs(os.TempDir())
	sweepCgroups()
	sweepNetns()
}

// sweepDirs removes the server directories in parent that were left by
// test processes that are gone.
func sweepDirs(parent string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if e.IsDir() && orphaned(e.Name()) {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}
