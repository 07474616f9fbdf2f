package mcp

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// RunID is what identifies a run to an agent: its ref, as `odu run`
// prints it and `odu runs` lists it, which the run argument of status,
// wait and logs takes. It is made here and only here ([identify]).
type RunID struct {
	Ref    string `json:"ref" jsonschema:"the run's ref, <sha7>#<n> (its commit, and its number among that commit's runs), as odu run prints it: what the run argument of status, wait and logs takes"`
	Commit string `json:"commit" jsonschema:"the commit under test, in full"`
	// Record is the run's record, .ci/<commit>/runs/<n>.json.
	Record string `json:"record,omitempty" jsonschema:"the run's record, relative to the repository"`
	PID    int    `json:"pid" jsonschema:"the process of odu run"`
	Live   bool   `json:"live" jsonschema:"whether the run is still live (it serves its state)"`
}

// String is how a run is named in text, as odu run names it: run 3f9c2ab#2.
func (id RunID) String() string {
	if id.Ref == "" {
		return "a run of commit " + repo.Short(id.Commit) // not found among the records
	}
	return "run " + id.Ref
}

// identify names run. rel is its record when known ("" for a live run:
// its ref says which record is its).
func identify(run surface.Run, rel string, live bool) RunID {
	id := RunID{Ref: run.Ref, Commit: run.SHA, PID: run.PID, Live: live, Record: rel}
	if id.Ref == "" && rel != "" {
		n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(rel), ".json"))
		id.Ref = runstate.FormatRef(run.SHA, n)
	}
	if id.Record == "" && id.Ref != "" {
		if _, num, ok := strings.Cut(id.Ref, "#"); ok {
			if n, err := strconv.Atoi(num); err == nil {
				id.Record = runstate.RunDirRel(run.SHA, n) + ".json"
			}
		}
	}
	return id
}

// id names the run f found.
func (f *found) id() RunID {
	return identify(f.st.Run, f.last.Rel, f.live())
}
