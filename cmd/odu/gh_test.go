package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/ghfake"
	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/surface"
)

// ghJustfile is a small pipeline: build, then test and lint. Every
// recipe prints its environment, so a token that reached a lane would be
// in its log. build waits, when $ODU_TEST_HOLD is set, until that file
// exists (a minute at most; see [ghCheckout.holdBuild]).
const ghJustfile = `[metadata("ci")]
ci: test lint

build:
    #!/bin/sh
    i=0
    while [ -n "$ODU_TEST_HOLD" ] && [ ! -e "$ODU_TEST_HOLD" ]; do
        i=$((i+1)); [ $i -lt 3000 ] || { echo "$ODU_TEST_HOLD never came"; exit 3; }
        sleep 0.02
    done
    env | sort

test: build
    @env | sort

lint: build
    @env | sort
`

var ghNodes = []string{"build@x86_64-linux", "test@x86_64-linux", "lint@x86_64-linux"}

// ghCheckout is a git checkout whose origin is a GitHub repository that
// a GitHub double serves.
type ghCheckout struct {
	t    *testing.T
	bin  string
	dir  string
	env  []string
	gh   *ghfake.Server
	repo *ghfake.Repo
	sha  string
}

func newGHCheckout(t *testing.T, origin string) *ghCheckout {
	t.Helper()
	return newGHCheckoutOf(t, origin, ghJustfile)
}

// newGHCheckoutOf is [newGHCheckout] with another justfile.
func newGHCheckoutOf(t *testing.T, origin, justfile string) *ghCheckout {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	home, dir := t.TempDir(), t.TempDir()
	c := &ghCheckout{t: t, bin: bin, dir: dir, gh: ghfake.New(t)}
	c.repo = c.gh.Repo("octo/hello")
	c.env = append(odutest.GitEnv(home), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CACHE_HOME="+t.TempDir(), "GORACE="+os.Getenv("GORACE"), "TMPDIR="+os.TempDir(),
		"GITHUB_API_URL="+c.gh.URL(), "GH_TOKEN="+c.gh.Token)
	if err := os.WriteFile(filepath.Join(dir, "justfile"), []byte(justfile), 0o644); err != nil {
		t.Fatal(err)
	}
	c.git("init", "-q", "-b", "main")
	c.git("add", "-A")
	c.git("commit", "-q", "-m", "ci")
	if origin != "" {
		c.git("remote", "add", "origin", origin)
	}
	c.sha = strings.TrimSpace(c.git("rev-parse", "HEAD"))
	c.repo.AddCommit(c.sha) // as if pushed
	return c
}

func (c *ghCheckout) git(args ...string) string {
	c.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// setenv replaces or, with value "", removes a variable.
func (c *ghCheckout) setenv(k, v string) {
	var env []string
	for _, kv := range c.env {
		if !strings.HasPrefix(kv, k+"=") {
			env = append(env, kv)
		}
	}
	if v != "" {
		env = append(env, k+"="+v)
	}
	c.env = env
}

// odu runs odu in the checkout and returns its stdout, stderr and exit
// code.
func (c *ghCheckout) odu(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := c.oduCmd(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		c.t.Fatalf("odu %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

func (c *ghCheckout) oduCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, "odu"), args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	return cmd
}

// holdBuild makes the next run's build wait until GitHub has answered
// the poster's read of the commit's statuses, after which the poster
// posts: test and lint, which wait for build, are then still pending,
// however slow the machine, and must be posted "Waiting". The returned
// function ends the wait for GitHub's answer; call it after the run.
func (c *ghCheckout) holdBuild() (done func()) {
	read := "/repos/octo/hello/commits/" + c.sha + "/status"
	return c.holdBuildUntil(func(reqs []ghfake.Request) bool {
		for _, r := range reqs {
			if r.Method == http.MethodGet && r.Path == read && r.Status != 0 {
				return true
			}
		}
		return false
	})
}

// holdBuildUntil is [ghCheckout.holdBuild] with build held until GitHub
// has seen what until says.
func (c *ghCheckout) holdBuildUntil(until func([]ghfake.Request) bool) (done func()) {
	c.t.Helper()
	file := filepath.Join(c.t.TempDir(), "go")
	c.setenv("ODU_TEST_HOLD", file)
	ctx, cancel := context.WithCancel(c.t.Context())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err := c.gh.Await(ctx, until)
		if err == nil {
			err = os.WriteFile(file, nil, 0o644)
		}
		if err != nil && ctx.Err() == nil {
			c.t.Errorf("let build go on: %v", err)
		}
	}()
	return func() {
		cancel()
		<-finished
		c.setenv("ODU_TEST_HOLD", "")
	}
}

func (c *ghCheckout) statusPosts() []ghfake.Request {
	var out []ghfake.Request
	for _, r := range c.gh.Requests() {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/repos/octo/hello/statuses/") {
			out = append(out, r)
		}
	}
	return out
}

// checkSequence checks that a context's statuses on GitHub went the way
// a green node goes (pending statuses, then its success) with none posted
// twice in a row.
func (c *ghCheckout) checkSequence(id string) {
	c.t.Helper()
	got := c.repo.Sequence(c.sha, id)
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "success: Succeeded in ") {
		c.t.Errorf("%s: statuses %q, want them to end with its success", id, got)
		return
	}
	// The first run of a commit posts every node still pending "Waiting"
	// at its start, so the commit shows the whole pipeline at once: test
	// and lint wait for build, which waits for the poster (holdBuild).
	// build itself may have started by then.
	if id != ghNodes[0] && got[0] != "pending: Waiting" {
		c.t.Errorf("%s: statuses %q, want them to start with pending: Waiting", id, got)
	}
	rank := map[string]int{"pending: Waiting": 0, "pending: Running": 1}
	last := -1
	for i, s := range got[:len(got)-1] {
		r, ok := rank[s]
		if !ok || r <= last {
			c.t.Errorf("%s: statuses %q: %q at %d is out of order or repeated", id, got, s, i)
		}
		last = r
	}
}

// checkNoToken fails if the token is in any file under .ci or in out. It
// fails too if the walk cannot read a file, or finds no node's log: a
// check that looked at nothing.
func (c *ghCheckout) checkNoToken(outs ...string) {
	c.t.Helper()
	for _, o := range outs {
		if strings.Contains(o, c.gh.Token) {
			c.t.Errorf("the token appears in odu's output:\n%s", o)
		}
	}
	logs := 0
	err := filepath.WalkDir(filepath.Join(c.dir, ".ci"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".log") {
			logs++
		}
		if bytes.Contains(data, []byte(c.gh.Token)) {
			c.t.Errorf("the token appears in %s", p)
		}
		return nil
	})
	if err != nil {
		c.t.Errorf("look for the token under .ci: %v", err)
	}
	if logs == 0 {
		c.t.Errorf("found no log under .ci: the token was looked for in none")
	}
}

// checkNodes fails unless nodes are exactly the pipeline's, so that a
// loop over them cannot pass by seeing none.
func checkNodes(t *testing.T, what string, nodes []surface.Node) {
	t.Helper()
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	want := slices.Sorted(slices.Values(ghNodes))
	if !slices.Equal(ids, want) {
		t.Errorf("%s has nodes %q, want %q", what, ids, want)
	}
}

func TestGitHubStrictRunPostsEveryNode(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	held := c.holdBuild()
	stdout, stderr, code := c.odu("run", "--progress", "json")
	held()
	if code != 0 {
		t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "posting commit statuses to github.com/octo/hello (token from GH_TOKEN)"); n != 1 {
		t.Errorf("stderr says where statuses go %d times, want once:\n%s", n, stderr)
	}
	for _, id := range ghNodes {
		c.checkSequence(id)
	}
	// --progress json says when each status reached GitHub.
	posted := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var tr transition
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("a progress line is not JSON: %q", line)
		}
		if tr.Event == "github" && tr.GitHub != nil && tr.GitHub.Posted && tr.GitHub.State == "success" {
			posted[tr.Node] = true
		}
	}
	for _, id := range ghNodes {
		if !posted[id] {
			t.Errorf("no progress line says %s's success reached GitHub:\n%s", id, stdout)
		}
	}
	// So do odu status -o json and the record.
	out, _, _ := c.odu("status", "-o", "json")
	var st surface.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	checkNodes(t, "odu status -o json", st.Nodes)
	for _, n := range st.Nodes {
		if n.Post == nil || !n.Post.Posted || n.Post.State != "success" {
			t.Errorf("odu status -o json: %s's post = %+v, want success posted", n.ID, n.Post)
		}
	}
	out, _, _ = c.odu("status")
	if !strings.Contains(out, "GitHub: 3 of 3 commit statuses posted") {
		t.Errorf("odu status does not say the statuses were posted:\n%s", out)
	}
	// The lanes never saw the token: their logs list their environment.
	log, err := os.ReadFile(filepath.Join(c.dir, ".ci", c.sha, "x86_64-linux", "build.log"))
	if err != nil || !bytes.Contains(log, []byte("ODU_NODE=build@x86_64-linux")) {
		t.Fatalf("build's log does not list its environment (%v):\n%s", err, log)
	}
	c.checkNoToken(stdout, stderr, out)

	// A second run of the same commit posts no status GitHub already has.
	before := len(c.statusPosts())
	if _, stderr, code := c.odu("run", "--progress", "plain"); code != 0 {
		t.Fatalf("second odu run exited %d:\n%s", code, stderr)
	}
	for _, id := range ghNodes {
		got := c.repo.Sequence(c.sha, id)
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				t.Errorf("%s: statuses %q: %q posted twice in a row", id, got, got[i])
			}
		}
	}
	for _, r := range c.statusPosts()[before:] {
		if bytes.Contains(r.Body, []byte(`"Waiting"`)) {
			t.Errorf("the second run posted Waiting over the first run's verdict: %s", r.Body)
		}
	}
}

func TestGitHubCoalescesUnderASlowAPI(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	gate := ghfake.NewGate()
	c.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: ghfake.Always, Answer: ghfake.Hold(gate)})
	held := c.holdBuild()
	defer held()
	cmd := c.oduCmd("run", "--progress", "plain")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run := waitInBackground(t, cmd, nil)
	defer gate.Release() // before the run is killed, at the test's end
	<-gate.Arrived()
	// The run goes on while GitHub holds every post: wait until every
	// node finished, as odu status shows it.
	for {
		sout, _, _ := c.odu("status", "-o", "json")
		var st surface.State
		if json.Unmarshal([]byte(sout), &st) == nil && len(st.Nodes) == 3 && green(st) {
			break
		}
		select {
		case <-run.done:
			t.Fatalf("odu run ended (%v) before GitHub answered:\n%s\n%s", run.err, out.String(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	c.gh.Clear()
	gate.Release()
	<-run.done
	if run.err != nil {
		t.Fatalf("odu run: %v\n%s", run.err, errb.String())
	}
	for _, id := range ghNodes {
		c.checkSequence(id)
		if got := c.repo.Sequence(c.sha, id); len(got) > 2 {
			t.Errorf("%s: statuses %q: what came while a post was held should have been coalesced to the last", id, got)
		}
	}
}

func TestGitHubRetries(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	c.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Answer: ghfake.ServerError(http.StatusBadGateway)})
	c.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Answer: ghfake.RetryAfter(http.StatusTooManyRequests, 1)})
	// A failure pauses every poster worker (a 5xx backs off, a 429 waits
	// its Retry-After), so under load test and lint may be posted only
	// after the pause: build is held until GitHub has answered a post of
	// each, which must then be "Waiting".
	held := c.holdBuildUntil(func(reqs []ghfake.Request) bool {
		answered := map[string]bool{}
		for _, r := range reqs {
			var st struct{ Context string }
			if r.Method == http.MethodPost && r.Status != 0 && json.Unmarshal(r.Body, &st) == nil {
				answered[st.Context] = true
			}
		}
		return answered[ghNodes[1]] && answered[ghNodes[2]]
	})
	stdout, stderr, code := c.odu("run", "--progress", "plain")
	held()
	if code != 0 {
		t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	var codes []int
	for _, r := range c.statusPosts() {
		codes = append(codes, r.Status)
	}
	if len(codes) < 3 || codes[0] != http.StatusBadGateway || codes[1] != http.StatusTooManyRequests {
		t.Errorf("status posts answered %v, want a 502, a 429, then the rest", codes)
	}
	// A post that failed is retried with the context's latest state, so
	// a Waiting GitHub refused may never show; but it was sent first for
	// each node still pending when the poster began.
	for _, id := range ghNodes {
		got := c.repo.Sequence(c.sha, id)
		if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "success: Succeeded in ") {
			t.Errorf("%s: statuses %q, want them to end with its success", id, got)
		}
		var first struct{ State, Description, Context string }
		for _, r := range c.statusPosts() {
			if json.Unmarshal(r.Body, &first) == nil && first.Context == id {
				break
			}
			first.Context = ""
		}
		if id != ghNodes[0] && (first.Context != id || first.State != "pending" || first.Description != "Waiting") {
			t.Errorf("%s: its first status sent was %+v, want pending: Waiting", id, first)
		}
	}
}

func TestGitHubOwedWhenTheAPIStaysDown(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	c.gh.Fail(ghfake.Fault{Method: "POST", Path: "/repos/octo/hello/statuses/", Times: ghfake.Always,
		Answer: ghfake.ServerError(http.StatusServiceUnavailable)})
	stdout, stderr, code := c.odu("run", "--progress", "plain", "--post-timeout", "2s")
	if code != 0 {
		t.Fatalf("odu run exited %d, want 0 (GitHub being down does not fail a run):\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "odu: 3 statuses never reached GitHub:") ||
		!strings.Contains(stdout, "503 Service Unavailable") {
		t.Errorf("the summary does not list the owed statuses:\n%s", stdout)
	}
	rec := filepath.Join(c.dir, ".ci", c.sha, "runs", "1.json")
	data, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	var st surface.State
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	checkNodes(t, "the record", st.Nodes)
	for _, n := range st.Nodes {
		if n.Post == nil || n.Post.Posted || n.Post.State != "success" || n.Post.Attempts == 0 || n.Post.Error == "" {
			t.Errorf("the record's %s post = %+v, want success owed, with attempts and an error", n.ID, n.Post)
		}
	}
	out, _, _ := c.odu("status")
	if !strings.Contains(out, "GitHub: 0 of 3 commit statuses posted") || !strings.Contains(out, "3 statuses never reached GitHub") {
		t.Errorf("odu status does not show the owed statuses:\n%s", out)
	}
	c.checkNoToken(stdout, stderr, out)
}

func TestGitHubBadTokenStopsPostingOnce(t *testing.T) {
	c := newGHCheckout(t, "git@github.com:octo/hello.git")
	c.setenv("GH_TOKEN", "")
	c.setenv("GITHUB_TOKEN", "ghp_revoked")
	stdout, stderr, code := c.odu("run", "--progress", "plain")
	if code != 0 {
		t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "statuses are off for the rest of the run"); n != 1 || !strings.Contains(stderr, "GITHUB_TOKEN (401 Bad credentials)") {
		t.Errorf("stderr says %d times that posting stopped, want once, naming GITHUB_TOKEN and the 401:\n%s", n, stderr)
	}
	if strings.Contains(stderr+stdout, "ghp_revoked") {
		t.Errorf("the token appears in odu's output")
	}
	if n := len(c.statusPosts()); n > 0 {
		t.Errorf("%d statuses posted after a 401, want none", n)
	}
}

func TestGitHubOff(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		args         []string
		noToken      bool
		want         string
	}{
		{"no-post", "https://github.com/octo/hello", []string{"--no-post"}, false, "odu: commit statuses are off (--no-post)"},
		{"no-strict", "https://github.com/octo/hello", []string{"--no-strict"}, false, "odu: commit statuses are off (--no-strict)"},
		{"not GitHub", "https://gitlab.com/octo/hello.git", nil, false, `odu: commit statuses are off: remote "origin" is on gitlab.com, which is not GitHub`},
		{"no token", "ssh://git@github.com/octo/hello.git", nil, true, "odu: commit statuses are off: no GitHub token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newGHCheckout(t, tc.origin)
			// GITHUB_API_URL stays set (at the double), as in GitHub
			// Actions: it does not make another forge GitHub.
			if tc.noToken {
				c.setenv("GH_TOKEN", "")
			}
			_, stderr, code := c.odu(append([]string{"run", "--progress", "plain"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("odu run exited %d:\n%s", code, stderr)
			}
			if n := strings.Count(stderr, tc.want); n != 1 {
				t.Errorf("stderr says %q %d times, want once:\n%s", tc.want, n, stderr)
			}
			if reqs := c.gh.Requests(); len(reqs) != 0 {
				t.Errorf("GitHub got %d requests, want none", len(reqs))
			}
		})
	}
}

// statusRuleset is a repository ruleset that requires checks for main,
// beside another rule protect must leave alone.
const statusRuleset = `{"name": "main", "target": "branch", "enforcement": "active",
 "bypass_actors": [{"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}],
 "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
 "rules": [
  {"type": "pull_request", "parameters": {"required_approving_review_count": 1, "dismiss_stale_reviews_on_push": false,
   "require_code_owner_review": false, "require_last_push_approval": false, "required_review_thread_resolution": false,
   "allowed_merge_methods": ["squash"]}},
  {"type": "required_status_checks", "parameters": {"strict_required_status_checks_policy": true, "do_not_enforce_on_create": false,
   "required_status_checks": [{"context": "build@x86_64-linux", "integration_id": 42}, {"context": "build-and-test (ubuntu-latest)"}]}}
 ]}`

func TestProtectRuleset(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	id := c.repo.AddRuleset(statusRuleset)
	before := c.repo.Ruleset(id)

	stdout, stderr, code := c.odu("protect", "--dry-run")
	if code != 0 {
		t.Fatalf("odu protect --dry-run exited %d:\n%s", code, stderr)
	}
	for _, want := range []string{`octo/hello, branch main: ruleset "main"`, "\n+ lint@x86_64-linux\n", "\n+ test@x86_64-linux\n",
		"\n- build-and-test (ubuntu-latest)\n", "\n1 unchanged\n", "Dry run: nothing changed."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("odu protect --dry-run does not say %q:\n%s", want, stdout)
		}
	}
	if w := c.gh.Writes(); len(w) != 0 || c.repo.Ruleset(id) != before {
		t.Errorf("a dry run wrote %q", w)
	}

	if stdout, stderr, code = c.odu("protect"); code != 0 {
		t.Fatalf("odu protect exited %d:\n%s\n%s", code, stdout, stderr)
	}
	var rs struct {
		Name         string
		Enforcement  string
		BypassActors []any `json:"bypass_actors"`
		Conditions   any
		Rules        []struct {
			Type       string
			Parameters map[string]any
		}
	}
	if err := json.Unmarshal([]byte(c.repo.Ruleset(id)), &rs); err != nil {
		t.Fatal(err)
	}
	if rs.Name != "main" || rs.Enforcement != "active" || len(rs.BypassActors) != 1 || len(rs.Rules) != 2 ||
		rs.Rules[0].Parameters["allowed_merge_methods"] == nil {
		t.Errorf("protect changed more than the checks: %s", c.repo.Ruleset(id))
	}
	p := rs.Rules[1].Parameters
	data, _ := json.Marshal(p["required_status_checks"])
	if got, want := string(data), `[{"context":"build@x86_64-linux","integration_id":42},{"context":"lint@x86_64-linux"},{"context":"test@x86_64-linux"}]`; got != want {
		t.Errorf("required checks = %s, want %s", got, want)
	}
	if p["strict_required_status_checks_policy"] != true || p["do_not_enforce_on_create"] != false {
		t.Errorf("the rule's other parameters changed: %v", p)
	}
	// Run again: in sync, nothing written.
	n := len(c.gh.Writes())
	if stdout, _, code = c.odu("protect"); code != 0 || !strings.Contains(stdout, "In sync") || len(c.gh.Writes()) != n {
		t.Errorf("a second odu protect exited %d, wrote %d times:\n%s", code, len(c.gh.Writes())-n, stdout)
	}
}

func TestProtectClassic(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	c.repo.AddBranch("release", "")
	c.repo.Protect("release", &ghfake.Protection{RequiredReviews: 2, RequiredChecks: &ghfake.RequiredChecks{
		Strict: true, Checks: []ghfake.Check{{Context: "ci/old"}, {Context: "test@x86_64-linux", AppID: 7}},
	}})
	// github-actions last posted build's status (a workflow's token): a
	// check whose update omits its app would be pinned to that app, and
	// odu's own statuses would no longer satisfy it.
	c.repo.SetProvider("build@x86_64-linux", 15368)
	stdout, stderr, code := c.odu("protect", "--branch", "release", "--platform", "x86_64-linux")
	if code != 0 {
		t.Fatalf("odu protect exited %d:\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "branch release: classic branch protection") || !strings.Contains(stdout, "- ci/old") {
		t.Errorf("output:\n%s", stdout)
	}
	p := c.repo.Protection("release")
	got := fmt.Sprint(p.RequiredChecks.Checks)
	if want := "[{build@x86_64-linux 0} {lint@x86_64-linux 0} {test@x86_64-linux 7}]"; got != want || !p.RequiredChecks.Strict || p.RequiredReviews != 2 {
		t.Errorf("protection = %+v, checks %s, want %s, strict and reviews kept", p, got, want)
	}
}

func TestProtectNowhere(t *testing.T) {
	c := newGHCheckout(t, "https://github.com/octo/hello.git")
	stdout, stderr, code := c.odu("protect")
	if code != 1 || !strings.Contains(stderr, "neither a ruleset nor classic protection requires status checks for branch main") ||
		!strings.Contains(stderr, "odu protect --create") {
		t.Errorf("odu protect exited %d, want 1 with how to create one:\n%s\n%s", code, stdout, stderr)
	}
	if w := c.gh.Writes(); len(w) != 0 {
		t.Errorf("writes = %q, want none", w)
	}
	if stdout, stderr, code = c.odu("protect", "--create"); code != 0 {
		t.Fatalf("odu protect --create exited %d:\n%s\n%s", code, stdout, stderr)
	}
	ids := c.repo.Rulesets()
	if len(ids) != 1 {
		t.Fatalf("%d rulesets, want 1", len(ids))
	}
	want := `{"bypass_actors":[],"conditions":{"ref_name":{"exclude":[],"include":["refs/heads/main"]}},"enforcement":"active","name":"odu: required statuses",` +
		`"rules":[{"parameters":{"required_status_checks":[{"context":"build@x86_64-linux"},{"context":"lint@x86_64-linux"},{"context":"test@x86_64-linux"}],` +
		`"strict_required_status_checks_policy":false},"type":"required_status_checks"}],"target":"branch"}`
	if got := c.repo.Ruleset(ids[0]); got != want {
		t.Errorf("ruleset = %s\nwant %s", got, want)
	}
	if stdout, _, code = c.odu("protect"); code != 0 || !strings.Contains(stdout, "In sync") {
		t.Errorf("odu protect after --create exited %d:\n%s", code, stdout)
	}
}

func TestProtectRefusesWhatItCannotMakeExact(t *testing.T) {
	t.Run("two rulesets", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		c.repo.AddRuleset(statusRuleset)
		c.repo.AddRuleset(strings.Replace(statusRuleset, `"name": "main"`, `"name": "all branches"`, 1))
		stdout, stderr, code := c.odu("protect")
		if code != 1 || !strings.Contains(stderr, "2 rulesets") || !strings.Contains(stderr, "union") {
			t.Errorf("odu protect exited %d, want 1 explaining the union:\n%s\n%s", code, stdout, stderr)
		}
		if w := c.gh.Writes(); len(w) != 0 {
			t.Errorf("writes = %q, want none", w)
		}
	})
	t.Run("organization ruleset", func(t *testing.T) {
		c := newGHCheckout(t, "https://github.com/octo/hello.git")
		c.gh.AddOrgRuleset("octo", statusRuleset)
		stdout, stderr, code := c.odu("protect", "--create")
		if code != 1 || !strings.Contains(stderr, "organization octo") {
			t.Errorf("odu protect exited %d, want 1 naming the organization's ruleset:\n%s\n%s", code, stdout, stderr)
		}
		if w := c.gh.Writes(); len(w) != 0 {
			t.Errorf("writes = %q, want none", w)
		}
	})
}

// bgRun is an odu command a test started, waited for in the background:
// done closes once it has exited, and err is then its Wait's error. When
// the test ends (after its deferred calls), the command is killed if it
// still runs, and reaped.
type bgRun struct {
	done chan struct{}
	err  error
}

// waitInBackground waits for the started cmd. read, when not nil, is
// closed by whoever reads the command's output pipe: Wait may not run
// before that reader is done.
func waitInBackground(t *testing.T, cmd *exec.Cmd, read <-chan struct{}) *bgRun {
	b := &bgRun{done: make(chan struct{})}
	go func() {
		if read != nil {
			<-read
		}
		b.err = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // it may have ended
		<-b.done
	})
	return b
}

// context returns a context of the test's that also ends when the
// command does: a wait on GitHub gives up once the run is over.
func (b *bgRun) context(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		select {
		case <-b.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}
