package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// StatusCmd shows the run's nodes.
type StatusCmd struct {
	Output string `short:"o" enum:"text,json" default:"text" placeholder:"text|json" help:"Print a table, or the run's whole state as JSON."`
	RunRef string `name:"run" placeholder:"REF" help:"${run_help}"`
}

// Help is the long description of `odu status`.
func (*StatusCmd) Help() string {
	return `Show the nodes of the run live in this checkout, or, when none is, of the last run,
marked as finished. Exits 1 when there is neither. With --run, the run that REF
names (` + "`odu runs`" + ` lists them), from its record when it is not live.`
}

// Run prints the state.
func (c *StatusCmd) Run(ctx context.Context, env *Env) error {
	_, past, err := pastRun(ctx, env, c.RunRef)
	if err != nil {
		return err
	}
	head := "No run is live in this checkout; the last one:"
	var st surface.State
	live := false
	if past != nil {
		st, head = past.State, "Run "+past.State.Run.Ref+" (not live), from its record:"
	} else if st, live, err = liveOrLast(ctx, env); err != nil {
		return err
	}
	if c.Output == "json" {
		data, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintf(env.Stdout, "%s\n", data)
		return nil
	}
	printStatus(env.Stdout, st, live, head, useColor(env))
	return nil
}

// liveOrLast returns the live run's state, or the last recorded run's.
func liveOrLast(ctx context.Context, env *Env) (surface.State, bool, error) {
	cl, root, err := attach(ctx, env, "odu status", false)
	switch {
	case err == nil:
		defer cl.Close()
		st, err := current(ctx, cl)
		if err != nil {
			return st, true, failed(ctx, err)
		}
		return st, true, nil
	case errors.Is(err, runstate.ErrNoRun):
		last, err := lastRecord(env, root)
		if errors.Is(err, runstate.ErrNoRecord) {
			return last.State, false, &ExitError{Code: 1, Err: &hinted{msg: "no run is live in this checkout, and none has been recorded", hint: "Start one with `odu run`."}}
		}
		return last.State, false, err
	}
	return surface.State{}, false, err
}

// printStatus prints a run's state; head is the line above a run that
// is not live.
func printStatus(w io.Writer, st surface.State, live bool, head string, colour bool) {
	when := "running for " + duration(time.Since(st.Run.Started))
	switch {
	case st.Run.Ended != nil:
		when = "finished " + st.Run.Ended.Local().Format("2006-01-02 15:04:05") + ", took " + duration(st.Run.Ended.Sub(st.Run.Started))
	case !live:
		// Its record was never finished: odu run was killed.
		when = fmt.Sprintf("started %s, did not finish (odu run, pid %d, was killed or crashed)", st.Run.Started.Local().Format("2006-01-02 15:04:05"), st.Run.PID)
	}
	if !live {
		fmt.Fprintln(w, head)
	}
	fmt.Fprintf(w, "%s, %s\n", runLine(st), when)
	line := counts(st)
	if eta := look.ETA(st, time.Now()); eta != "" && live {
		line += "; " + eta
	}
	fmt.Fprintf(w, "%s\n", line)
	if st.Run.RerunOf != "" {
		fmt.Fprintf(w, "a rerun of %s: the nodes it did not run are carried over\n", st.Run.RerunOf)
	}
	if st.Run.Superseded != "" {
		fmt.Fprintf(w, "superseded by %s\n", st.Run.Superseded)
	}
	for _, l := range st.Lanes {
		if l.Phase == surface.PhaseReconnecting || l.Phase == surface.PhaseFailed || l.Phase == surface.PhaseQueued || l.Phase == surface.PhaseMoving {
			fmt.Fprintf(w, "lane %s on %s: %s (%s)\n", l.Platform, l.Host, l.Phase, l.Error)
		} else if l.Moved != "" {
			fmt.Fprintf(w, "lane %s on %s: %s\n", l.Platform, l.Host, l.Moved)
		}
	}
	fmt.Fprintln(w)
	// Columns line up by display width, as on the dashboard: a node's
	// argument in CJK (build("構築")) takes two columns a character.
	width := 0
	for _, n := range st.Nodes {
		width = max(width, runewidth.StringWidth(n.ID))
	}
	for _, n := range st.Nodes {
		id := n.ID + strings.Repeat(" ", width-runewidth.StringWidth(n.ID))
		row := fmt.Sprintf("%-9s %s  %-6s%s%s", n.Status, id, look.Expected(n, time.Now()), reasonOf(n), look.Notes(n))
		fmt.Fprintf(w, "%s %s\n", look.New(colour).Mark(n.Status), strings.TrimRight(row, " "))
	}
	postStatus(w, st, live)
}
