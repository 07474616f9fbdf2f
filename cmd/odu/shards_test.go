package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/odu-ci/odu/internal/sshtest"
)

const shardJustfile = `[metadata("ci")]
ci: e2e
    @echo ci

[metadata("odu:shard=4")]
e2e:
    @echo "shard $ODU_SHARD_INDEX of $ODU_SHARD_TOTAL"
`

// shardPool starts n build hosts (real sshd, each its own user's cache)
// that home's user may log in to, and returns a hosts file that makes
// them x86_64-linux's pool.
func shardPool(t *testing.T, home string, n int) string {
	t.Helper()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := sshtest.NewKey(t)
	data, err := os.ReadFile(key.Path)
	if err != nil {
		t.Fatal(err)
	}
	var known, addrs []string
	for i := range n {
		host := sshtest.Start(t, sshtest.Options{Host: fmt.Sprintf("127.0.0.%d", 4+i), Keys: []sshtest.Key{key}})
		known = append(known, host.KnownHostsLine())
		addrs = append(addrs, `"`+host.Addr()+`"`)
	}
	hosts := filepath.Join(home, "hosts.json")
	for path, content := range map[string]string{
		filepath.Join(sshDir, "id_ed25519"):  string(data),
		filepath.Join(sshDir, "known_hosts"): strings.Join(known, "\n") + "\n",
		hosts:                                `{"x86_64-linux": [` + strings.Join(addrs, ", ") + `]}` + "\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return hosts
}

// TestShardsOneGitHubStatus: a recipe of four shards on a pool of four
// hosts posts one status, its aggregate's, whatever N; a failed shard
// makes it a failure; odu protect requires the aggregate, not the shards.
func TestShardsOneGitHubStatus(t *testing.T) {
	c := newGHCheckoutOf(t, "https://github.com/octo/hello.git", shardJustfile)
	home := ""
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
	}
	c.setenv("ODU_HOSTS", shardPool(t, home, 4))
	c.setenv("SSH_AUTH_SOCK", "")

	stdout, stderr, code := c.odu("run", "--progress", "plain")
	if code != 0 {
		t.Fatalf("odu run exited %d:\n%s\n%s", code, stdout, stderr)
	}
	for i := range 4 {
		id := fmt.Sprintf("e2e[%d/4]@x86_64-linux", i+1)
		out, _, _ := c.odu("logs", id)
		if want := fmt.Sprintf("shard %d of 4\n", i); out != want {
			t.Errorf("odu logs %s = %q, want %q", id, out, want)
		}
	}
	contexts := func(sha string) []string {
		var out []string
		for ctx := range c.repo.Latest(sha) {
			out = append(out, ctx)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"ci@x86_64-linux", "e2e@x86_64-linux"}
	if got := contexts(c.sha); !slices.Equal(got, want) {
		t.Errorf("GitHub has statuses for %q, want %q (one for the sharded recipe)", got, want)
	}
	if st := c.repo.Latest(c.sha)["e2e@x86_64-linux"]; st.State != "success" {
		t.Errorf("e2e@x86_64-linux on GitHub: %s %q, want success", st.State, st.Description)
	}

	// Shard 3 (index 2) fails: so does the aggregate, on GitHub too.
	jf := strings.Replace(shardJustfile, `@echo "shard`, `@test "$ODU_SHARD_INDEX" != 2 && echo "shard`, 1)
	if err := os.WriteFile(filepath.Join(c.dir, "justfile"), []byte(jf), 0o644); err != nil {
		t.Fatal(err)
	}
	c.git("commit", "-qam", "shard 3 fails")
	sha := strings.TrimSpace(c.git("rev-parse", "HEAD"))
	c.repo.AddCommit(sha)
	stdout, stderr, code = c.odu("run", "--progress", "plain")
	if code != 1 {
		t.Fatalf("odu run with a failing shard exited %d, want 1:\n%s\n%s", code, stdout, stderr)
	}
	if got := contexts(sha); !slices.Equal(got, want) {
		t.Errorf("GitHub has statuses for %q, want %q", got, want)
	}
	if st := c.repo.Latest(sha)["e2e@x86_64-linux"]; st.State != "failure" {
		t.Errorf("e2e@x86_64-linux on GitHub after shard 3 failed: %s %q, want failure", st.State, st.Description)
	}

	// Branch protection requires the aggregate: it does not change with N.
	c.repo.AddBranch("release", "")
	out, stderr, _ := c.odu("protect", "--dry-run", "--branch", "release", "--platform", "x86_64-linux")
	var checks []string
	for _, line := range strings.Split(out, "\n") {
		if ctx, ok := strings.CutPrefix(line, "+ "); ok {
			checks = append(checks, ctx)
		}
	}
	slices.Sort(checks)
	if !slices.Equal(checks, want) {
		t.Errorf("odu protect would require %q, want %q:\n%s\n%s", checks, want, out, stderr)
	}
}

// TestDashboardShards: the dashboard lists a sharded recipe's shards
// right under its aggregate, all running at once on this machine's four
// slots (localhost in the pool), and shows a shard's own log when it is
// selected; the run passes once they end.
func TestDashboardShards(t *testing.T) {
	d := newDash(t, `[metadata("ci")]
ci: e2e
    @echo ci

[metadata("odu:shard=4")]
e2e:
    @echo "shard $ODU_SHARD_INDEX of $ODU_SHARD_TOTAL"
    @while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done
`)
	hosts := filepath.Join(d.tmp, "hosts.json")
	if err := os.WriteFile(hosts, []byte(`{"x86_64-linux": {"host": "localhost", "slots": 4}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.env = append(d.env, "ODU_HOSTS="+hosts)
	tm := d.terminal(120, 30, "run")
	s := tm.waitFor("the aggregate and its four shards running", false, func(s string) bool {
		for _, r := range []string{"e2e", "e2e[1/4]", "e2e[2/4]", "e2e[3/4]", "e2e[4/4]"} {
			if _, row := rowOf(s, r); !strings.Contains(row, "●") {
				return false
			}
		}
		return true
	})
	var keys []string
	for _, r := range []string{"e2e", "e2e[1/4]", "e2e[2/4]", "e2e[3/4]", "e2e[4/4]", "ci"} {
		k, _ := rowOf(s, r)
		keys = append(keys, k)
	}
	if got := strings.Join(keys, ""); got != "123456" {
		t.Errorf("rows e2e, its shards 1 to 4, ci have keys %q, want 123456 (the shards right under the aggregate):\n%s", got, s)
	}
	tm.key(keys[3]) // e2e[3/4]
	tm.waitText("e2e[3/4]@x86_64-linux · running", "shard 2 of 4")
	touch(t, d.stop)
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 0") {
		t.Errorf("the sharded run did not pass:\n%s", s)
	}
}
