package runstate

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

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
		st, err := readDurations(root, rel)
		if err != nil {
			continue
		}
		for _, n := range st.Nodes {
			if !want[n.ID] || n.Status != surface.Success || n.Carried != "" || !present(n.Started) || n.DurationMS <= 0 {
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

// durations is the part of a record Expectations reads: decoding only
// that, with encoding/json/v2, takes a fraction of a whole surface.State
// with encoding/json, and a run's start reads up to ExpectRecords of them.
type durations struct {
	Run struct {
		SHA string `json:"sha"`
	} `json:"run"`
	Nodes []struct {
		ID         string         `json:"id"`
		Status     surface.Status `json:"status"`
		Carried    string         `json:"carried"`
		Started    jsontext.Value `json:"started"` // only whether it is there
		DurationMS int64          `json:"duration_ms"`
	} `json:"nodes"`
}

// readDurations reads what Expectations needs of a record, which is
// passed over, as [readRecord] would refuse it, when it is not one.
func readDurations(root, rel string) (durations, error) {
	var d durations
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return d, err
	}
	// As lenient as encoding/json, which writes the records.
	if err := jsonv2.Unmarshal(data, &d, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)); err != nil {
		return d, err
	}
	if d.Run.SHA == "" {
		return d, errors.New("not a record (no commit)")
	}
	return d, nil
}

// present reports whether a JSON value was given and is not null.
func present(v jsontext.Value) bool {
	return len(v) > 0 && string(v) != "null"
}
