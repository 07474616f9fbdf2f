package runstate

import (
	"slices"
	"time"

	"github.com/odu-ci/odu/surface"
)

// Expectation bounds: a node's expected duration is the median of its
// last ExpectSamples successful attempts, read from at most
// ExpectRecords of the checkout's newest records. Reading the history
// stays cheap however long it is: a directory listing per commit and a
// stat per record (to order them, allRecords), and at most ExpectRecords
// files parsed, newest first, stopping as soon as every node has its
// samples.
const (
	ExpectSamples = 10
	ExpectRecords = 30
)

// Expectations returns the expected duration of each of nodes that has
// succeeded before in this checkout (same id: same recipe, arguments and
// platform), by id: the median of its last successful attempts. A node
// whose result was carried over did not run, and says nothing of how long
// it takes. Records that cannot be read are passed over.
//
// It reads the records a run of this checkout writes today
// (.ci/<sha>/runs/<n>.json); an index of the runs can take its place
// without changing what it returns.
func Expectations(root string, nodes []surface.Node) map[string]time.Duration {
	want := map[string]bool{}
	for _, n := range nodes {
		want[n.ID] = true
	}
	samples := map[string][]int64{}
	full := 0 // nodes with every sample
	for i, rel := range allRecords(root) {
		if i == ExpectRecords || full == len(want) {
			break
		}
		st, err := readRecord(root, rel)
		if err != nil {
			continue
		}
		for _, n := range st.Nodes {
			if !want[n.ID] || n.Status != surface.Success || n.Carried != "" || n.Started == nil || n.DurationMS <= 0 {
				continue
			}
			if len(samples[n.ID]) == ExpectSamples {
				continue
			}
			samples[n.ID] = append(samples[n.ID], n.DurationMS)
			if len(samples[n.ID]) == ExpectSamples {
				full++
			}
		}
	}
	out := map[string]time.Duration{}
	for id, s := range samples {
		out[id] = time.Duration(median(s)) * time.Millisecond
	}
	return out
}

// median returns the middle of s (the mean of the two middle values for
// an even count); s is not empty.
func median(s []int64) int64 {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
