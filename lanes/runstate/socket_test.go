package runstate_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
)

// TestSocketRefusesOtherUsers: a connection to the run's socket from
// another user (odu-test, made by .ci/setup) is closed unanswered, even
// when the socket's permissions would let it in; the user's own
// connection is served.
func TestSocketRefusesOtherUsers(t *testing.T) {
	runAs := asOtherUser(t)
	root := t.TempDir()
	ln, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Open the way, as a careless chmod would: only the peer check is
	// left. Only directories the test made (root, and the test's own
	// temporary directory above it), never $TMPDIR itself.
	sock := runstate.SocketPath(root)
	for _, p := range []string{filepath.Dir(root), root, filepath.Dir(sock)} {
		chmod(t, p, 0o755)
	}
	chmod(t, sock, 0o777)

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "welcome\n") // what the user's connection reads is the check
		}
		accepted <- c
	}()

	out := runAs("TestPeerHelper", "ODU_PEER_SOCKET="+sock)
	if !strings.Contains(out, "peer: connected, then closed with nothing said") {
		t.Errorf("odu-test's connection was not refused:\n%s", out)
	}

	mine, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	c := <-accepted
	if c == nil {
		t.Fatal("Accept failed")
	}
	defer c.Close()
	line, err := bufio.NewReader(mine).ReadString('\n')
	if line != "welcome\n" {
		t.Errorf("the user's own connection got %q, %v", line, err)
	}
}

// chmod sets p's mode, or fails the test.
func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestPeerHelper is the other user's side of TestSocketRefusesOtherUsers,
// run in a process of its own; it does nothing in the suite.
func TestPeerHelper(t *testing.T) {
	path := os.Getenv("ODU_PEER_SOCKET")
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Printf("peer: dial: %v\n", err)
		return
	}
	defer c.Close()
	// The run may have closed the connection already: what is read says.
	_, _ = io.WriteString(c, `{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1}}`+"\n")
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		fmt.Printf("peer: set a deadline: %v\n", err)
		return
	}
	data, err := io.ReadAll(c)
	switch {
	// Closed with the hello unread, the socket may say reset rather
	// than end of file: either way, nothing was said.
	case len(data) == 0 && (err == nil || errors.Is(err, syscall.ECONNRESET)):
		fmt.Println("peer: connected, then closed with nothing said")
	default:
		fmt.Printf("peer: got %q, %v\n", data, err)
	}
}

// TestCloseLeavesALaterRunsSocket: a run's listener closed a second time
// (a deferred close after an early one, as when a dashboard holds a
// failed run and frees the checkout) leaves alone the socket of a run
// that started meanwhile.
func TestCloseLeavesALaterRunsSocket(t *testing.T) {
	root := t.TempDir()
	a, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()})
	if err != nil {
		t.Fatalf("listen after the first run closed: %v", err)
	}
	defer b.Close()
	a.Close()
	if _, err := os.Lstat(runstate.SocketPath(root)); err != nil {
		t.Fatalf("the later run's socket is gone after the first run's second Close: %v", err)
	}
	if _, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()}); err == nil {
		t.Errorf("a third run could listen while the second holds the lock")
	}
}
