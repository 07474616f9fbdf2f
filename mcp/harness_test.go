package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sys/unix"

	"github.com/odu-ci/odu/internal/odutest"
)

// checkout is a git repository with a committed justfile, and the
// environment odu runs with there: the test's odu and fast just first on
// PATH, a home of its own (no hosts file: one local lane), its own cache.
type checkout struct {
	t   *testing.T
	dir string
	bin string
	env []string
}

func newCheckout(t *testing.T, justfile string) *checkout {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatalf("build odu: %v", err)
	}
	tmp := t.TempDir()
	c := &checkout{t: t, dir: filepath.Join(tmp, "repo"), bin: bin}
	home := filepath.Join(tmp, "home")
	for _, d := range []string{c.dir, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.env = append(odutest.GitEnv(home), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "GORACE="+os.Getenv("GORACE"))
	c.write("justfile", justfile)
	c.git("init", "-q", "-b", "main")
	c.git("add", ".")
	c.git("commit", "-q", "-m", "init")
	return c
}

func (c *checkout) write(name, content string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *checkout) git(args ...string) string {
	c.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// odu runs odu in the checkout, as a user in a terminal would.
func (c *checkout) odu(args ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "odu"), args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("odu %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// server is a real `odu mcp` in the checkout, driven by the SDK's client.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	sess *sdk.ClientSession
	// progress collects the progress notifications the server sent.
	progress chan *sdk.ProgressNotificationParams
	// updates collects the URIs of resource updates.
	updates chan string
}

func (c *checkout) serve() *server {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, "odu"), "mcp")
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.Stderr = &testWriter{t: c.t}
	s := &server{t: c.t, cmd: cmd, progress: make(chan *sdk.ProgressNotificationParams, 100), updates: make(chan string, 1000)}
	client := sdk.NewClient(&sdk.Implementation{Name: "odu-test", Version: "0"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			select {
			case s.progress <- req.Params:
			default:
			}
		},
		ResourceUpdatedHandler: func(_ context.Context, req *sdk.ResourceUpdatedNotificationRequest) {
			select {
			case s.updates <- req.Params.URI:
			default:
			}
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd, TerminateDuration: 5 * time.Second}, nil)
	if err != nil {
		c.t.Fatalf("connect to odu mcp: %v", err)
	}
	s.sess = sess
	c.t.Cleanup(func() { s.sess.Close() })
	return s
}

// call calls a tool; its result must not be a tool error.
func (s *server) call(name string, args map[string]any, out any) string {
	s.t.Helper()
	res := s.callRaw(name, args)
	if res.IsError {
		s.t.Fatalf("%s %v: tool error: %s", name, args, textOf(res))
	}
	if out != nil {
		data, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s: structured content %s: %v", name, data, err)
		}
	}
	return textOf(res)
}

// callErr calls a tool that must answer with a tool error, and returns it.
func (s *server) callErr(name string, args map[string]any) string {
	s.t.Helper()
	res := s.callRaw(name, args)
	if !res.IsError {
		s.t.Fatalf("%s %v = %s, want a tool error", name, args, textOf(res))
	}
	return textOf(res)
}

func (s *server) callRaw(name string, args map[string]any) *sdk.CallToolResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := &sdk.CallToolParams{Name: name, Arguments: args}
	p.SetProgressToken(name)
	res, err := s.sess.CallTool(ctx, p)
	if err != nil {
		s.t.Fatalf("call %s %v: %v", name, args, err)
	}
	return res
}

func textOf(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*sdk.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

// stopRun ends a run the test started that may still be going, by its
// pid, and waits until it is gone: no test leaves a run behind.
func stopRun(t *testing.T, pid int) {
	t.Cleanup(func() {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return // gone already
		}
		defer unix.Close(fd)
		if unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0) != nil {
			return
		}
		if !exited(fd, 30*time.Second) {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			t.Errorf("odu run (pid %d) did not stop within 30s of SIGTERM; killed", pid)
		}
	})
}

// exited waits until the process of a pidfd exited, or d passed. The
// process is not the test's child: a pidfd is how to wait for it.
func exited(fd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if err == nil && n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
	}
}

// waitGone waits until pid exited, failing the test after d.
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if !exited(fd, d) {
		t.Fatalf("pid %d still runs after %s", pid, d)
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("odu mcp stderr: %s", p)
	return len(p), nil
}
