package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/lanes/runstate"
)

func TestMain(m *testing.M) { odutest.Main(m) }

// checkout is a throwaway git repository with a justfile, committed.
type checkout struct {
	dir   string
	gates string // where gate files go: recipes wait for them
	env   []string
}

// newCheckout writes justfile (in which {{GATES}} stands for the gates
// directory) and commits it.
func newCheckout(t testing.TB, justfile string) *checkout {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	c := &checkout{dir: filepath.Join(tmp, "repo"), gates: filepath.Join(tmp, "gates")}
	for _, d := range []string{c.dir, c.gates, filepath.Join(tmp, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.env = append(os.Environ(), odutest.GitEnv(filepath.Join(tmp, "home"))...)
	c.env = append(c.env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache"))
	justfile = strings.ReplaceAll(justfile, "{{GATES}}", c.gates)
	if err := os.WriteFile(filepath.Join(c.dir, "justfile"), []byte(justfile), 0o644); err != nil {
		t.Fatal(err)
	}
	c.git(t, "init", "-q", "-b", "main")
	c.git(t, "add", "justfile")
	c.git(t, "commit", "-q", "-m", "ci")
	return c
}

func (c *checkout) git(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// open lets the recipes waiting for gate name go on.
func (c *checkout) open(t testing.TB, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.gates, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// gate is a recipe line that waits for gate name.
func gate(name string) string {
	return fmt.Sprintf("while [ ! -e {{GATES}}/%s ]; do sleep 0.02; done", name)
}

// run is an `odu run` of the checkout, started by a test.
type run struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  *lockedWriter
}

// start starts odu run and waits until its socket answers.
func (c *checkout) start(ctx context.Context, t testing.TB, args ...string) *run {
	t.Helper()
	return c.startCmd(ctx, t, "run", args...)
}

// startCmd starts odu sub (run, rerun) and waits until its socket answers.
func (c *checkout) startCmd(ctx context.Context, t testing.TB, sub string, args ...string) *run {
	t.Helper()
	out := &lockedWriter{b: &strings.Builder{}}
	cmd := exec.Command("odu", append([]string{sub, "--no-post", "--progress", "plain"}, args...)...)
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	bin, _ := odutest.BinDir()
	cmd.Path = filepath.Join(bin, "odu")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &run{cmd: cmd, done: make(chan struct{}), out: out}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
			return
		default:
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
	})
	v, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cl, err := runstate.DialWait(dctx, c.dir, "web test", v)
	if err != nil {
		t.Fatalf("odu run did not start serving its socket: %v\n%s", err, r.output())
	}
	cl.Close()
	return r
}

func (r *run) output() string {
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	return r.out.b.String()
}

// wait waits for odu run to exit.
func (r *run) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		t.Fatalf("odu run did not exit within %v:\n%s", d, r.output())
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// server is odu web serving a checkout, in the test's process.
type server struct {
	base  string // http://127.0.0.1:port
	token string
	stop  func()
}

// serve serves the checkout at addr ("127.0.0.1:0" for any port).
func serve(t testing.TB, root, addr string) *server {
	t.Helper()
	v, err := odutest.Version()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Token(root)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	// The port of a server that just stopped is free again at once on
	// loopback (SO_REUSEADDR is Go's default); a connection of the old
	// one may linger a moment.
	for deadline := time.Now().Add(10 * time.Second); ; {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(50 * time.Millisecond) // a bounded retry of a busy port, not a wait for an event
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Root: root, Version: v, Token: tok}, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, s) }()
	srv := &server{base: "http://" + ln.Addr().String(), token: tok}
	var once sync.Once
	srv.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("odu web: %v", err)
			}
		})
	}
	t.Cleanup(srv.stop)
	return srv
}

// url is the page at fragment, with the token.
func (s *server) url(fragment string) string {
	return s.base + "/?token=" + s.token + fragment
}

// browser starts a headless Chromium for the test.
func browser(t testing.TB, width, height int) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium on PATH: .ci/setup installs it (apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(width, height),
		chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	deadline, ok := time.Time{}, false
	if d, has := t.(interface{ Deadline() (time.Time, bool) }); has {
		deadline, ok = d.Deadline()
	}
	if !ok {
		deadline = time.Now().Add(5 * time.Minute)
	}
	ctx, cancelT := context.WithDeadline(ctx, deadline.Add(-10*time.Second))
	t.Cleanup(func() { cancelT(); cancel(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// poll waits (bounded) for a JavaScript expression to be truthy, saying
// what it waited for when it is not.
func poll(ctx context.Context, t testing.TB, what, expr string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + document.body.innerText.slice(0, 3000)`))
		t.Fatalf("waiting for %s (%s): %v\nthe page shows:\n%s", what, expr, err, page)
	}
}

func eval[T any](ctx context.Context, t testing.TB, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot writes a picture of the page at width×height into the
// test's directory.
func screenshot(ctx context.Context, t testing.TB, dir, name string, width, height int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatal(err)
	}
	// Let the page lay itself out at the new size.
	poll(ctx, t, "a frame at the new size", fmt.Sprintf(`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(innerWidth === %d))))`, width), 10*time.Second)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	// $ODU_SCREENSHOTS keeps a copy after the test's directory is gone.
	if keep := os.Getenv("ODU_SCREENSHOTS"); keep != "" {
		if err := os.WriteFile(filepath.Join(keep, name), png, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// logLines reads every line of the open log as a user would: scrolling
// through it, a screen at a time, reading the lines shown. It returns
// them by number.
const logLinesJS = `(async () => {
  const el = document.querySelector('.log');
  const seen = {};
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); await frame();
  for (;;) {
    for (const ln of el.querySelectorAll('.ln')) {
      const c = ln.cloneNode(true); c.querySelector('.no').remove();
      seen[ln.dataset.n] = c.textContent;
    }
    if (el.scrollTop + el.clientHeight >= el.scrollHeight - 1) break;
    el.scrollTop += el.clientHeight; await frame();
  }
  const n = Math.round(el.querySelector('.spacer').getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight));
  const out = [];
  for (let i = 0; i < n; i++) out.push(seen[i] === undefined ? null : seen[i]);
  return out;
})()`
