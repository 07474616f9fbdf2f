package main

import (
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/odu-ci/odu/proc"
)

// cmdAllGone checks that every process whose pid a file lists (one per
// line) has exited within goneLimit (a zombie waiting for init counts as
// exited), and kills those that have not:
//
//	allgone $WORK/pids
func cmdAllGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: allgone PIDFILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	pids := strings.Fields(string(data))
	deadline := time.Now().Add(goneLimit)
	for {
		var left []string
		for _, pid := range pids {
			if state, _, ok := proc.Stat(pid); ok && state != "Z" {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			ts.Logf("%d processes listed, all gone", len(pids))
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(mustAtoi(pid), syscall.SIGKILL)
			}
			ts.Fatalf("processes %v (of the %d in %s) still run %s later", left, len(pids), args[0], goneLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
