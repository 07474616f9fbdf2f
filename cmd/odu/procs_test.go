package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdKillChild kills (SIGKILL, as the OOM killer would) the child of a
// process started with `start` whose command line holds WORD, or stops it
// (SIGSTOP, a process that hangs), and writes its pid to FILE:
//
//	killchild NAME WORD FILE [STOP]
func cmdKillChild(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 || (len(args) == 4 && args[3] != "STOP") {
		ts.Fatalf("usage: killchild NAME WORD FILE [STOP]")
	}
	sig := syscall.SIGKILL
	if len(args) == 4 {
		sig = syscall.SIGSTOP
	}
	parent := started(ts, args[0]).cmd.Process.Pid
	pid := 0
	deadline := time.Now().Add(awaitLimit)
	for pid == 0 {
		pid = childWith(parent, args[1])
		if pid == 0 {
			if time.Now().After(deadline) {
				ts.Fatalf("no child of %s (pid %d) has %q in its command line", args[0], parent, args[1])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ts.Check(syscall.Kill(pid, sig))
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(strconv.Itoa(pid)+"\n"), 0o644))
	ts.Logf("sent %s to %s's child %d (%s) at %s", sig, args[0], pid, args[1], time.Now().Format("15:04:05.000"))
}

// childWith returns the pid of a child of parent whose command line holds
// word, or 0.
func childWith(parent int, word string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), word) {
			return pid
		}
	}
	return 0
}
