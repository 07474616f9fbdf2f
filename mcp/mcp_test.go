package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/platform"
)

// The answers of the tools, as an agent reads them (the server's own
// types are not used: what is checked is the JSON on the wire).
type runID struct {
	Ref    string `json:"ref"`
	Commit string `json:"commit"`
	Record string `json:"record"`
	PID    int    `json:"pid"`
	Live   bool   `json:"live"`
}

type node struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Attempt  int    `json:"attempt"`
	ExitCode *int   `json:"exit_code"`
	Log      string `json:"log"`
	Tail     string `json:"tail"`
}

type runOut struct {
	Run        runID  `json:"run"`
	Nodes      int    `json:"nodes"`
	Output     string `json:"output"`
	Verdict    string `json:"verdict"`
	Superseded string `json:"superseded"`
}

type waitOut struct {
	Outcome string   `json:"outcome"`
	Verdict string   `json:"verdict"`
	Run     runID    `json:"run"`
	Failed  []node   `json:"failed"`
	Running []string `json:"running"`
}

type statusOut struct {
	Run     runID  `json:"run"`
	Verdict string `json:"verdict"`
	Nodes   []node `json:"nodes"`
}

type logsOut struct {
	Node       string `json:"node"`
	Offset     int64  `json:"offset"`
	NextOffset int64  `json:"next_offset"`
	EOF        bool   `json:"eof"`
	Finished   bool   `json:"finished"`
}

// started registers a run the test started: stopped at the end if it
// still goes, and its output logged if the test failed.
func (c *checkout) started(run runOut) {
	c.t.Cleanup(func() {
		if c.t.Failed() {
			out, _ := os.ReadFile(filepath.Join(c.dir, run.Output))
			c.t.Logf("output of odu run (pid %d):\n%s", run.Run.PID, out)
		}
	})
	stopRun(c.t, run.Run.PID)
}

func find(nodes []node, recipe string) *node {
	for i := range nodes {
		if strings.HasPrefix(nodes[i].ID, recipe+"@") {
			return &nodes[i]
		}
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "") + "\n"
}

// TestNothingRunsOnStartup: a server started, initialized and listed does
// nothing: no recipe runs, no run starts, no state is written; nor does
// the pipeline tool run anything.
func TestNothingRunsOnStartup(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	c := newCheckout(t, fmt.Sprintf("[metadata(\"ci\")]\nci:\n    touch %s\n", marker))
	s := c.serve()
	if _, err := s.sess.ListTools(context.Background(), nil); err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	s.call("pipeline", nil, nil)
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the ci recipe ran while the server started")
	}
	if _, err := os.Stat(filepath.Join(c.dir, ".ci")); err == nil {
		t.Errorf("the server wrote .ci before any run was asked for")
	}
	if out, code := c.odu("status"); code != 1 || !strings.Contains(out, "no run is live") {
		t.Errorf("odu status = %d %q, want 1 and no run", code, out)
	}
}

// TestToolsAndAnnotations: the tools are there, each with a description,
// an object schema, and annotations that say what it changes.
func TestToolsAndAnnotations(t *testing.T) {
	c := newCheckout(t, "[metadata(\"ci\")]\nci:\n    true\n")
	s := c.serve()
	res, err := s.sess.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	type want struct{ readOnly, destructive, idempotent bool }
	wants := map[string]want{
		"pipeline": {readOnly: true, idempotent: true},
		"status":   {readOnly: true, idempotent: true},
		"wait":     {readOnly: true, idempotent: true},
		"logs":     {readOnly: true, idempotent: true},
		"runs":     {readOnly: true, idempotent: true},
		"run":      {},
		"rerun":    {destructive: true},
		"cancel":   {destructive: true, idempotent: true},
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		w, ok := wants[tool.Name]
		if !ok {
			t.Errorf("unexpected tool %q", tool.Name)
			continue
		}
		a := tool.Annotations
		if a == nil {
			t.Errorf("%s has no annotations", tool.Name)
			continue
		}
		destructive := a.DestructiveHint == nil || *a.DestructiveHint // the protocol's default is true
		if a.ReadOnlyHint != w.readOnly || (!w.readOnly && destructive != w.destructive) || a.IdempotentHint != w.idempotent {
			t.Errorf("%s: readOnly %v destructive %v idempotent %v, want %+v", tool.Name, a.ReadOnlyHint, destructive, a.IdempotentHint, w)
		}
		if len(tool.Description) < 40 {
			t.Errorf("%s: description %q says too little for a model", tool.Name, tool.Description)
		}
		schema, _ := tool.InputSchema.(map[string]any)
		if schema["type"] != "object" {
			t.Errorf("%s: input schema %v, want an object", tool.Name, tool.InputSchema)
		}
	}
	slices.Sort(names)
	if want := []string{"cancel", "logs", "pipeline", "rerun", "run", "runs", "status", "wait"}; !slices.Equal(names, want) {
		t.Errorf("tools = %v, want %v", names, want)
	}
}

// TestPipeline: the pipeline tool answers what `odu dump` prints, and
// fails as it does, with the same message and hint.
func TestPipeline(t *testing.T) {
	c := newCheckout(t, "[metadata(\"ci\")]\nci: build test\n\nbuild:\n    true\n\ntest: build\n    true\n")
	s := c.serve()
	for _, sel := range [][]string{nil, {"test"}} {
		want, code := c.odu(append([]string{"dump"}, sel...)...)
		if code != 0 {
			t.Fatalf("odu dump %v: exit %d: %s", sel, code, want)
		}
		if got := s.call("pipeline", map[string]any{"selectors": sel}, nil); got != want {
			t.Errorf("pipeline %v =\n%s\nwant (odu dump)\n%s", sel, got, want)
		}
	}
	cli, code := c.odu("dump", "tset")
	if code != 2 {
		t.Fatalf("odu dump tset: exit %d, want 2: %s", code, cli)
	}
	got := s.callErr("pipeline", map[string]any{"selectors": []string{"tset"}})
	if want := strings.TrimSpace(strings.TrimPrefix(cli, "odu: ")); got != want || !strings.Contains(got, "hint:") {
		t.Errorf("pipeline [tset] error =\n%s\nwant what odu dump says, hint included:\n%s", got, want)
	}
}

// failing is a pipeline with a node that fails after 120 lines, unless
// the file "fixed" is there, and one that runs until the file "gate" is.
const failing = `[metadata("ci")]
ci: build bad slow

build:
    printf '\033[1;31mbuilding\033[0m\n'

bad: build
    #!/bin/sh
    i=0; while [ $i -lt 120 ]; do echo "line $i of the log of bad"; i=$((i+1)); done
    if [ -f fixed ]; then echo fixed now; exit 0; fi
    echo "bad: cannot go on" >&2; exit 3

slow:
    #!/bin/sh
    while [ ! -f gate ]; do sleep 0.05; done; echo opened
`

// TestRunWaitLogsRerun is an agent's loop: start the run, wait for the
// failure and read its tail, page through the log, fix, rerun, wait for
// green.
func TestRunWaitLogsRerun(t *testing.T) {
	c := newCheckout(t, failing)
	s := c.serve()
	var run runOut
	s.call("run", map[string]any{"no_strict": true}, &run)
	c.started(run)
	head := strings.TrimSpace(c.git("rev-parse", "HEAD"))
	if run.Verdict != "running" || !run.Run.Live || run.Run.Ref != head[:7]+"#1" || run.Nodes != 3 {
		t.Fatalf("run = %+v, want a live run %s#1 of 3 nodes", run, head[:7])
	}
	if run.Run.Commit != head {
		t.Errorf("run's commit = %s, want HEAD %s", run.Run.Commit, head)
	}

	var w waitOut
	txt := s.call("wait", map[string]any{"fail_fast": true, "tail_lines": 5}, &w)
	bad := find(w.Failed, "bad")
	if w.Outcome != "failed_early" || bad == nil || bad.Status != "failure" || bad.ExitCode == nil || *bad.ExitCode != 3 {
		t.Fatalf("wait (fail_fast) = %+v\n%s\nwant bad's failure, exit 3, while the run goes on", w, txt)
	}
	if !slices.ContainsFunc(w.Running, func(id string) bool { return strings.HasPrefix(id, "slow@") }) {
		t.Errorf("wait: running = %v, want slow among them", w.Running)
	}
	logData, err := os.ReadFile(filepath.Join(c.dir, bad.Log))
	if err != nil {
		t.Fatal(err)
	}
	if want := lastLines(string(logData), 5); bad.Tail != want || !strings.Contains(bad.Tail, "bad: cannot go on") {
		t.Errorf("wait: bad's tail =\n%q\nwant its log's last 5 lines\n%q", bad.Tail, want)
	}
	if !strings.Contains(txt, "bad: cannot go on") {
		t.Errorf("wait's text does not show the failure:\n%s", txt)
	}
	select {
	case p := <-s.progress:
		if p.ProgressToken != "wait" {
			t.Errorf("progress for %v, want the wait call's token", p.ProgressToken)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("wait sent no progress notification")
	}

	// logs: a window by offset and limit is the file's bytes there; pages
	// read on from next_offset make the whole file.
	var lo logsOut
	if got, want := s.callErr("logs", map[string]any{"node": "bad", "offset": len(logData) + 1000}), "past the end of the log"; !strings.Contains(got, want) {
		t.Errorf("logs of the live run past its end = %q, want an error with %q", got, want)
	}
	got := s.call("logs", map[string]any{"node": "bad", "offset": 5, "limit": 20}, &lo)
	if want := string(logData[5:25]); got != want || lo.NextOffset != 25 || lo.EOF {
		t.Errorf("logs offset 5 limit 20 = %q (%+v), want %q, next 25, not eof", got, lo, want)
	}
	var whole strings.Builder
	for off, pages := int64(0), 0; ; pages++ {
		if pages > len(logData)/100+2 {
			t.Fatalf("logs never said eof after %d pages", pages)
		}
		var p logsOut
		whole.WriteString(s.call("logs", map[string]any{"node": "bad", "offset": off, "limit": 100}, &p))
		if p.Offset != off {
			t.Fatalf("logs from %d says offset %d", off, p.Offset)
		}
		off = p.NextOffset
		if p.EOF {
			break
		}
	}
	if whole.String() != string(logData) {
		t.Errorf("logs paged by 100 = %d bytes, want the log file's %d bytes", whole.Len(), len(logData))
	}
	if got := s.call("logs", map[string]any{"node": "bad", "tail": 3}, nil); got != lastLines(string(logData), 3) {
		t.Errorf("logs tail 3 = %q, want %q", got, lastLines(string(logData), 3))
	}

	// ANSI escapes are stripped, unless asked for.
	if got := s.call("logs", map[string]any{"node": "build"}, nil); !strings.HasSuffix(got, "\nbuilding\n") {
		t.Errorf("logs of build = %q, want its line without escapes", got)
	}
	buildLog, err := os.ReadFile(filepath.Join(c.dir, filepath.Dir(bad.Log), "build.log"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.call("logs", map[string]any{"node": "build", "keep_ansi": true}, nil); got != string(buildLog) || !strings.Contains(got, "\x1b[1;31m") {
		t.Errorf("logs of build, keep_ansi = %q, want the file's bytes %q", got, buildLog)
	}

	// Fix, rerun, and the run goes green.
	c.write("fixed", "")
	var rr struct {
		Reset []string `json:"reset"`
	}
	s.call("rerun", map[string]any{"node": "bad"}, &rr)
	if len(rr.Reset) != 1 || !strings.HasPrefix(rr.Reset[0], "bad@") {
		t.Errorf("rerun bad reset %v, want bad alone (nothing depends on it)", rr.Reset)
	}
	c.write("gate", "")
	txt = s.call("wait", nil, &w)
	if w.Outcome != "settled" || w.Verdict != "passed" || len(w.Failed) != 0 || w.Run.Live {
		t.Fatalf("wait after the fix = %+v\n%s\nwant settled and passed", w, txt)
	}
	var st statusOut
	s.call("status", nil, &st)
	if b := find(st.Nodes, "bad"); b == nil || b.Status != "success" || b.Attempt != 2 || st.Verdict != "passed" {
		t.Errorf("status after the rerun = %+v, want bad green on attempt 2", st)
	}
	waitGone(t, run.Run.PID, 30*time.Second)

	// Once the run is over, logs come from the record's files: the same
	// bytes, attempt 2's.
	if logData, err = os.ReadFile(filepath.Join(c.dir, bad.Log)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(logData), "fixed now\n") {
		t.Fatalf("bad's log after the rerun ends %q, want attempt 2's", lastLines(string(logData), 2))
	}
	got = s.call("logs", map[string]any{"node": "bad", "offset": 100, "limit": 50}, &lo)
	if want := string(logData[100:150]); got != want || lo.NextOffset != 150 || lo.EOF || !lo.Finished {
		t.Errorf("logs of the finished run, offset 100 limit 50 = %q (%+v), want %q, next 150", got, lo, want)
	}
	got = s.call("logs", map[string]any{"node": "bad", "offset": len(logData) - 10, "limit": 50}, &lo)
	if want := string(logData[len(logData)-10:]); got != want || !lo.EOF || lo.NextOffset != int64(len(logData)) {
		t.Errorf("logs of the finished run, its last 10 bytes = %q (%+v), want %q and eof", got, lo, want)
	}
	if got := s.call("logs", map[string]any{"node": "bad", "tail": 2}, nil); got != lastLines(string(logData), 2) {
		t.Errorf("logs tail 2 of the finished run = %q, want %q", got, lastLines(string(logData), 2))
	}
	// At the end of the file: nothing more, eof. Past it: an error that
	// says the log's size, as a live run's log answers.
	got = s.call("logs", map[string]any{"node": "bad", "offset": len(logData)}, &lo)
	if got != "" || !lo.EOF || lo.NextOffset != int64(len(logData)) {
		t.Errorf("logs of the finished run from its end = %q (%+v), want nothing, eof, next %d", got, lo, len(logData))
	}
	past := len(logData) + 1000
	if got, want := s.callErr("logs", map[string]any{"node": "bad", "offset": past}), fmt.Sprintf("from %d is past the end of the log (%d bytes)", past, len(logData)); !strings.Contains(got, want) {
		t.Errorf("logs of the finished run from %d = %q, want an error with %q", past, got, want)
	}
}

// untilLog reads a node's log until it holds want: the node got that far.
// Each read is a tool call that answers at once; the test's deadline bounds it.
func (s *server) untilLog(node, want string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.call("logs", map[string]any{"node": node}, nil), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the log of %s never showed %q within 30s", node, want)
		}
	}
}

// long runs until the file gate (an absolute path) is there.
func long(gate string) string {
	return fmt.Sprintf("[metadata(\"ci\")]\nci: long\n\nlong:\n    #!/bin/sh\n    echo started long; while [ ! -f %s ]; do sleep 0.05; done\n", gate)
}

// TestStillRunningSurvivesCancel: a wait whose deadline comes first says
// the run goes on, which is not a failure; the run goes on when the
// server is killed, a terminal still sees it, and a new server cancels it.
func TestStillRunningSurvivesCancel(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	c := newCheckout(t, long(gate))
	s := c.serve()
	var run runOut
	s.call("run", nil, &run) // strict: a snapshot of HEAD
	c.started(run)

	var w waitOut
	txt := s.call("wait", map[string]any{"timeout_seconds": 1}, &w)
	if w.Outcome != "still_running" || w.Verdict != "running" || len(w.Failed) != 0 ||
		!slices.ContainsFunc(w.Running, func(id string) bool { return strings.HasPrefix(id, "long@") }) {
		t.Fatalf("wait with a 1s deadline = %+v\n%s\nwant still_running with long running", w, txt)
	}
	if !strings.Contains(txt, "STILL RUNNING") || strings.Contains(strings.ToLower(txt), "failed") {
		t.Errorf("wait's text does not say plainly that the run goes on:\n%s", txt)
	}

	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.sess.Close() // reaps it (the transport owns its Wait)
	out, code := c.odu("status")
	if code != 0 || strings.Contains(out, "No run is live") || !strings.Contains(out, "running   long@") {
		t.Fatalf("odu status after odu mcp was killed = %d\n%s\nwant the live run, long running", code, out)
	}

	s2 := c.serve()
	var st statusOut
	s2.call("status", nil, &st)
	if st.Verdict != "running" || !st.Run.Live || st.Run.PID != run.Run.PID || st.Run.Ref != run.Run.Ref {
		t.Fatalf("status from a new server = %+v, want the same live run %+v", st, run.Run)
	}
	var cn struct {
		Cancelled string `json:"cancelled"`
		Was       string `json:"was"`
	}
	s2.call("cancel", map[string]any{"node": "long"}, &cn)
	if !strings.HasPrefix(cn.Cancelled, "long@") || cn.Was != "running" {
		t.Errorf("cancel long = %+v, want long stopped while running", cn)
	}
	s2.call("wait", map[string]any{"timeout_seconds": 60}, &w)
	if l := find(w.Failed, "long"); w.Outcome != "settled" || w.Verdict != "failed" || l == nil || l.Status != "cancelled" {
		t.Errorf("wait after cancelling long = %+v, want settled, long cancelled", w)
	}
	waitGone(t, run.Run.PID, 30*time.Second)

	// The whole run, cancelled.
	s2.call("run", nil, &run)
	c.started(run)
	// At once, while the run starts: a cancel that reaches the lane's
	// runner before its nodes is kept (runner.TestCancelBeforeConfigure).
	s2.call("cancel", nil, &cn)
	if cn.Cancelled != "run" {
		t.Errorf("cancel = %+v, want the run", cn)
	}
	s2.call("wait", map[string]any{"timeout_seconds": 60}, &w)
	if want := strings.TrimSpace(c.git("rev-parse", "HEAD"))[:7] + "#2"; w.Outcome != "settled" || w.Verdict != "cancelled" || w.Run.Ref != want {
		t.Errorf("wait after cancelling the run = %+v, want run %s settled as cancelled", w, want)
	}
	waitGone(t, run.Run.PID, 30*time.Second)
}

// TestResources: the run is a resource that a subscriber is told about
// as it changes, from its start to its end; a node's log is one too.
func TestResources(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	c := newCheckout(t, long(gate))
	s := c.serve()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.sess.ListResources(ctx, nil)
	if err != nil || len(res.Resources) != 1 || res.Resources[0].URI != "odu://run" {
		t.Fatalf("resources/list = %+v, %v; want odu://run", res, err)
	}
	tmpl, err := s.sess.ListResourceTemplates(ctx, nil)
	if err != nil || len(tmpl.ResourceTemplates) != 1 || tmpl.ResourceTemplates[0].URITemplate != "odu://logs/{+node}" {
		t.Fatalf("resources/templates/list = %+v, %v; want odu://logs/{+node}", tmpl, err)
	}
	if err := s.sess.Subscribe(ctx, &sdk.SubscribeParams{URI: "odu://run"}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	var run runOut
	s.call("run", map[string]any{"no_strict": true}, &run)
	c.started(run)
	read := func(uri string) string {
		t.Helper()
		r, err := s.sess.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
		if err != nil || len(r.Contents) != 1 {
			t.Fatalf("read %s: %+v, %v", uri, r, err)
		}
		return r.Contents[0].Text
	}
	// Each update is followed by a read, until the run says want.
	until := func(want string) statusOut {
		t.Helper()
		for {
			select {
			case uri := <-s.updates:
				var st statusOut
				if err := json.Unmarshal([]byte(read(uri)), &st); err != nil || uri != "odu://run" {
					t.Fatalf("update of %s: %v", uri, err)
				}
				if st.Verdict == want && st.Run.PID == run.Run.PID {
					return st
				}
			case <-ctx.Done():
				t.Fatalf("no update of odu://run said %s within a minute", want)
			}
		}
	}
	until("running")
	s.untilLog("long", "started long")
	if got := read("odu://logs/long"); !strings.Contains(got, "started long") {
		t.Errorf("odu://logs/long = %q, want long's log", got)
	}
	// A node id as typed (its @ as it is), and as the template expands
	// it (percent-encoded): the same log.
	for _, uri := range []string{"odu://logs/long@" + string(platform.Local()), "odu://logs/long%40" + string(platform.Local())} {
		if got := read(uri); !strings.Contains(got, "started long") {
			t.Errorf("%s = %q, want long's log", uri, got)
		}
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := until("passed"); find(st.Nodes, "long") == nil {
		t.Errorf("the run at its end = %+v", st)
	}
	if err := s.sess.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: "odu://run"}); err != nil {
		t.Errorf("unsubscribe: %v", err)
	}
	waitGone(t, run.Run.PID, 30*time.Second)
}

// TestRunRefusals: a run that refuses comes back as the tool's error,
// with what odu run says: a dirty tree in strict mode, a run already live.
func TestRunRefusals(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	c := newCheckout(t, long(gate))
	s := c.serve()
	c.write("notes.txt", "uncommitted")
	got := s.callErr("run", nil)
	if !strings.Contains(got, "uncommitted changes") || !strings.Contains(got, "notes.txt") || !strings.Contains(got, "hint:") || !strings.Contains(got, "exit 2") {
		t.Errorf("run on a dirty tree = %q, want odu run's refusal naming notes.txt, with its hint", got)
	}
	var run runOut
	s.call("run", map[string]any{"no_strict": true}, &run)
	c.started(run)
	got = s.callErr("run", map[string]any{"no_strict": true})
	if !strings.Contains(got, fmt.Sprintf("a run is already live in this checkout (pid %d", run.Run.PID)) || !strings.Contains(got, "hint:") {
		t.Errorf("a second run = %q, want the refusal naming the live run's pid %d", got, run.Run.PID)
	}
	if got := s.callErr("rerun", map[string]any{"node": "lnog"}); !strings.Contains(got, "long") {
		t.Errorf("rerun of a misspelled node = %q, want the closest name", got)
	}
	// Once long runs, so that the cancel stops a running node.
	s.untilLog("long", "started long")
	s.call("cancel", nil, nil)
	waitGone(t, run.Run.PID, 30*time.Second)
	if got := s.callErr("cancel", nil); !strings.Contains(got, "no run is live") || !strings.Contains(got, "hint:") {
		t.Errorf("cancel with no run = %q, want no run live, and a hint", got)
	}
}

// TestBadArguments: arguments that do not fit a tool's schema are tool
// errors that say so, and the server goes on answering.
func TestBadArguments(t *testing.T) {
	c := newCheckout(t, "[metadata(\"ci\")]\nci:\n    true\n")
	s := c.serve()
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"logs", map[string]any{"node": 5}},
		{"logs", map[string]any{"node": "ci", "offset": "x"}},
		{"wait", map[string]any{"timeout_seconds": "soon"}},
		{"rerun", map[string]any{}},
		{"status", map[string]any{"bogus": 1}},
		{"run", map[string]any{"platforms": "x86_64-linux"}},
		{"pipeline", map[string]any{"no_deps": "yes"}},
	} {
		if got := s.callErr(tc.tool, tc.args); !strings.Contains(got, "validating") {
			t.Errorf("%s %v = %q, want a schema error", tc.tool, tc.args, got)
		}
	}
	if got := s.callErr("logs", map[string]any{"node": "ci", "offset": -1}); !strings.Contains(got, "negative") {
		t.Errorf("logs at offset -1 = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.sess.CallTool(ctx, &sdk.CallToolParams{Name: "nosuch"}); err == nil {
		t.Errorf("an unknown tool was called without an error")
	}
	if _, err := s.sess.ListTools(ctx, nil); err != nil {
		t.Errorf("the server stopped answering after bad arguments: %v", err)
	}
}

// TestIndependentClient: a client odu did not write, a few lines of
// Python speaking newline-delimited JSON-RPC, gets the tools and their
// answers.
func TestIndependentClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is missing: run `bash .ci/setup`")
	}
	c := newCheckout(t, "[metadata(\"ci\")]\nci: build\n\nbuild:\n    true\n")
	const script = `
import json, subprocess, sys
p = subprocess.Popen([sys.argv[1], "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
def send(m): p.stdin.write(json.dumps(m) + "\n"); p.stdin.flush()
def answer(i):
    while True:
        m = json.loads(p.stdout.readline())
        if m.get("id") == i: return m
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "py", "version": "0"}}})
init = answer(1)
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
tools = answer(2)
send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "pipeline", "arguments": {}}})
pipeline = answer(3)
send({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "status", "arguments": {}}})
status = answer(4)
p.stdin.close()
print(json.dumps({"server": init["result"]["serverInfo"]["name"],
    "tools": sorted(t["name"] for t in tools["result"]["tools"]),
    "pipeline": json.loads(pipeline["result"]["content"][0]["text"]),
    "status_error": status["result"].get("isError", False), "status": status["result"]["content"][0]["text"]}))
sys.exit(p.wait())
`
	cmd := exec.Command(python, "-c", script, filepath.Join(c.bin, "odu"))
	cmd.Dir, cmd.Env = c.dir, c.env
	cmd.Stderr = &testWriter{t: t}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the Python client: %v\n%s", err, out)
	}
	var got struct {
		Server   string   `json:"server"`
		Tools    []string `json:"tools"`
		Pipeline struct {
			Root  string `json:"root"`
			Nodes []struct {
				ID string `json:"id"`
			} `json:"nodes"`
		} `json:"pipeline"`
		StatusError bool   `json:"status_error"`
		Status      string `json:"status"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the Python client printed %s: %v", out, err)
	}
	if got.Server != "odu" || !slices.Equal(got.Tools, []string{"cancel", "logs", "pipeline", "rerun", "run", "runs", "status", "wait"}) {
		t.Errorf("Python client: server %q, tools %v", got.Server, got.Tools)
	}
	if got.Pipeline.Root != "ci" || len(got.Pipeline.Nodes) != 1 || !strings.HasPrefix(got.Pipeline.Nodes[0].ID, "build@") {
		t.Errorf("Python client: pipeline %+v, want build, under ci", got.Pipeline)
	}
	if !got.StatusError || !strings.Contains(got.Status, "no run is live") || !strings.Contains(got.Status, "hint:") {
		t.Errorf("Python client: status = %v %q, want the error that no run is live, with its hint", got.StatusError, got.Status)
	}
}
