package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/runner/hostside"
)

// TestDashboardQueuedLane: a lane whose pool has no free slot shows as
// queued in the dashboard's header, naming who holds the slot; once the
// slot is free, the lane takes it and its node runs.
func TestDashboardQueuedLane(t *testing.T) {
	d := newDash(t, `[metadata("ci")]
ci:
    @echo ran
`)
	host := d.sshHosts(jsonList, "127.0.0.6")[0]
	// Someone else holds the host's one slot, as a runner of theirs
	// would: the slot's lock, and who they are.
	slots := hostside.SlotsPath(host.Cache)
	lease, _, err := hostside.TakeSlot(slots, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Close()
	since := time.Now()
	if err := hostside.WriteHolder(lease, hostside.Holder{Who: "ann@laptop", Repo: "/src/app", Commit: "0123456789abcdef", Since: since}); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(host.User)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range []string{filepath.Dir(slots), slots, lease.Name()} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	tm := d.terminal(160, 40, "run")
	s := tm.waitText("x86_64-linux: queued")
	want := "slot 1 by ann@laptop (/src/app, 0123456, since " + since.Local().Format("15:04:05") + ")"
	if !strings.Contains(s, want) {
		t.Errorf("the queued lane does not say who holds the slot (%q):\n%s", want, s)
	}
	if _, row := rowOf(s, "ci"); strings.Contains(row, "●") {
		t.Errorf("ci shows running while its lane waits for a slot:\n%s", s)
	}

	lease.Close() // the slot is free: the lane takes it
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 0") {
		t.Errorf("the run did not pass once the slot was free:\n%s", s)
	}
}
