package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdAttached waits until a program started with `start` (a face) holds
// a connection to the Unix socket SOCK (the run's, relative to the
// script's directory). odu installs its signal handler before anything
// else (Main's withSignals), so a face that has connected also turns a
// SIGINT into its own exit code:
//
//	attached wait .ci/odu.sock
//
// The connection is read from the kernel (`ss -x`: the face's socket is
// the peer of one bound to SOCK, or, when the run has not accepted it yet,
// it waits in the queue of the listener on SOCK), so it holds whether or
// not the run has answered it yet.
func cmdAttached(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: attached NAME SOCK")
	}
	b := started(ts, args[0])
	pid, sock := b.cmd.Process.Pid, ts.MkAbs(args[1])
	deadline := time.Now().Add(awaitLimit)
	for {
		select {
		case <-b.done:
			ts.Fatalf("%s exited (%d) before it attached to %s", args[0], b.code, sock)
		default:
		}
		if connectedTo(ts, pid, sock) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s (pid %d) did not attach to %s within %s", args[0], pid, sock, awaitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cmdWatching waits until a program started with `start` (a face waiting
// for a run to start) watches a directory (an inotify watch: it waits for
// the run's socket to appear), which it does after installing its signal
// handler, as cmdAttached says:
//
//	watching wait
func cmdWatching(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: watching NAME")
	}
	b := started(ts, args[0])
	pid := b.cmd.Process.Pid
	deadline := time.Now().Add(awaitLimit)
	for {
		select {
		case <-b.done:
			ts.Fatalf("%s exited (%d) before it watched for a run", args[0], b.code)
		default:
		}
		if inotifyWatches(pid) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s (pid %d) did not watch for a run within %s", args[0], pid, awaitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inotifyWatches reports whether the process holds an inotify instance
// with a watch added.
func inotifyWatches(pid int) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if link, _ := os.Readlink(filepath.Join(dir, "fd", fd.Name())); link != "anon_inode:inotify" {
			continue
		}
		info, _ := os.ReadFile(filepath.Join(dir, "fdinfo", fd.Name()))
		if strings.Contains(string(info), "inotify wd:") {
			return true
		}
	}
	return false
}

// connectedTo reports whether one of the process's sockets is connected to
// a socket bound to path.
func connectedTo(ts *testscript.TestScript, pid int, path string) bool {
	fdDir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if ino, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
			mine[strings.TrimSuffix(ino, "]")] = true
		}
	}
	if len(mine) == 0 {
		return false
	}
	out, err := exec.Command("ss", "-xan").Output()
	if err != nil {
		ts.Fatalf("ss -xan: %v", err)
	}
	// Netid State Recv-Q Send-Q Local-Address Port Peer-Address Port
	queued, pending := false, false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		switch {
		case f[4] == path && mine[f[7]]:
			return true // accepted: the run's end of the connection
		case f[1] == "LISTEN" && f[4] == path && f[2] != "0":
			queued = true // connections the run has not accepted yet
		case f[1] == "ESTAB" && mine[f[5]]:
			pending = true
		}
	}
	// A run that is stopped (SIGSTOP) has not accepted the face's
	// connection: it waits in the listener's queue.
	return queued && pending
}
