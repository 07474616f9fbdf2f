package runstate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
)

// TestOtherUsersRunSaysWhose: another user (odu-test, made by .ci/setup)
// attaching to this user's run is told that the run is this user's, by
// name and uid, and what to do: whether the kernel refused the
// connection (the socket 0600 in a .ci of 0700) or the run closed it
// unanswered (a careless chmod let it through). Before, it was told
// `connect: permission denied` or `hello: connection closed`.
func TestOtherUsersRunSaysWhose(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	runAs := asOtherUser(t)
	root := t.TempDir()
	ln, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept() // closes other users' connections
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// The checkout is readable by all, as checkouts are; .ci is not.
	for _, p := range []string{filepath.Dir(root), root} {
		chmod(t, p, 0o755)
	}
	dial := func() string { return runAs("TestDialHelper", "ODU_DIAL_ROOT="+root) }
	want := fmt.Sprintf("to another user, %s (uid %s)", me.Username, me.Uid)
	wantHint := fmt.Sprintf("hint: Only %s can attach to it", me.Username)
	for _, c := range []struct {
		name    string
		want    string
		prepare func()
	}{
		{"refused by the kernel", "dial: this checkout's runs belong", func() {}},
		{"closed by the run", "dial: the run live in this checkout belongs", func() {
			chmod(t, filepath.Join(root, ".ci"), 0o755)
			chmod(t, runstate.SocketPath(root), 0o777)
		}},
	} {
		c.prepare()
		out := dial()
		if !strings.Contains(out, c.want) || !strings.Contains(out, want) || !strings.Contains(out, wantHint) {
			t.Errorf("%s: odu-test was told:\n%s\nwant %q, %q and %q", c.name, out, c.want, want, wantHint)
		}
	}
}

// TestDialHelper is the other user's side of TestOtherUsersRunSaysWhose,
// run in a process of its own; it does nothing in the suite.
func TestDialHelper(t *testing.T) {
	root := os.Getenv("ODU_DIAL_ROOT")
	if root == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := runstate.Dial(ctx, root, "odu status", "test-1")
	if err == nil {
		cl.Close()
		fmt.Println("dial: attached")
		return
	}
	fmt.Printf("dial: %v\n", err)
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		fmt.Printf("hint: %s\n", h.Hint())
	}
}

// asOtherUser returns a function that runs one of this package's helper
// tests as odu-test (made by .ci/setup), from a copy of the test binary
// that odu-test can run, with env as its whole environment, and returns
// what it printed; a helper that fails fails the test.
func asOtherUser(t *testing.T) func(helper string, env ...string) string {
	t.Helper()
	other, err := user.Lookup("odu-test")
	if err != nil {
		t.Fatalf("the user odu-test (bash .ci/setup makes it): %v", err)
	}
	uid, err := strconv.Atoi(other.Uid)
	if err != nil {
		t.Fatal(err)
	}
	gid, err := strconv.Atoi(other.Gid)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	chmod(t, dir, 0o755)
	exe := filepath.Join(dir, "peer.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(helper string, env ...string) string {
		t.Helper()
		// A helper that hangs (a run that neither answers nor closes)
		// fails the test in a minute, saying so, not at its deadline.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, exe, "-test.run=^"+helper+"$")
		cmd.WaitDelay = time.Second
		cmd.Env = env
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("%s as odu-test did not end within a minute:\n%s", helper, out)
		}
		if err != nil {
			t.Fatalf("%s as odu-test: %v\n%s", helper, err, out)
		}
		return string(out)
	}
}
