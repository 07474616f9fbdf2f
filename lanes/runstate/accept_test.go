package runstate_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// TestSocketSurvivesEMFILE: a run's socket keeps serving after accepting
// failed for want of file descriptors (EMFILE), once descriptors are
// free again: a coordinator under a low descriptor limit (a child
// process, RLIMIT_NOFILE 40) is sent many more connections than it can
// hold; then they go, and a face attaches and reads the state.
func TestSocketSurvivesEMFILE(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptHelper$")
	cmd.Env = append(os.Environ(), "ODU_ACCEPT_ROOT="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(time.Minute)
	// next returns the helper's next line with prefix, failing on the
	// line that says its socket stopped accepting.
	next := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the helper exited before saying %q", prefix)
				}
				if strings.HasPrefix(l, "accept loop ended") {
					t.Fatalf("the socket stopped accepting: %s", l)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("the helper did not say %q within a minute", prefix)
			}
		}
	}
	next("listening")

	var conns []net.Conn
	for range 200 {
		c, err := net.Dial("unix", runstate.SocketPath(root))
		if err != nil {
			t.Fatalf("dial the socket: %v", err)
		}
		conns = append(conns, c)
	}
	const failures = 5
	for range failures {
		t.Log(next("retry: "))
	}
	for _, c := range conns {
		c.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := runstate.Dial(ctx, root, "test", "test-1")
	if err != nil {
		t.Fatalf("attach after the descriptors came back: %v", err)
	}
	defer cl.Close()
	w, err := cl.Watch()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next(ctx)
	if err != nil || ev.Snapshot == nil || len(ev.Snapshot.Nodes) != 1 {
		t.Fatalf("the state after the descriptors came back: %+v, %v", ev, err)
	}
	w.Close()
	stdin.Close()
	t.Log(next("retried "))
}

// TestAcceptHelper is the coordinator side of TestSocketSurvivesEMFILE, in
// a process of its own with a low descriptor limit: the run's socket,
// served as `odu run` serves it, until its stdin closes. It does nothing
// in the suite.
func TestAcceptHelper(t *testing.T) {
	root := os.Getenv("ODU_ACCEPT_ROOT")
	if root == "" {
		return
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 40
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ln, err := runstate.Listen(root, runstate.RunningError{PID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	ln.Logf = func(format string, a ...any) { fmt.Printf("retry: "+format+"\n", a...) }
	nodes := []surface.Node{{ID: "a@p", Name: "a", Status: surface.Pending, Attempt: 1}}
	// The logs go under the test's own directory: this process is killed,
	// so a t.TempDir of its own would be left behind.
	logs := filepath.Join(root, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := surface.NewStore(surface.Run{SHA: "abc"}, nodes, func(n surface.Node) (*surface.Log, error) {
		return surface.OpenLog(filepath.Join(logs, surface.LogName(n.Name)))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.CloseLogs()
	srv := &surface.Server{Name: "coordinator", Version: "test-1", Controller: noProcedures{}}
	srv.SetStore(st)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until stdin closes, or cannot be read: either ends the helper
		cancel()
		ln.Close()
	}()
	fmt.Println("listening")
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				fmt.Printf("accept loop ended: %v\n", err)
			}
			break
		}
		go func() {
			_ = srv.Serve(ctx, conn) // the test asserts on what its faces see
		}()
	}
	fmt.Printf("retried %d failed accepts\n", ln.Retried())
}

// noProcedures refuses every procedure: the helper only serves the cell.
type noProcedures struct{}

func (noProcedures) Configure(context.Context, surface.Config) error { return errRefused }
func (noProcedures) Rerun(context.Context, string) (surface.RerunResult, error) {
	return surface.RerunResult{}, errRefused
}
func (noProcedures) CancelNode(context.Context, string) (surface.CancelResult, error) {
	return surface.CancelResult{}, errRefused
}
func (noProcedures) CancelRun(context.Context) error { return errRefused }

var errRefused = &surface.Error{Code: surface.CodeMethodNotFound, Message: "no procedures here"}
