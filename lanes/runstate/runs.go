package runstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// FormatRef returns a run's ref, "<sha7>#<n>": its commit, short, and its
// number among that commit's records.
func FormatRef(sha string, n int) string { return repo.Short(sha) + "#" + strconv.Itoa(n) }

// RunDirRel is the directory of run n of sha, relative to the checkout's
// root: .ci/<sha>/runs/<n>. Its logs are under it, one directory per
// platform; its record is beside it, .ci/<sha>/runs/<n>.json.
func RunDirRel(sha string, n int) string {
	return filepath.Join(StateDir, sha, "runs", strconv.Itoa(n))
}

// RunLogRel is where run n keeps the newest attempt of a node's log:
// .ci/<sha>/runs/<n>/<platform>/<name>.log. An earlier attempt k is
// beside it ([AttemptLog]). [LogRel], the path README documents, is a
// hard link to the newest run's file.
func RunLogRel(sha string, n int, plat, name string) string {
	return filepath.Join(RunDirRel(sha, n), plat, surface.LogName(name))
}

// RunSetupLogRel is run n's setup log of a lane.
func RunSetupLogRel(sha string, n int, plat string) string {
	return filepath.Join(RunDirRel(sha, n), plat, ".setup.log")
}

// RunRunnerLogRel is run n's local runner diagnostics of a lane.
func RunRunnerLogRel(sha string, n int, plat string) string {
	return filepath.Join(RunDirRel(sha, n), plat, ".runner.log")
}

// AttemptLog returns where attempt k of a node is kept, given its log
// (the newest attempt's, <name>.log) and its newest attempt: the log
// itself for the newest, <name>.<k>.log beside it for an earlier one (a
// rerun moves the finished attempt's file there and starts a new one). A
// recipe's name has no dot, so the name cannot be another node's.
func AttemptLog(log string, newest, k int) string {
	if k == newest || k <= 0 {
		return log
	}
	return strings.TrimSuffix(log, ".log") + "." + strconv.Itoa(k) + ".log"
}

// RunEntry is one recorded run as the faces list it (`odu runs`, the web
// and MCP faces): what its record says, in brief.
type RunEntry struct {
	Ref     string     `json:"ref"` // "<sha7>#<n>"
	SHA     string     `json:"sha"`
	N       int        `json:"n"`      // its number among its commit's runs
	Record  string     `json:"record"` // its record, relative to the checkout's root
	Subject string     `json:"subject,omitempty"`
	Branch  string     `json:"branch,omitempty"`
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	// DurationMS is how long it took; for a live run, how long it has
	// run so far; for one that never finished, until its record was last
	// written.
	DurationMS int64 `json:"duration_ms"`
	// Verdict is passed, failed or cancelled for a run that ended; live
	// while it runs; unfinished for one killed before it ended.
	Verdict string         `json:"verdict"`
	Counts  map[string]int `json:"counts"`
	// NotOK lists the nodes that did not succeed (of a live run, those
	// that failed so far).
	NotOK []string `json:"not_ok,omitempty"`
	// Owed counts the GitHub statuses of its nodes that GitHub does not
	// have yet.
	Owed int `json:"github_owed,omitempty"`
}

// The verdicts of a [RunEntry].
const (
	VerdictPassed     = "passed"
	VerdictFailed     = "failed"
	VerdictCancelled  = "cancelled"
	VerdictLive       = "live"
	VerdictUnfinished = "unfinished"
)

// Live reports whether the entry's run is live.
func (e RunEntry) Live() bool { return e.Verdict == VerdictLive }

// entryOf sums a run's state up; written is when its record was last
// written, live whether it runs.
func entryOf(st surface.State, rel string, n int, written time.Time, live bool) RunEntry {
	e := RunEntry{Ref: FormatRef(st.Run.SHA, n), SHA: st.Run.SHA, N: n, Record: rel, Subject: st.Run.Subject,
		Branch: st.Run.Branch, Started: st.Run.Started, Ended: st.Run.Ended, Counts: map[string]int{}}
	green := len(st.Nodes) > 0
	for _, nd := range st.Nodes {
		e.Counts[string(nd.Status)]++
		// A shard counts through its aggregate (one that found no free
		// slot is skipped, and fails nothing).
		if nd.Status != surface.Success && nd.Shard == nil {
			green = false
			if nd.Status.Terminal() || !live {
				e.NotOK = append(e.NotOK, nd.ID)
			}
		}
		if nd.Post != nil && !nd.Post.Posted {
			e.Owed++
		}
	}
	switch {
	case st.Run.Ended != nil:
		e.DurationMS = st.Run.Ended.Sub(st.Run.Started).Milliseconds()
		switch {
		case st.Run.Cancelled:
			e.Verdict = VerdictCancelled
		case green:
			e.Verdict = VerdictPassed
		default:
			e.Verdict = VerdictFailed
		}
	case live:
		e.Verdict = VerdictLive
		e.DurationMS = time.Since(st.Run.Started).Milliseconds()
	default:
		e.Verdict = VerdictUnfinished
		if written.After(st.Run.Started) {
			e.DurationMS = written.Sub(st.Run.Started).Milliseconds()
		}
	}
	return e
}

// With sums up st, the live state of e's run (as a face that follows the
// run on its socket has it), as [ListRuns] does a record.
func (e RunEntry) With(st surface.State) RunEntry {
	return entryOf(st, e.Record, e.N, time.Now(), st.Run.Ended == nil)
}

// recordNumber returns the number of a record, .ci/<sha>/runs/<n>.json.
func recordNumber(rel string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(rel), ".json"))
	return n
}

// isLive reports whether the run that wrote st holds the checkout's run
// lock: the lock file names its pid and commit, and that process lives.
// It takes no lock itself (a face must never make a starting run think
// the checkout busy).
func isLive(root string, st surface.State) bool {
	if st.Run.Ended != nil {
		return false
	}
	h := holder(root)
	if h.PID != st.Run.PID || h.SHA != st.Run.SHA || h.PID <= 0 {
		return false
	}
	err := syscall.Kill(h.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ListRuns returns the checkout's recorded runs, newest first, from the
// index (.ci/odu.runs.json), which it rebuilds from the records when it
// is missing or stale. The runs that had not ended when the index was
// written are read from their records again: they may have gone on, or
// been killed.
func ListRuns(root string) ([]RunEntry, error) {
	runs, err := loadIndex(root)
	if err != nil {
		return nil, err
	}
	for i, e := range runs {
		if e.Ended != nil {
			continue
		}
		st, err := readRecord(root, e.Record)
		if err != nil {
			continue // as indexed
		}
		live := isLive(root, st)
		if !live {
			markUnfinished(&st, modTime(root, e.Record))
		}
		runs[i] = entryOf(st, e.Record, e.N, modTime(root, e.Record), live)
	}
	return runs, nil
}

// sortRuns puts runs newest first: by start, then by number.
func sortRuns(runs []RunEntry) {
	slices.SortStableFunc(runs, func(a, b RunEntry) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		if a.SHA != b.SHA {
			return strings.Compare(a.SHA, b.SHA)
		}
		return b.N - a.N
	})
}

// RefError reports a run ref that names no recorded run, or more than
// one: Candidates are the refs it could mean (or the newest runs).
type RefError struct {
	Ref        string
	Problem    string
	Candidates []string
}

func (e *RefError) Error() string {
	msg := fmt.Sprintf("--run %s: %s", e.Ref, e.Problem)
	if len(e.Candidates) > 0 {
		msg += " (" + strings.Join(e.Candidates, ", ") + ")"
	}
	return msg
}

// Hint says what to do.
func (e *RefError) Hint() string {
	return "Name a run as <sha7>#<n>, a commit's unique prefix (its newest run), or latest; `odu runs` lists them."
}

// ResolveRun finds the run a ref names among the checkout's runs:
//
//   - "latest" or "": the newest run;
//   - "<sha>#<n>": run n of the one recorded commit whose hash begins
//     with sha (at least 4 hex digits);
//   - "<sha>": the newest run of that commit.
//
// A ref that names no run, or a prefix of several commits, is a
// [*RefError] that lists the candidates; with no run recorded at all it
// is [ErrNoRecord].
func ResolveRun(root, ref string) (RunEntry, error) {
	runs, err := ListRuns(root)
	if err != nil {
		return RunEntry{}, err
	}
	return resolveIn(runs, ref)
}

func resolveIn(runs []RunEntry, ref string) (RunEntry, error) {
	if len(runs) == 0 {
		return RunEntry{}, ErrNoRecord
	}
	if ref == "" || ref == "latest" {
		return runs[0], nil
	}
	prefix, num, hasNum := strings.Cut(ref, "#")
	prefix = strings.ToLower(prefix)
	n := 0
	if hasNum {
		var err error
		if n, err = strconv.Atoi(num); err != nil || n < 1 {
			return RunEntry{}, &RefError{Ref: ref, Problem: "#" + num + " is not a run number"}
		}
	}
	if len(prefix) < 4 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return RunEntry{}, &RefError{Ref: ref, Problem: "not a run: give latest, or at least 4 hex digits of a commit", Candidates: newest(runs, 5)}
	}
	var shas []string
	var of []RunEntry
	for _, e := range runs {
		if strings.HasPrefix(e.SHA, prefix) {
			if !slices.Contains(shas, e.SHA) {
				shas = append(shas, e.SHA)
			}
			of = append(of, e)
		}
	}
	switch {
	case len(shas) == 0:
		return RunEntry{}, &RefError{Ref: ref, Problem: "no recorded run is of a commit beginning " + prefix, Candidates: newest(runs, 5)}
	case len(shas) > 1:
		var c []string
		for _, s := range shas {
			c = append(c, s[:min(len(s), 12)])
		}
		return RunEntry{}, &RefError{Ref: ref, Problem: fmt.Sprintf("%d recorded commits begin %s", len(shas), prefix), Candidates: c}
	}
	if !hasNum {
		return of[0], nil
	}
	for _, e := range of {
		if e.N == n {
			return e, nil
		}
	}
	return RunEntry{}, &RefError{Ref: ref, Problem: fmt.Sprintf("commit %s has no run #%d", repo.Short(shas[0]), n), Candidates: newest(of, 10)}
}

// newest returns the refs of the first k runs.
func newest(runs []RunEntry, k int) []string {
	var refs []string
	for _, e := range runs[:min(k, len(runs))] {
		refs = append(refs, e.Ref)
	}
	return refs
}

// ReadRun reads a listed run's record, as [ReadLast] reads the last one:
// a record without an end, of a run that is not live, has its
// unfinished nodes marked as errors.
func ReadRun(root string, e RunEntry) (Last, error) {
	var last Last
	st, err := readRecord(root, e.Record)
	if err != nil {
		return last, &UnreadableError{Rel: e.Record, Err: err}
	}
	last.State, last.Rel = st, e.Record
	if !isLive(root, st) {
		last.Unfinished = markUnfinished(&last.State, modTime(root, e.Record))
	}
	return last, nil
}

// AdoptOldLogs moves the logs an odu from before run directories left in
// .ci/<sha>/<platform>/ (files of their own, not links to a run's) into
// the directory of run prev, the run that wrote them, so that the next
// run's links do not replace them. A file already there is left alone;
// so is anything that is not a regular file.
func AdoptOldLogs(root, sha string, prev int, plat string) error {
	if prev < 1 {
		return nil
	}
	dir := filepath.Join(root, StateDir, sha, plat)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // none
	}
	var into string
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		fi, err := e.Info()
		if st, ok := fi.Sys().(*syscall.Stat_t); err != nil || !ok || st.Nlink != 1 {
			continue // a link to a run's file: odu's own layout
		}
		if into == "" {
			into = filepath.Join(RunDirRel(sha, prev), plat)
			if err := MkdirState(root, into); err != nil {
				return err
			}
		}
		// A hard link fails on a name that exists: nothing is replaced.
		if err := os.Link(filepath.Join(dir, e.Name()), filepath.Join(root, into, e.Name())); err == nil {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// adoptedLogs points the logs of a record written before run directories
// (at .ci/<sha>/<platform>/, see [AdoptOldLogs]) at its run's directory,
// where they were moved.
func adoptedLogs(root string, st *surface.State, n int) {
	moved := func(log, plat, name string) string {
		if strings.Contains(log, string(filepath.Separator)+"runs"+string(filepath.Separator)) {
			return log
		}
		dst := filepath.Join(RunDirRel(st.Run.SHA, n), plat, name)
		if _, err := os.Lstat(filepath.Join(root, dst)); err != nil {
			return log
		}
		return dst
	}
	for i, nd := range st.Nodes {
		if nd.Log != "" {
			st.Nodes[i].Log = moved(nd.Log, nd.Platform, filepath.Base(nd.Log))
		}
	}
	for i, l := range st.Lanes {
		if l.Log != "" {
			st.Lanes[i].Log = moved(l.Log, l.Platform, filepath.Base(l.Log))
		}
	}
}
