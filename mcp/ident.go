package mcp

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// RunID is what identifies a run to an agent. It is made here and only
// here ([identify]), so that run references (`<sha7>#<n>`, once odu has a
// run history) replace it in one place.
type RunID struct {
	Commit string `json:"commit" jsonschema:"the commit under test"`
	// Record is the run's number among its commit's runs: its record is
	// .ci/<commit>/runs/<record>.json.
	Record     int    `json:"record,omitempty" jsonschema:"the run's number among the runs of its commit"`
	RecordPath string `json:"record_path,omitempty" jsonschema:"the run's record, relative to the repository"`
	PID        int    `json:"pid" jsonschema:"the process of odu run"`
	Live       bool   `json:"live" jsonschema:"whether the run is still live (it serves its state)"`
}

// String is how a run is named in text: commit abc1234, run 3.
func (id RunID) String() string {
	s := "commit " + repo.Short(id.Commit)
	if id.Record > 0 {
		s += ", run " + strconv.Itoa(id.Record)
	}
	return s
}

// identify names run. rel is its record when known ("" for a live run:
// the checkout's last record is the live run's once it serves).
func identify(root string, run surface.Run, rel string, live bool) RunID {
	id := RunID{Commit: run.SHA, PID: run.PID, Live: live}
	if rel == "" {
		if st, last, err := runstate.LastRecord(root); err == nil && face.SameRun(st.Run, run) {
			rel = last
		}
	}
	if rel != "" {
		id.RecordPath = rel
		id.Record, _ = strconv.Atoi(strings.TrimSuffix(filepath.Base(rel), ".json"))
	}
	return id
}

// idOf names the run f found.
func (f *found) id() RunID {
	return identify(f.root, f.st.Run, f.last.Rel, f.live())
}
