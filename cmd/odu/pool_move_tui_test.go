package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	hs := d.sshHosts(jsonList, "127.0.0.7", "127.0.0.8")
	h1, h2 := hs[0], hs[1]
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
