package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/odutest"
)

// urlLine finds the URL odu web prints.
var urlLine = regexp.MustCompile(`odu web: (http://\S+/\?token=[0-9a-f]+)`)

// startOdu starts the odu binary in the checkout and returns the URL it
// prints and everything it wrote to stderr until then.
func startOdu(t testing.TB, c *checkout, args ...string) (string, string, *exec.Cmd, chan error) {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "odu"), args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stderr)
		done <- cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		go func() {
			for range lines {
			}
		}()
		<-exited
	})
	var said strings.Builder
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("odu %v exited without printing its URL:\n%s", args, said.String())
			}
			said.WriteString(l + "\n")
			if m := urlLine.FindStringSubmatch(l); m != nil {
				go func() {
					for range lines {
					}
				}()
				return m[1], said.String(), cmd, done
			}
		case <-timeout:
			t.Fatalf("odu %v printed no URL within a minute:\n%s", args, said.String())
		}
	}
}

// firstEvent opens an event stream and returns its first event's name
// and data.
func firstEvent(t testing.TB, cl *http.Client, url string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var event string
	for sc.Scan() {
		l := sc.Text()
		if e, ok := strings.CutPrefix(l, "event: "); ok {
			event = e
		}
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			return event, d
		}
	}
	t.Fatalf("GET %s: no event (%v)", url, sc.Err())
	return "", ""
}

// TestCommands: `odu web` prints a URL that opens the page, warns when
// it is not on loopback, and stops on Ctrl-C; `odu run --web` serves the
// run it runs.
func TestCommands(t *testing.T) {
	c := newCheckout(t, `
[metadata("ci")]
ci: slow

slow:
    `+gate("slow")+`
`)
	url, _, cmd, done := startOdu(t, c, "web", "--addr", "127.0.0.1:0")
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `<script src="/app.js"`) || strings.Contains(resp.Request.URL.String(), "token") {
		t.Errorf("GET %s: %s at %s, want the page at a URL without the token:\n%s", url, resp.Status, resp.Request.URL, page)
	}
	base := strings.TrimSuffix(resp.Request.URL.String(), "/")
	if ev, data := firstEvent(t, cl, base+"/api/board"); ev != "runs" || data != "[]" {
		t.Errorf("the board of a checkout without runs: %s %s, want runs []", ev, data)
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("odu web after Ctrl-C: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("odu web did not stop within 30 s of Ctrl-C")
	}

	_, said, _, _ := startOdu(t, c, "web", "--addr", "0.0.0.0:0")
	if !strings.Contains(said, "warning: serving on") || !strings.Contains(said, "not loopback only") {
		t.Errorf("odu web --addr 0.0.0.0:0 said:\n%s\nwant a warning that it is not loopback only", said)
	}

	url, _, _, done = startOdu(t, c, "run", "--no-post", "--progress", "plain", "--web")
	jar, _ = cookiejar.New(nil)
	cl = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if resp, err = cl.Get(url); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	base = strings.TrimSuffix(resp.Request.URL.String(), "/")
	ev, data := firstEvent(t, cl, base+"/api/run?ref=live")
	if ev != "state" || !strings.Contains(data, `"live":true`) || !strings.Contains(data, `"id":"slow@`) {
		t.Errorf("odu run --web's run stream began with %s %s, want the live state with slow", ev, data)
	}
	c.open(t, "slow")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("odu run --web: %v, want exit 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("odu run --web did not end within a minute of its last node's gate opening")
	}
}
