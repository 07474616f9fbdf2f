package main

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/odu-ci/odu/surface"
)

// odu status marks a node that runs far beyond its expectation as slow,
// with its clock against the expectation, and a carried node with the
// run it comes from.
func TestStatusShowsSlowAndCarried(t *testing.T) {
	started := time.Now().Add(-5 * time.Minute)
	st := surface.State{
		Run: surface.Run{SHA: "0123456789abcdef0123456789abcdef01234567", Started: started, Platforms: []string{"x86_64-linux"}},
		Nodes: []surface.Node{
			{ID: "build@x86_64-linux", Status: surface.Success, Started: &started, DurationMS: 1200, Carried: ".ci/0123/runs/1.json"},
			{ID: "test@x86_64-linux", Status: surface.Running, Started: &started, ExpectedMS: 30_000, Slow: true},
		},
	}
	var b bytes.Buffer
	printStatus(&b, st, true, "", false)
	for _, want := range []string{
		`(?m)^✓ success +build@x86_64-linux +1\.2s +carried over from \.ci/0123/runs/1\.json$`,
		`(?m)^● running +test@x86_64-linux +5m0s/~30\.0s +slow: expected ~30\.0s$`,
		`(?m)^1 success, 1 running; ETA overdue$`,
	} {
		if !regexp.MustCompile(want).Match(b.Bytes()) {
			t.Errorf("odu status does not match %s:\n%s", want, b.String())
		}
	}
}
