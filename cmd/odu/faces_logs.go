package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// LogsCmd prints a node's log.
type LogsCmd struct {
	Follow  bool   `short:"f" help:"Follow the log as it grows, until the node finishes; with no run live or starting, print the last run's if it is of HEAD's commit, else wait for a run."`
	Node    string `arg:"" predictor:"node" help:"The node: RECIPE, RECIPE@PLATFORM, MODULE::RECIPE; or a lane's setup log."`
	RunRef  string `name:"run" placeholder:"REF" help:"${run_help}"`
	Attempt int    `type:"positive" placeholder:"N" help:"Print attempt N of the node (each rerun is an attempt; the default is the newest)."`

	past *runstate.Last // the run --run names, when it is not live
}

// Help is the long description of `odu logs`.
func (*LogsCmd) Help() string {
	return `Print a node's log, byte for byte as the recipe wrote it, from the live run or, when
none is, from the last run. With -f, follow it as it grows and return when the node
finishes; a rerun starts the log over.

A lane's setup log, how its runner was brought up (on a build host: the connection,
the source sent, the runner started), is .setup@PLATFORM, or .setup when the run
has one lane.

Every attempt of a node is kept: --attempt N prints an earlier one (a rerun's
first attempt, the failure you were debugging), and --run REF a node of an earlier
run (` + "`odu runs`" + ` lists them).`
}

// Examples are shown by `odu logs --help`.
func (*LogsCmd) Examples() []string {
	return []string{"odu logs build", "odu logs -f e2e@x86_64-linux", "odu logs .setup@aarch64-linux",
		"odu logs test --attempt 1        # before the rerun", "odu logs test --run 3f9c2ab#2"}
}

// Run copies the log to stdout.
func (c *LogsCmd) Run(ctx context.Context, env *Env) error {
	var cl *surface.Client
	var root string
	var err error
	if root, c.past, err = pastRun(ctx, env, c.RunRef); err != nil {
		return err
	}
	if c.past != nil {
		return c.fromRecord(env, root, nil, surface.NodeLogParams{})
	}
	if c.Follow {
		// Like odu wait: the live or starting run, else the last of HEAD's
		// commit, else the next.
		a, err := awaitRun(ctx, env, "odu logs", time.Second, false)
		if err != nil {
			return err
		}
		if a.last != nil {
			return c.fromRecord(env, a.root, nil, surface.NodeLogParams{})
		}
		cl, root = a.cl, a.root
	} else {
		cl, root, err = attach(ctx, env, "odu logs", false)
		if errors.Is(err, runstate.ErrNoRun) {
			return c.fromRecord(env, root, nil, surface.NodeLogParams{})
		}
		if err != nil {
			return err
		}
	}
	// cl changes when the loop attaches again, and is nil if that failed.
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	st, err := current(ctx, cl)
	if err != nil {
		return failed(ctx, err)
	}
	id, _, err := pickLog(st, c.Node)
	if err != nil {
		return err
	}
	if n := st.Node(id); c.Attempt != 0 && (n == nil || c.Attempt != n.Attempt) {
		// An earlier attempt is over: its file is all there is of it.
		return c.printFile(env, root, st, id)
	}
	// Raw: the bytes as they are, not base64 in JSON, which cost the
	// run's coordinator most of its CPU with ten of these following a
	// fast log (BENCHMARKS.md, "Many faces").
	p := surface.NodeLogParams{ID: id, NoFollow: !c.Follow, Raw: true}
	resumed := int64(-1) // the offset of the last resumption: once per progress
	wrote := false       // whether this attempt had any bytes
	for {
		ls, err := cl.Log(p)
		if err != nil {
			return failed(ctx, fmt.Errorf("read the log of %s: %w", id, err))
		}
		for {
			chunk, err := ls.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil && ctx.Err() == nil && cl.Err() != nil && p.From > resumed {
				// The connection ended: the run cut this client off for
				// not reading (a pager left on one page), or the run is
				// over. Attach again and go on from the offset reached,
				// or read the rest from the run's record.
				resumed = p.From
				cl.Close()
				cl, err = reattach(ctx, env, st.Run)
				if err != nil {
					return failed(ctx, err)
				}
				if cl == nil {
					return c.fromRecord(env, root, &st, p)
				}
				break
			}
			if err != nil {
				return failed(ctx, fmt.Errorf("read the log of %s: %w", id, err))
			}
			_, err = env.Stdout.Write(chunk.Data)
			p.Attempt, p.From = chunk.Attempt, chunk.Offset+chunk.Len()
			wrote = wrote || chunk.Len() > 0
			chunk.Release()
			if err != nil {
				ls.Close()
				return nil // the reader went away (| head)
			}
		}
		end := ls.End()
		if end == nil {
			continue // attached again: resume at p
		}
		if !end.Restarted || !c.Follow {
			if !wrote && end.Finished {
				if now, err := current(ctx, cl); err == nil {
					if n := now.Node(id); n != nil && n.Status == surface.Skipped {
						return skipped(*n)
					}
				}
			}
			return nil
		}
		fmt.Fprintf(env.Stderr, "odu: %s was rerun; following attempt %d\n", id, end.Attempt+1)
		p.Attempt, p.From, wrote = end.Attempt+1, 0, false
	}
}

// fromRecord prints a node's log from the last run's record. Following
// a live run that went away (live is its state when attached), it prints
// the rest of the attempt it was reading, from p.From, and only from that
// run's own record: another run's log, of this commit or another, is not
// the rest of this one. A run killed before it recorded the node finished
// ends the log with an error.
func (c *LogsCmd) fromRecord(env *Env, root string, live *surface.State, p surface.NodeLogParams) error {
	var last runstate.Last
	var err error
	if c.past != nil {
		last = *c.past
	} else {
		last, err = lastRecord(env, root)
	}
	st := last.State
	if live != nil && (err != nil || !sameRun(st.Run, live.Run)) {
		return lostRun(env, root, *live, p.ID)
	}
	if errors.Is(err, runstate.ErrNoRecord) {
		return noRun()
	}
	if err != nil {
		return err
	}
	id, path, err := pickLog(st, c.Node)
	if err != nil {
		return err
	}
	n := st.Node(id)
	if live == nil && c.Attempt != 0 {
		return c.printFile(env, root, st, id)
	}
	if live == nil && n != nil && n.Status == surface.Skipped {
		return skipped(*n)
	}
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer f.Close()
	if live != nil {
		switch {
		case n != nil && p.Attempt != 0 && n.Attempt != p.Attempt:
			fmt.Fprintf(env.Stderr, "odu: %s was rerun; following attempt %d\n", id, n.Attempt)
		case p.From > 0:
			if _, err := f.Seek(p.From, io.SeekStart); err != nil {
				return fmt.Errorf("read the log of %s: %w", id, err)
			}
		}
	}
	lr := &logReader{f: f}
	_, _ = io.Copy(env.Stdout, lr) // a reader that went away (| head) is no error: only lr's are
	if lr.err != nil {
		return fmt.Errorf("read the log of %s: %w", id, lr.err)
	}
	if live != nil && n != nil && (!n.Status.Terminal() || last.Unfinished[id]) {
		return lostRun(env, root, *live, id) // the record of a run that was killed
	}
	return nil
}

// printFile prints attempt c.Attempt of node id, a finished one, from
// its file: the run's directory keeps every attempt (see
// [runstate.AttemptLog]).
func (c *LogsCmd) printFile(env *Env, root string, st surface.State, id string) error {
	n := st.Node(id)
	if n == nil || n.Log == "" {
		return &hinted{msg: fmt.Sprintf("--attempt %d: %s has no attempts, only its log", c.Attempt, id), hint: "Leave out --attempt."}
	}
	if c.Attempt > n.Attempt {
		return &hinted{msg: fmt.Sprintf("--attempt %d: %s of run %s has had %s", c.Attempt, id, st.Run.Ref, plural(n.Attempt, "attempt")),
			hint: fmt.Sprintf("Give an attempt from 1 to %d.", n.Attempt)}
	}
	rel := runstate.AttemptLog(n.Log, n.Attempt, c.Attempt)
	f, err := os.Open(filepath.Join(root, rel))
	if errors.Is(err, os.ErrNotExist) {
		return &ExitError{Code: 1, Err: fmt.Errorf("attempt %d of %s left no log (%s): it never ran, or its run is older than odu's history of attempts", c.Attempt, id, rel)}
	}
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer f.Close()
	lr := &logReader{f: f}
	_, _ = io.Copy(env.Stdout, lr) // a reader that went away (| head) is no error: only lr's are
	if lr.err != nil {
		return fmt.Errorf("read the log of %s: %w", id, lr.err)
	}
	return nil
}

// reattach connects again to the run that `odu logs` follows. It returns
// no client when that run is over, or another took its place.
func reattach(ctx context.Context, env *Env, run surface.Run) (*surface.Client, error) {
	cl, _, err := attach(ctx, env, "odu logs", false)
	if err != nil && !errors.Is(err, runstate.ErrNoRun) && ctx.Err() == nil {
		// A run that is being killed may still take a connection as it
		// dies, and reset it; once it did, its socket refuses: look again.
		cl, _, err = attach(ctx, env, "odu logs", false)
	}
	if errors.Is(err, runstate.ErrNoRun) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now, err := current(ctx, cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if !sameRun(now.Run, run) {
		cl.Close()
		return nil, nil
	}
	return cl, nil
}

// lostRun is how `odu logs -f` ends when the run it follows ended before
// the node finished and left no record of it finishing: odu run was killed.
func lostRun(env *Env, root string, live surface.State, id string) error {
	h := &hinted{msg: "the run ended before " + id + " finished (was odu run killed?)",
		hint: "`odu status` shows the last recorded run."}
	if n := live.Node(id); n != nil && n.Log != "" {
		h.hint = "What it wrote is in " + here(env, root, n.Log) + "; `odu status` shows the last recorded run."
	}
	return &ExitError{Code: 1, Err: h}
}

// skipped is what `odu logs` says of a node that never ran.
func skipped(n surface.Node) error {
	why := ""
	if n.Reason != "" {
		why = " (" + n.Reason + ")"
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%s was skipped%s: it never ran, so it has no log", n.ID, why)}
}

// logReader reads a log's file, keeping its read error apart from the
// writer's: a reader of odu logs that went away (| head) is no error, a
// log that cannot be read is.
type logReader struct {
	f   *os.File
	err error
}

func (r *logReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}
