package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/sshtest"
)

// TestDashboardLaneMoves: a lane whose build host is lost for good moves
// to the other host of its pool, and the dashboard's header says so
// while its unfinished node runs there; the run then ends green.
func TestDashboardLaneMoves(t *testing.T) {
	d := newDash(t, `[metadata("ci")]
ci: slow

build:
    @echo build >> "$XDG_CACHE_HOME/runs"

slow: build
    #!/bin/sh
    echo slow >> "$XDG_CACHE_HOME/runs"
    i=0
    while [ ! -e "$XDG_CACHE_HOME/release" ]; do
        i=$((i+1)); [ $i -lt 1200 ] || exit 1; sleep 0.1
    done
`)
	home := filepath.Join(d.tmp, "home")
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := sshtest.NewKey(t)
	data, err := os.ReadFile(key.Path)
	if err != nil {
		t.Fatal(err)
	}
	h1 := sshtest.Start(t, sshtest.Options{Host: "127.0.0.7", Keys: []sshtest.Key{key}})
	h2 := sshtest.Start(t, sshtest.Options{Host: "127.0.0.8", Keys: []sshtest.Key{key}})
	hosts := filepath.Join(d.tmp, "hosts.json")
	for path, content := range map[string]string{
		filepath.Join(sshDir, "id_ed25519"):  string(data),
		filepath.Join(sshDir, "known_hosts"): h1.KnownHostsLine() + "\n" + h2.KnownHostsLine() + "\n",
		hosts:                                `{"x86_64-linux": ["` + h1.Addr() + `", "` + h2.Addr() + `"]}` + "\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.env = append(slicesDeleteEnv(d.env, "SSH_AUTH_SOCK"), "ODU_HOSTS="+hosts)
	tm := d.terminal(200, 40, "run --reconnect-timeout 2s")

	// Neither host was ever leased: the lane leases h1, the first.
	runs := filepath.Join(h1.Cache, "runs")
	deadline := time.Now().Add(awaitLimit)
	for {
		if b, _ := os.ReadFile(runs); strings.Contains(string(b), "slow\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slow did not start on %s within %s:\n%s", h1.Addr(), awaitLimit, tm.screen(false))
		}
		time.Sleep(20 * time.Millisecond)
	}
	h1.Lose()
	// The header says where the lane moved, and slow runs again there
	// (once build ran again there for its output).
	moved := "x86_64-linux: moved from " + h1.Addr() + " (lost) to " + h2.Addr()
	tm.waitFor(moved+", and slow running", false, func(s string) bool {
		_, row := rowOf(s, "slow")
		return strings.Contains(s, moved) && strings.Contains(row, "●")
	})
	if err := os.WriteFile(filepath.Join(h2.Cache, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 0") {
		t.Errorf("the run that moved did not pass:\n%s", s)
	}
}
