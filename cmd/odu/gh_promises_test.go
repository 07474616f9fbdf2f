package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/odu-ci/odu/internal/ghfake"
	"github.com/odu-ci/odu/surface"
)

// The promises of README's GitHub section that the tests in gh_test.go
// do not cover: where the token comes from, a repository with no origin,
// a repository GitHub does not show, the bound on concurrent requests,
// and Ctrl-C.

// TestGitHubTokenFromGH finds the token with `gh auth token` when no
// variable holds one. The gh on PATH is a program the test provides (the
// real one would ask GitHub), answering as gh does for a logged-in host.
func TestGitHubTokenFromGH(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	c.setenv("GH_TOKEN", "")
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$*\" = 'auth token --hostname github.com' ] || { echo \"unexpected: gh $*\" >&2; exit 4; }\necho " + c.gh.Token + "\n"
	if err := os.WriteFile(filepath.Join(dir, "gh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var path string
	for _, kv := range c.env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	c.setenv("PATH", dir+string(os.PathListSeparator)+path)
	held := c.holdBuild()
	stdout, stderr, code := c.odu("run", "--progress", "plain")
	held()
	if code != 0 {
		t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "odu: posting commit statuses to github.com/octo/hello (token from gh auth token)\n") {
		t.Errorf("stderr does not say the token came from gh:\n%s", stderr)
	}
	for _, id := range ghNodes {
		c.checkSequence(id)
	}
	c.checkNoToken(stdout, stderr)
}

// TestGitHubEnterpriseToken posts to an Enterprise host with
// GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN, and does not take either
// for github.com.
func TestGitHubEnterpriseToken(t *testing.T) {
	for _, name := range []string{"GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"} {
		t.Run(name, func(t *testing.T) {
			c := newGHCheckout(t, "https://github.example.com/octo/hello.git")
			c.setenv("GH_TOKEN", "")
			c.setenv(name, c.gh.Token)
			held := c.holdBuild()
			stdout, stderr, code := c.odu("run", "--progress", "plain")
			held()
			if code != 0 {
				t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
			}
			if want := "odu: posting commit statuses to github.example.com/octo/hello (token from " + name + ")\n"; !strings.Contains(stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr)
			}
			for _, id := range ghNodes {
				c.checkSequence(id)
			}
			c.checkNoToken(stdout, stderr)
		})
		t.Run(name+" not for github.com", func(t *testing.T) {
			c := newGHCheckout(t, "https://github.com/octo/hello.git")
			c.setenv("GH_TOKEN", "")
			c.setenv(name, c.gh.Token)
			_, stderr, code := c.odu("run", "--progress", "plain")
			if code != 0 {
				t.Fatalf("odu run exited %d:\n%s", code, stderr)
			}
			if n := strings.Count(stderr, "odu: commit statuses are off: no GitHub token"); n != 1 {
				t.Errorf("stderr says %d times that there is no token, want once:\n%s", n, stderr)
			}
			if reqs := c.gh.Requests(); len(reqs) != 0 {
				t.Errorf("GitHub got %d requests, want none", len(reqs))
			}
		})
	}
}

// TestGitHubNoOrigin: a repository with no origin is on no forge: the run
// posts nothing and says nothing about it, token or not.
func TestGitHubNoOrigin(t *testing.T) {
	c := newGHCheckout(t, "")
	stdout, stderr, code := c.odu("run", "--progress", "plain")
	if code != 0 {
		t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "odu: run ") || !strings.Contains(stdout, " passed") {
		t.Errorf("the run did not say it passed:\n%s", stdout)
	}
	for _, word := range []string{"GitHub", "commit status", "origin", "token"} {
		if strings.Contains(stdout+stderr, word) {
			t.Errorf("the run's output mentions %q:\n%s\n%s", word, stdout, stderr)
		}
	}
	if reqs := c.gh.Requests(); len(reqs) != 0 {
		t.Errorf("GitHub got %d requests, want none", len(reqs))
	}
	out, _, _ := c.odu("status")
	if strings.Contains(out, "GitHub") {
		t.Errorf("odu status mentions GitHub:\n%s", out)
	}
}

// TestGitHub404StopsPosting: a repository the token cannot see answers
// 404, to the read of the commit's statuses as to a post. Posting stops
// for the run with one message, and the run goes on green.
func TestGitHub404StopsPosting(t *testing.T) {
	t.Run("repository", func(t *testing.T) {
		// octo/secret is not in the double: GitHub answers 404 for a
		// private repository the token cannot see, as for none.
		c := newGHCheckout(t, "https://github.com/octo/secret.git")
		stdout, stderr, code := c.odu("run", "--progress", "plain")
		if code != 0 {
			t.Fatalf("odu run exited %d, want 0:\n%s\n%s", code, stdout, stderr)
		}
		want := "odu: statuses are off for the rest of the run: GitHub answers 404 Not Found for octo/secret: the repository does not exist, or the token from GH_TOKEN cannot see it"
		if n := strings.Count(stderr, "statuses are off for the rest of the run"); n != 1 || !strings.Contains(stderr, want) {
			t.Errorf("stderr says %d times that posting stopped, want once: %q:\n%s", n, want, stderr)
		}
		if w := c.gh.Writes(); len(w) != 0 {
			t.Errorf("posted %q after a 404, want nothing", w)
		}
		c.checkNoToken(stdout, stderr)
	})
	t.Run("post", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		c.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: ghfake.Always,
			Answer: ghfake.ServerError(http.StatusNotFound)})
		stdout, stderr, code := c.odu("run", "--progress", "plain")
		if code != 0 {
			t.Fatalf("odu run exited %d, want 0:\n%s\n%s", code, stdout, stderr)
		}
		if n := strings.Count(stderr, "statuses are off for the rest of the run"); n != 1 || !strings.Contains(stderr, "404 Not Found for octo/hello") {
			t.Errorf("stderr says %d times that posting stopped, want once, with the 404:\n%s", n, stderr)
		}
		// Posts already in flight when the first 404 came may have been
		// sent, one per context at most; none is retried.
		if n := len(c.statusPosts()); n == 0 || n > len(ghNodes) {
			t.Errorf("%d statuses posted, want from 1 to %d (those in flight at the first 404)", n, len(ghNodes))
		}
		if !strings.Contains(stdout, "statuses never reached GitHub:") {
			t.Errorf("the summary does not list the owed statuses:\n%s", stdout)
		}
	})
}

// wideJustfile has eight nodes that may all be posted at once.
const wideJustfile = `[metadata("ci")]
ci: a b c d e f g h

a:
    @true
b:
    @true
c:
    @true
d:
    @true
e:
    @true
f:
    @true
g:
    @true
h:
    @true
`

// TestGitHubAtMostFourRequests holds every post GitHub gets: with eight
// contexts to post, four are in flight and no more, until the run has
// ended every node; released, every status reaches GitHub, and never
// more than four requests were in flight at once.
func TestGitHubAtMostFourRequests(t *testing.T) {
	c := newGHCheckoutOf(t, "https://github.com/octo/hello.git", wideJustfile)
	gate := ghfake.NewGate()
	c.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: ghfake.Always, Answer: ghfake.Hold(gate)})
	cmd := c.oduCmd("run", "--progress", "json")
	var out, errb strings.Builder
	cmd.Stderr = &errb
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The progress lines say when every node has ended.
	ended := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		succeeded := map[string]bool{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			var tr transition
			if json.Unmarshal(sc.Bytes(), &tr) == nil && tr.Event == "" && tr.Status == surface.Success {
				succeeded[tr.ID] = true
				if len(succeeded) == 8 {
					close(ended)
				}
			}
		}
	}()
	run := waitInBackground(t, cmd, read)
	defer gate.Release() // before the run is killed, at the test's end
	// Four posts in flight, or the run ended without four (it waits
	// --post-timeout for held posts, then gives up on them).
	ctx, cancel := run.context(t)
	err = c.gh.Await(ctx, func([]ghfake.Request) bool { return c.gh.InFlight() >= 4 })
	cancel()
	if err != nil {
		<-run.done
		t.Fatalf("GitHub never had four posts in flight (%d); the run: %v\n%s\n%s", c.gh.InFlight(), run.err, out.String(), errb.String())
	}
	// Every node ends while the four are held: the poster had every
	// context to post all along.
	select {
	case <-ended:
	case <-run.done:
		t.Fatalf("odu run ended (%v) before GitHub answered:\n%s\n%s", run.err, out.String(), errb.String())
	case <-t.Context().Done():
		t.Fatal("the test's deadline came before every node ended")
	}
	if n := c.gh.InFlight(); n != 4 {
		t.Errorf("%d requests in flight with every node ended and posts held, want 4", n)
	}
	c.gh.Clear()
	gate.Release()
	<-run.done
	if run.err != nil {
		t.Fatalf("odu run: %v\n%s", run.err, errb.String())
	}
	if n := c.gh.MaxInFlight(); n != 4 {
		t.Errorf("at most %d requests were in flight at once, want 4", n)
	}
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		got := c.repo.Sequence(c.sha, id+"@x86_64-linux")
		if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "success: ") {
			t.Errorf("%s: statuses %q, want them to end with its success", id, got)
		}
	}
}

// interruptJustfile: test runs until it is stopped, and lint waits for it.
const interruptJustfile = `[metadata("ci")]
ci: lint

build:
    @echo built

test: build
    @echo testing
    @sleep 600

lint: test
    @echo linting
`

// TestGitHubInterrupted sends Ctrl-C (SIGINT) to a real odu run while a
// node runs and another waits: their statuses become error
// "Interrupted", the finished node's stays, and the run exits 130.
func TestGitHubInterrupted(t *testing.T) {
	c := newGHCheckoutOf(t, "https://github.com/octo/hello.git", interruptJustfile)
	cmd := c.oduCmd("run", "--progress", "plain")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run := waitInBackground(t, cmd, nil)
	// Signal once GitHub has test's "Running" and build's success.
	ctx, cancel := run.context(t)
	has := func(id, status string) bool {
		got := c.repo.Sequence(c.sha, id)
		return len(got) > 0 && got[len(got)-1] == status
	}
	err := c.gh.Await(ctx, func([]ghfake.Request) bool {
		return has("test@x86_64-linux", "pending: Running") && strings.HasPrefix(lastOf(c, "build@x86_64-linux"), "success: ")
	})
	cancel()
	if err != nil {
		t.Fatalf("GitHub never had test running and build green (%v); the run: %v\n%s\n%s", err, run.err, out.String(), errb.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.done:
	case <-t.Context().Done():
		t.Fatal("odu run did not end after Ctrl-C before the test's deadline")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("odu run exited %d after Ctrl-C, want 130:\n%s\n%s", code, out.String(), errb.String())
	}
	for id, want := range map[string]string{
		"test@x86_64-linux": "error: Interrupted",
		"lint@x86_64-linux": "error: Interrupted",
	} {
		if got := lastOf(c, id); got != want {
			t.Errorf("%s's status on GitHub is %q, want %q (statuses: %q)", id, got, want, c.repo.Sequence(c.sha, id))
		}
	}
	if got := lastOf(c, "build@x86_64-linux"); !strings.HasPrefix(got, "success: Succeeded in ") {
		t.Errorf("build's status on GitHub is %q, want its success kept", got)
	}
	if strings.Contains(out.String(), "never reached GitHub") {
		t.Errorf("the summary says statuses never reached GitHub:\n%s", out.String())
	}
	c.checkNoToken(out.String(), errb.String())
}

// lastOf returns the latest status GitHub has for a context, "" for none.
func lastOf(c *ghCheckout, id string) string {
	got := c.repo.Sequence(c.sha, id)
	if len(got) == 0 {
		return ""
	}
	return got[len(got)-1]
}
