package runner_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/surface"
)

// once is a node that appends its pid to $PIDS and runs for a while: the
// pids file lists every copy of it that ever started.
const once = `
[metadata("ci")]
ci: x
    @echo ci

x:
    #!/bin/sh
    echo $$ >> "$PIDS"
    echo start $$
    exec sleep 25
`

// pids returns the pids in a file of one pid per line.
func pids(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return strings.Fields(string(data))
}

// alive returns which of pids are processes that have not exited (a
// zombie has).
func alive(pids []string) []string {
	var out []string
	for _, pid := range pids {
		if state, _, ok := proc.Stat(pid); ok && state != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// waitLines waits until a file has at least n lines.
func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(pids(t, path)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d lines, not %d, after 30s", path, len(pids(t, path)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// allGone waits for every pid in the list to exit, killing and naming
// those that have not after a bound.
func allGone(t *testing.T, list []string, why string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := alive(list)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				n, _ := strconv.Atoi(pid)
				syscall.Kill(n, syscall.SIGKILL)
			}
			t.Fatalf("copies of the node still running 5s after %s: %v (of %v)", why, left, list)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Fifty reruns and cancels of one node at once, five times over: they
// are taken one at a time, so the node never runs twice at once (two
// copies in one workspace, writing one log, the first one's handle lost),
// every request gets an answer that is a result or a refusal, and once
// the run is cancelled no copy is left or starts.
func TestConcurrentReruns(t *testing.T) {
	pidsFile := filepath.Join(t.TempDir(), "pids")
	l := startWith(t, once, 2, func(c *surface.Config) {
		c.Env = append(c.Env, "PIDS="+pidsFile)
		c.GraceMS = 500
	})
	x := id("x")
	waitLines(t, pidsFile, 1)

	// Watch the copies alive, as the requests come, until told to stop.
	var most int
	var mostAt []string
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			data, _ := os.ReadFile(pidsFile)
			if now := alive(strings.Fields(string(data))); len(now) > most {
				most, mostAt = len(now), now
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	const rounds, requests = 5, 50
	type answer struct {
		rerun bool
		rr    surface.RerunResult
		cr    surface.CancelResult
		err   error
	}
	var answers []answer
	for round := range rounds {
		if round > 0 {
			// The node runs again before each round: a rerun starts it
			// (or it is pending, and starts by itself).
			n := len(pids(t, pidsFile))
			if _, err := l.cl.RerunNode(tctx(t), x); err != nil && !strings.Contains(err.Error(), "has not started yet") {
				t.Fatalf("round %d: rerun: %v", round, err)
			}
			waitLines(t, pidsFile, n+1)
		}
		batch := make([]answer, requests)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				a := &batch[i]
				a.rerun = i%2 == 0
				if a.rerun {
					a.rr, a.err = l.cl.RerunNode(tctx(t), x)
				} else {
					a.cr, a.err = l.cl.CancelNodeResult(tctx(t), x)
				}
			}()
		}
		close(gate)
		wg.Wait()
		answers = append(answers, batch...)
	}
	if err := l.cl.CancelRun(tctx(t)); err != nil {
		t.Fatal(err)
	}
	// run.cancel returns once every node has stopped.
	started := pids(t, pidsFile)
	allGone(t, started, "run.cancel returned")
	st, _ := l.settle(t)
	// Once the runner has exited, every copy that ever started has
	// written its pid: none may have started after run.cancel returned.
	l.cl.Close()
	exited := make(chan struct{})
	go func() { l.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		l.cmd.Process.Kill()
		t.Fatalf("the runner did not exit within 30s of its stdin closing")
	}
	close(stop)
	<-watched
	if after := pids(t, pidsFile); len(after) != len(started) {
		allGone(t, after, "the runner exited")
		t.Errorf("copies started after run.cancel returned: %v", after[len(started):])
	}
	if most > 1 {
		t.Errorf("%d copies of %s ran at once (pids %v); want at most 1", most, x, mostAt)
	}
	resets, refusedN, joined := 0, 0, 0
	for i, a := range answers {
		var e *surface.Error
		switch {
		case a.err == nil && a.rerun && a.rr.Joined:
			joined++
		case a.err == nil && a.rerun:
			if !slices.Contains(a.rr.Reset, x) {
				t.Errorf("request %d: rerun reset %v, not %s", i, a.rr.Reset, x)
			}
			resets++
		case a.err == nil && a.cr.Joined:
			joined++
		case a.err == nil:
			if a.cr.Was != surface.Running && a.cr.Was != surface.Pending {
				t.Errorf("request %d: cancel of a node that was %q", i, a.cr.Was)
			}
		case errors.As(a.err, &e) && e.Code == surface.CodeRefused:
			refusedN++
		default:
			t.Errorf("request %d (rerun %v): %v", i, a.rerun, a.err)
		}
	}
	// Each copy after the first was started by a rerun that reset the node.
	if len(started) > 1+resets+rounds-1 {
		t.Errorf("%d copies started, after %d reruns that reset the node", len(started), resets)
	}
	if n := st.Node(x); n.Status != surface.Cancelled {
		t.Errorf("%s after the run was cancelled: %s", x, n.Status)
	}
	t.Logf("%d requests: %d reruns reset the node, %d joined another, %d refused; %d copies started, at most %d at once",
		len(answers), resets, joined, refusedN, len(started), most)
}

// A rerun that comes while another rerun of the node is stopping it waits
// for it and says so: the attempt the other one started is the one it
// asked for, and the node is not restarted again.
func TestRerunJoinsARerunUnderWay(t *testing.T) {
	dir := t.TempDir()
	pidsFile, termFile := filepath.Join(dir, "pids"), filepath.Join(dir, "term")
	// The first copy takes SIGTERM slowly: it says it got it, then lives
	// on until SIGKILL, at the end of the grace period.
	l := startWith(t, `
[metadata("ci")]
ci: x
    @echo ci

x:
    #!/bin/sh
    echo $$ >> "$PIDS"
    trap 'touch "$TERMED"' TERM
    while :; do sleep 0.05; done
`, 2, func(c *surface.Config) {
		c.Env = append(c.Env, "PIDS="+pidsFile, "TERMED="+termFile)
		c.GraceMS = 3000
	})
	x := id("x")
	waitLines(t, pidsFile, 1)

	first := make(chan surface.RerunResult)
	go func() {
		res, err := l.cl.RerunNode(tctx(t), x)
		if err != nil {
			t.Errorf("first rerun: %v", err)
		}
		first <- res
	}()
	// The first rerun has stopped the node and waits for it to exit.
	for {
		if _, err := os.Stat(termFile); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	second, err := l.cl.RerunNode(tctx(t), x)
	if err != nil {
		t.Fatalf("second rerun: %v", err)
	}
	one := <-first
	if one.Joined || !slices.Equal(one.Reset, []string{x, id("ci")}) || one.Attempt != 2 {
		t.Errorf("first rerun = %+v, want x and ci reset, attempt 2", one)
	}
	if !second.Joined || second.Attempt != 2 || len(second.Reset) != 0 {
		t.Errorf("second rerun = %+v, want joined to attempt 2, nothing reset", second)
	}
	waitLines(t, pidsFile, 2)
	if err := l.cl.CancelRun(tctx(t)); err != nil {
		t.Fatal(err)
	}
	l.settle(t)
	started := pids(t, pidsFile)
	if len(started) != 2 {
		t.Errorf("copies started: %v, want 2 (the first, and one rerun)", started)
	}
	allGone(t, started, "the run was cancelled")
}

// Procedures with nothing to do, or that would not do what was asked, are
// refused, and say what is true.
func TestProcedureRefusals(t *testing.T) {
	l := start(t, `
[metadata("ci")]
ci: after ok
    @echo ci

fail:
    @exit 3

after: fail
    @echo never

ok:
    @echo ok
`, 2)
	l.settle(t)
	refusal := func(what string, err error, want string) {
		t.Helper()
		var e *surface.Error
		if !errors.As(err, &e) || e.Code != surface.CodeRefused || e.Message != want {
			t.Errorf("%s: %v, want refused: %q", what, err, want)
		}
	}
	_, err := l.cl.CancelNodeResult(tctx(t), id("ok"))
	refusal("cancel of a node that succeeded", err, id("ok")+" already finished: success; nothing to cancel")
	_, err = l.cl.CancelNodeResult(tctx(t), id("after"))
	refusal("cancel of a skipped node", err, id("after")+" was skipped ("+id("fail")+" did not succeed): nothing to cancel")
	_, err = l.cl.RerunNode(tctx(t), id("ci"))
	refusal("rerun of a node skipped for a failed dependency", err,
		id("ci")+" was skipped: its dependency "+id("fail")+" (failure) did not succeed, so it would be skipped again; rerun it (`odu rerun "+id("fail")+"`): "+id("ci")+" runs after")

	// Rerunning the failed dependency reruns the skipped node after it.
	res, err := l.cl.RerunNode(tctx(t), id("fail"))
	if err != nil || !slices.Equal(res.Reset, []string{id("fail"), id("after"), id("ci")}) {
		t.Errorf("rerun of fail = %+v, %v; want fail, after and ci reset", res, err)
	}
	l.settle(t)

	if err := l.cl.CancelRun(tctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err = l.cl.RerunNode(tctx(t), id("ok"))
	refusal("rerun after the run was cancelled", err, "the run was cancelled: "+id("ok")+" is not rerun; start a new run with `odu run`")
}
