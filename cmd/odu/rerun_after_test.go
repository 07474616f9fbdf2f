package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/odu-ci/odu/surface"
)

// rerunJustfile: lint fails until the file $ODU_TEST_FIXED names exists;
// ci waits for test and lint.
const rerunJustfile = `[metadata("ci")]
ci: test lint
    @echo all green

build:
    @echo built

test: build
    @echo tested

lint: build
    @test -e "$ODU_TEST_FIXED" || { echo broken; exit 3; }
`

// TestRerunFailedAfterTheRun: odu rerun --failed after a red run, with
// no run live, runs the red node and what depends on it, carries the
// rest over, ends green; GitHub gets statuses for the nodes that ran
// and none for the carried ones, whose statuses stay the red run's.
func TestRerunFailedAfterTheRun(t *testing.T) {
	c := newGHCheckoutOf(t, "https://github.com/octo/hello.git", rerunJustfile)
	fixed := filepath.Join(t.TempDir(), "fixed")
	c.setenv("ODU_TEST_FIXED", fixed)
	if stdout, stderr, code := c.odu("run", "--progress", "plain"); code != 1 {
		t.Fatalf("the red run exited %d, want 1:\n%s\n%s", code, stdout, stderr)
	}
	before := map[string][]string{}
	for _, id := range []string{"build@x86_64-linux", "test@x86_64-linux", "lint@x86_64-linux", "ci@x86_64-linux"} {
		before[id] = c.repo.Sequence(c.sha, id)
		if len(before[id]) == 0 {
			t.Fatalf("the red run posted no status for %s", id)
		}
	}
	if got := before["lint@x86_64-linux"]; !strings.HasPrefix(got[len(got)-1], "failure: ") {
		t.Fatalf("lint's statuses after the red run = %q, want a failure last", got)
	}

	// What GitHub shows of a carried node is left as it is, even when it
	// is not what the carried result would post (someone set it since).
	c.repo.SetStatus(c.sha, "success", "test@x86_64-linux", "Checked by hand")
	before["test@x86_64-linux"] = c.repo.Sequence(c.sha, "test@x86_64-linux")
	posts := len(c.statusPosts())
	if err := os.WriteFile(fixed, nil, 0o644); err != nil { // outside the checkout, which stays clean
		t.Fatal(err)
	}
	stdout, stderr, code := c.odu("rerun", "--failed", "--progress", "json")
	if code != 0 {
		t.Fatalf("odu rerun --failed exited %d, want 0:\n%s\n%s", code, stdout, stderr)
	}
	ran := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var tr transition
		if err := json.Unmarshal([]byte(line), &tr); err != nil {
			t.Fatalf("a progress line is not JSON: %q", line)
		}
		if tr.Status == surface.Running {
			ran[tr.ID] = true
		}
	}
	if want := []string{"ci@x86_64-linux", "lint@x86_64-linux"}; !slices.Equal(sortedKeys(ran), want) {
		t.Errorf("odu rerun --failed ran %v, want %v:\n%s", sortedKeys(ran), want, stdout)
	}
	out, _, _ := c.odu("status", "-o", "json")
	var st surface.State
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		carried := n.ID == "build@x86_64-linux" || n.ID == "test@x86_64-linux"
		if n.Status != surface.Success || (n.Carried != "") != carried {
			t.Errorf("odu status -o json: %s is %s, carried %q; want success, carried: %v", n.ID, n.Status, n.Carried, carried)
		}
	}

	// GitHub: the carried nodes' statuses are the red run's, untouched;
	// the nodes that ran end green.
	for _, id := range []string{"build@x86_64-linux", "test@x86_64-linux"} {
		if got := c.repo.Sequence(c.sha, id); !slices.Equal(got, before[id]) {
			t.Errorf("%s was carried over, but its statuses went from %q to %q", id, before[id], got)
		}
	}
	for _, r := range c.statusPosts()[posts:] {
		if strings.Contains(string(r.Body), `"build@x86_64-linux"`) || strings.Contains(string(r.Body), `"test@x86_64-linux"`) {
			t.Errorf("odu rerun --failed posted a status for a carried node: %s", r.Body)
		}
	}
	for _, id := range []string{"lint@x86_64-linux", "ci@x86_64-linux"} {
		got := c.repo.Sequence(c.sha, id)
		if len(got) <= len(before[id]) || !strings.HasPrefix(got[len(got)-1], "success: ") {
			t.Errorf("%s ran again: its statuses = %q, want a success after %q", id, got, before[id])
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
