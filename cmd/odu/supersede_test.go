package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// supersedeJustfile: work leaves a process that ignores SIGTERM until
// $ODU_TEST_RELEASE exists, after saying it runs ($ODU_TEST_HELD).
const supersedeJustfile = `[metadata("ci")]
ci: work

work:
    #!/bin/sh
    sh -c 'trap "" TERM; while [ ! -e "$ODU_TEST_RELEASE" ]; do sleep 0.05; done' &
    touch "$ODU_TEST_HELD"
    wait
`

// TestSupersedeAtOnce: three `odu run --supersede` started together
// against a live run end with exactly one run live: one supersedes it,
// and the two others are refused at once (exit 2), naming the one that
// does, while the superseded run is still stopping.
func TestSupersedeAtOnce(t *testing.T) {
	c := newGHCheckoutOf(t, "", supersedeJustfile)
	tmp := t.TempDir()
	held, release := filepath.Join(tmp, "held"), filepath.Join(tmp, "release")
	c.env = append(c.env, "ODU_TEST_HELD="+held, "ODU_TEST_RELEASE="+release)
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o644) }) // whatever holds, ends

	first := c.oduCmd("run", "--progress", "plain", "--grace", "2m")
	var firstOut bytes.Buffer
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstRun := waitInBackground(t, first, nil)
	deadline := time.Now().Add(time.Minute)
	for _, err := os.Stat(held); err != nil; _, err = os.Stat(held) {
		if time.Now().After(deadline) {
			t.Fatalf("the first run's node did not start within a minute:\n%s", firstOut.String())
		}
		time.Sleep(20 * time.Millisecond) // a recipe's file, which nothing announces
	}

	// Each output and each end kicks the wait below.
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	type result struct {
		out  *kickBuffer
		cmd  *exec.Cmd
		done *bgRun
	}
	var rs [3]*result
	for i := range rs {
		r := &result{cmd: c.oduCmd("run", "--supersede", "--progress", "plain"), out: &kickBuffer{kick: poke}}
		r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
		rs[i] = r
	}
	for _, r := range rs { // as close together as the machine starts them
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r.done = waitInBackground(t, r.cmd, nil)
		go func() { <-r.done.done; poke() }()
	}
	exited := func(r *result) bool {
		select {
		case <-r.done.done:
			return true
		default:
			return false
		}
	}
	code := func(r *result) int {
		var exit *exec.ExitError
		if errors.As(r.done.err, &exit) {
			return exit.ExitCode()
		}
		return 0
	}
	// Until each has either ended or said it supersedes: the first run
	// still stops meanwhile (its node holds until release), so the two
	// refused do not wait for it.
	limit := time.After(time.Minute)
	for {
		settled := 0
		for _, r := range rs {
			if exited(r) || strings.Contains(r.out.String(), "odu: superseding the live run") {
				settled++
			}
		}
		if settled == len(rs) {
			break
		}
		select {
		case <-kick:
		case <-limit:
			t.Fatalf("the --supersede runs did not each end or supersede within a minute:\n%s\n---\n%s\n---\n%s", rs[0].out, rs[1].out, rs[2].out)
		}
	}
	refused := regexp.MustCompile(`(?m)^odu: another odu run --supersede \(pid \d+, commit [0-9a-f]{7}, started \d\d:\d\d:\d\d\) is already replacing the live run$`)
	var winner *result
	for _, r := range rs {
		if !exited(r) {
			if winner != nil {
				t.Fatalf("two --supersede wait to replace the run:\n%s\n---\n%s", winner.out, r.out)
			}
			winner = r
			continue
		}
		if c := code(r); c != 2 || !refused.MatchString(r.out.String()) {
			t.Errorf("a --supersede ended before the superseded run, exit %d, want 2 and a refusal:\n%s", c, r.out)
		}
	}
	if winner == nil {
		t.Fatal("no --supersede replaces the run")
	}
	waitDone := func(r *result) int {
		select {
		case <-r.done.done:
		case <-time.After(time.Minute):
			t.Fatalf("odu run --supersede did not end within a minute:\n%s", r.out)
		}
		return code(r)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := waitDone(winner); code != 0 {
		t.Errorf("the --supersede that replaced the run exited %d, want 0:\n%s", code, winner.out.String())
	}
	select {
	case <-firstRun.done:
	case <-time.After(time.Minute):
		t.Fatal("the superseded run did not end")
	}
	if out := firstOut.String(); !strings.Contains(out, "was superseded by odu run --supersede (pid "+itoa(winner.cmd.Process.Pid)+", commit ") {
		t.Errorf("the superseded run does not name the one that replaced it (pid %d):\n%s", winner.cmd.Process.Pid, out)
	}
}

// kickBuffer is an output several goroutines read while a command
// writes it; each write kicks.
type kickBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	kick func()
}

func (k *kickBuffer) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer k.kick()
	return k.b.Write(p)
}

func (k *kickBuffer) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.b.String()
}
