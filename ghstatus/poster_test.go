package ghstatus

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/ghfake"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

func TestMain(m *testing.M) { odutest.Main(m) }

const sha = "0123456789abcdef0123456789abcdef01234567"

// harness is a poster posting to a fresh GitHub double.
type harness struct {
	t    *testing.T
	gh   *ghfake.Server
	repo *ghfake.Repo
	p    *Poster

	mu    sync.Mutex
	logs  []string
	posts map[string][]surface.PostState
}

func newHarness(t *testing.T, token string) *harness { return newHarnessAt(t, token, sha) }

func newHarnessAt(t *testing.T, token, commit string) *harness {
	t.Helper()
	gh := ghfake.New(t)
	h := &harness{t: t, gh: gh, repo: gh.Repo("octo/hello"), posts: map[string][]surface.PostState{}}
	h.repo.AddCommit(sha)
	if token == "" {
		token = gh.Token
	}
	tg := Target{Host: "github.com", Owner: "octo", Repo: "hello", API: gh.URL(), Token: token, TokenFrom: "GH_TOKEN"}
	cl, err := NewClient(tg)
	if err != nil {
		t.Fatal(err)
	}
	h.p = NewPoster(Options{Client: cl, Target: tg, SHA: commit,
		Logf: func(f string, a ...any) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.logs = append(h.logs, fmt.Sprintf(f, a...))
		},
		OnChange: func(id string, ps surface.PostState) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.posts[id] = append(h.posts[id], ps)
		},
	})
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	h.p.Start(ctx)
}

// flush flushes with a deadline far beyond what a passing test needs.
func (h *harness) flush(final []surface.Node, interrupted bool) []Owed {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return h.p.Flush(ctx, final, interrupted)
}

func (h *harness) postsSent() []ghfake.Request {
	var out []ghfake.Request
	for _, r := range h.gh.Requests() {
		if r.Method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

func node(id string, s surface.Status, ms int64) surface.Node {
	n := surface.Node{ID: id, Status: s, DurationMS: ms, Attempt: 1}
	if s == surface.Failure {
		code := 2
		n.ExitCode = &code
	}
	if s == surface.Skipped {
		n.Reason = "build@x86_64-linux did not succeed"
	}
	return n
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestPosterPostsEveryTransition(t *testing.T) {
	h := newHarness(t, "")
	h.start()
	h.p.Update(node("build@x86_64-linux", surface.Pending, 0))
	h.p.Update(node("test@x86_64-linux", surface.Pending, 0))
	h.p.Update(node("build@x86_64-linux", surface.Running, 0))
	final := []surface.Node{node("build@x86_64-linux", surface.Failure, 12_300), node("test@x86_64-linux", surface.Skipped, 0)}
	if owed := h.flush(final, false); len(owed) != 0 {
		t.Errorf("Flush owes %v, want nothing", owed)
	}
	// Waiting and Running may be coalesced away: the last status is what
	// must be there, once.
	got := h.repo.Sequence(sha, "build@x86_64-linux")
	if len(got) == 0 || got[len(got)-1] != "failure: Failed in 12s (exit 2)" {
		t.Errorf("build's statuses = %q, want them to end with the failure", got)
	}
	if got := h.repo.Sequence(sha, "test@x86_64-linux"); got[len(got)-1] != "error: Skipped: build@x86_64-linux did not succeed" {
		t.Errorf("test's statuses = %q, want them to end skipped", got)
	}
	for _, id := range []string{"build@x86_64-linux", "test@x86_64-linux"} {
		ps := h.posts[id]
		if last := ps[len(ps)-1]; !last.Posted {
			t.Errorf("%s's last posting state = %+v, want posted", id, last)
		}
	}
}

func TestPosterCoalescesWhileAPostIsInFlight(t *testing.T) {
	h := newHarness(t, "")
	gate := ghfake.NewGate()
	h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Answer: ghfake.Hold(gate)})
	h.start()
	id := "build@x86_64-linux"
	h.p.Update(node(id, surface.Running, 0))
	<-gate.Arrived() // "Running" is in flight
	h.p.Update(node(id, surface.Success, 1500))
	h.p.Update(node(id, surface.Pending, 0)) // a rerun
	h.p.Update(node(id, surface.Running, 0))
	h.p.Update(node(id, surface.Failure, 62_000))
	gate.Release()
	h.flush(nil, false)
	want := []string{"pending: Running", "failure: Failed in 1m2s (exit 2)"}
	if got := h.repo.Sequence(sha, id); !equal(got, want) {
		t.Errorf("statuses = %q, want %q: what came while a post was in flight is coalesced to the latest", got, want)
	}
}

func TestPosterDoesNotRepostWhatGitHubHas(t *testing.T) {
	h := newHarness(t, "")
	h.repo.SetStatus(sha, "success", "build@x86_64-linux", "Succeeded in 2s")
	h.repo.SetStatus(sha, "success", "test@x86_64-linux", "Succeeded in 3s")
	h.start()
	h.p.Update(node("build@x86_64-linux", surface.Pending, 0))
	h.p.Update(node("test@x86_64-linux", surface.Pending, 0))
	h.flush([]surface.Node{node("build@x86_64-linux", surface.Success, 1500), node("test@x86_64-linux", surface.Success, 4000)}, false)
	if got, want := h.gh.Writes(), []string{"POST /repos/octo/hello/statuses/" + sha}; !equal(got, want) {
		t.Errorf("writes = %q, want %q: only test's new status", got, want)
	}
	if got := h.repo.Sequence(sha, "test@x86_64-linux"); got[len(got)-1] != "success: Succeeded in 4s" {
		t.Errorf("test's statuses = %q", got)
	}
}

// TestPosterReadsWhatGitHubHasAfterARateLimit: when the first read of
// the commit's statuses meets a rate limit, the poster waits it out and
// reads again, rather than posting "Waiting" over a status GitHub has.
func TestPosterReadsWhatGitHubHasAfterARateLimit(t *testing.T) {
	h := newHarness(t, "")
	h.repo.SetStatus(sha, "success", "build@x86_64-linux", "Succeeded in 2s")
	h.gh.Fail(ghfake.Fault{Method: "GET", Path: "/repos/octo/hello/commits/", Answer: ghfake.RetryAfter(http.StatusTooManyRequests, 1)})
	h.start()
	h.p.Update(node("build@x86_64-linux", surface.Pending, 0))
	h.flush([]surface.Node{node("build@x86_64-linux", surface.Pending, 0)}, false)
	if got := h.repo.Sequence(sha, "build@x86_64-linux"); !equal(got, []string{"success: Succeeded in 2s"}) {
		t.Errorf("build's statuses = %q, want only the success it had", got)
	}
	var gets []int
	for _, r := range h.gh.Requests() {
		if r.Method == http.MethodGet {
			gets = append(gets, r.Status)
		}
	}
	if len(gets) != 2 || gets[0] != http.StatusTooManyRequests || gets[1] != http.StatusOK {
		t.Errorf("reads answered %v, want 429 and then 200", gets)
	}
}

func TestPosterRetries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func() ghfake.Answer
	}{
		{"502", func() ghfake.Answer { return ghfake.ServerError(http.StatusBadGateway) }},
		{"secondary 403 with Retry-After", func() ghfake.Answer { return ghfake.RetryAfter(http.StatusForbidden, 1) }},
		{"429 with Retry-After", func() ghfake.Answer { return ghfake.RetryAfter(http.StatusTooManyRequests, 1) }},
		{"primary limit spent", func() ghfake.Answer { return ghfake.RateLimited(time.Now().Add(1500 * time.Millisecond)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Answer: tc.answer()})
			h.start()
			h.p.Update(node("build@x86_64-linux", surface.Success, 1000))
			if owed := h.flush(nil, false); len(owed) != 0 {
				t.Fatalf("Flush owes %+v, want nothing", owed)
			}
			posts := h.postsSent()
			if len(posts) != 2 || posts[0].Status < 400 || posts[1].Status != http.StatusCreated {
				var codes []int
				for _, r := range posts {
					codes = append(codes, r.Status)
				}
				t.Errorf("posts answered %v, want a refusal and then 201", codes)
			}
			if got := h.repo.Sequence(sha, "build@x86_64-linux"); !equal(got, []string{"success: Succeeded in 1s"}) {
				t.Errorf("statuses = %q", got)
			}
		})
	}
}

func TestPosterOwesWhatTheAPINeverTook(t *testing.T) {
	h := newHarness(t, "")
	h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: ghfake.Always,
		Answer: ghfake.ServerError(http.StatusServiceUnavailable)})
	h.start()
	h.p.Update(node("build@x86_64-linux", surface.Running, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	owed := h.p.Flush(ctx, []surface.Node{node("build@x86_64-linux", surface.Success, 2000)}, false)
	if len(owed) != 1 || owed[0].ID != "build@x86_64-linux" || owed[0].Status.State != "success" || owed[0].Error == "" {
		t.Fatalf("Flush owes %+v, want build's success", owed)
	}
	ps := h.posts["build@x86_64-linux"]
	if last := ps[len(ps)-1]; last.Posted || last.State != "success" || last.Error == "" {
		t.Errorf("last posting state = %+v, want success owed with an error", last)
	}
}

func TestPosterStopsOnceOnABadToken(t *testing.T) {
	h := newHarness(t, "ghp_wrong")
	h.start()
	for _, id := range []string{"a@x86_64-linux", "b@x86_64-linux", "c@x86_64-linux"} {
		h.p.Update(node(id, surface.Running, 0))
	}
	owed := h.flush([]surface.Node{node("a@x86_64-linux", surface.Success, 1)}, false)
	if len(owed) != 3 {
		t.Errorf("Flush owes %d statuses, want 3", len(owed))
	}
	if len(h.logs) != 1 || !strings.Contains(h.logs[0], "401 Bad credentials") || !strings.Contains(h.logs[0], "GH_TOKEN") {
		t.Errorf("messages = %q, want one that says GitHub refused the token from GH_TOKEN", h.logs)
	}
	if n := len(h.postsSent()); n > 1 {
		t.Errorf("%d posts after a 401, want at most 1", n)
	}
}

func TestPosterStopsOnceOnAMissingPermission(t *testing.T) {
	h := newHarness(t, "")
	h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: ghfake.Always,
		Answer: ghfake.Forbidden("Resource not accessible by personal access token", "statuses=write")})
	h.start()
	for _, id := range []string{"a@x86_64-linux", "b@x86_64-linux", "c@x86_64-linux"} {
		h.p.Update(node(id, surface.Success, 1))
	}
	owed := h.flush(nil, false)
	if len(owed) != 3 {
		t.Errorf("Flush owes %d statuses, want 3", len(owed))
	}
	if len(h.logs) != 1 || !strings.Contains(h.logs[0], "statuses=write") {
		t.Errorf("messages = %q, want one naming the missing permission", h.logs)
	}
	// Workers that had a post in flight when the first 403 came may
	// have sent theirs; none is sent after.
	if n := len(h.postsSent()); n > workers {
		t.Errorf("%d posts, want at most %d", n, workers)
	}
}

func TestPosterStopsOnAnUnpushedCommit(t *testing.T) {
	h := newHarnessAt(t, "", strings.Repeat("f", 40))
	h.start()
	h.p.Update(node("a@x86_64-linux", surface.Success, 1))
	h.flush(nil, false)
	if len(h.logs) != 1 || !strings.Contains(h.logs[0], "does not know commit ffffff") {
		t.Errorf("messages = %q, want one saying the commit is unknown", h.logs)
	}
}

func TestPosterInterrupted(t *testing.T) {
	h := newHarness(t, "")
	h.start()
	h.p.Update(node("a@x86_64-linux", surface.Running, 0))
	h.p.Update(node("b@x86_64-linux", surface.Pending, 0))
	h.p.Update(node("c@x86_64-linux", surface.Success, 1000))
	h.flush(nil, true)
	for id, want := range map[string]string{"a@x86_64-linux": "error: Interrupted", "b@x86_64-linux": "error: Interrupted", "c@x86_64-linux": "success: Succeeded in 1s"} {
		got := h.repo.Sequence(sha, id)
		if len(got) == 0 || got[len(got)-1] != want {
			t.Errorf("%s's statuses = %q, want them to end %q", id, got, want)
		}
	}
}

func TestPosterNeverSaysTheToken(t *testing.T) {
	h := newHarness(t, "")
	h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: 3,
		Answer: ghfake.ServerError(http.StatusInternalServerError)})
	h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/",
		Answer: ghfake.Forbidden("Resource not accessible by integration", "")})
	h.start()
	h.p.Update(node("a@x86_64-linux", surface.Success, 1))
	owed := h.flush(nil, false)
	all := fmt.Sprint(h.logs, h.posts, owed)
	if strings.Contains(all, h.gh.Token) {
		t.Errorf("the token appears in what the poster said: %s", all)
	}
	for _, r := range h.gh.Requests() {
		if strings.Contains(string(r.Body), h.gh.Token) || strings.Contains(r.Path, h.gh.Token) {
			t.Errorf("the token appears in a request's body or path: %s %s", r.Method, r.Path)
		}
	}
}

// A follower of the run's cell that lags behind its end (the race
// detector, a loaded machine) may bring "running" after Flush took the
// final nodes: it must not take the verdict back on GitHub.
func TestPosterFinalNodesWinOverALaggingFollower(t *testing.T) {
	h := newHarness(t, "")
	gate := ghfake.NewGate()
	h.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Answer: ghfake.Hold(gate)})
	h.start()
	id := "build@x86_64-linux"
	h.p.Update(node(id, surface.Pending, 0))
	<-gate.Arrived() // "Waiting" is in flight
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		h.flush([]surface.Node{node(id, surface.Success, 1500)}, false)
	}()
	// Flush has taken the final nodes once its want is visible.
	deadline := time.After(time.Minute)
	for len(h.postStates(id)) == 0 || h.postStates(id)[len(h.postStates(id))-1].State != "success" {
		select {
		case <-deadline:
			t.Fatalf("Flush never took the final success")
		case <-time.After(time.Millisecond):
		}
	}
	h.p.Update(node(id, surface.Running, 0)) // the lagging follower
	gate.Release()
	<-flushed
	want := []string{"pending: Waiting", "success: Succeeded in 2s"}
	if got := h.repo.Sequence(sha, id); !equal(got, want) {
		t.Errorf("statuses = %q, want %q: news older than the final nodes is not posted", got, want)
	}
}

// postStates returns the posting states OnChange told of id so far.
func (h *harness) postStates(id string) []surface.PostState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.posts[id])
}

// TestPosterInterruptCancels: after Interrupt, a node the run stops (it
// ends cancelled) is posted "Interrupted", and a node cancelled before
// the interrupt (odu cancel) stays "Cancelled".
func TestPosterInterruptCancels(t *testing.T) {
	h := newHarness(t, "")
	h.start()
	h.p.Update(node("early@x86_64-linux", surface.Running, 0))
	h.p.Update(node("early@x86_64-linux", surface.Cancelled, 10))
	h.p.Update(node("a@x86_64-linux", surface.Running, 0))
	h.p.Update(node("b@x86_64-linux", surface.Pending, 0))
	h.p.Interrupt()
	final := []surface.Node{
		node("early@x86_64-linux", surface.Cancelled, 10),
		node("a@x86_64-linux", surface.Cancelled, 20),
		node("b@x86_64-linux", surface.Cancelled, 0),
	}
	for _, n := range final {
		h.p.Update(n)
	}
	if owed := h.flush(final, true); len(owed) != 0 {
		t.Errorf("Flush owes %v, want nothing", owed)
	}
	for id, want := range map[string]string{"early@x86_64-linux": "error: Cancelled", "a@x86_64-linux": "error: Interrupted", "b@x86_64-linux": "error: Interrupted"} {
		got := h.repo.Sequence(sha, id)
		if len(got) == 0 || got[len(got)-1] != want {
			t.Errorf("%s's statuses = %q, want them to end %q", id, got, want)
		}
		if slices.Contains(got, "error: Cancelled") && want != "error: Cancelled" {
			t.Errorf("%s's statuses = %q: Cancelled posted for a node the interrupt stopped", id, got)
		}
	}
}
