package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-runewidth"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
)

// RunsCmd lists the checkout's recorded runs, or prunes them.
type RunsCmd struct {
	Output string `short:"o" enum:"text,json" default:"text" placeholder:"text|json" help:"Print a table, or the runs as a JSON array."`
	Limit  int    `type:"positive" default:"20" placeholder:"N" help:"Show the N newest runs."`
	All    bool   `help:"Show every recorded run."`

	List  RunsListCmd  `cmd:"" default:"withargs" hidden:"" help:"List the recorded runs, newest first."`
	Prune RunsPruneCmd `cmd:"" help:"Remove old runs' records and logs, saying what it freed."`
}

// Help is the long description of `odu runs`.
func (*RunsCmd) Help() string {
	return `List the runs recorded in this checkout, newest first: ref (<sha7>#<n>, what
--run takes), verdict, start, duration, branch, node counts and commit subject; under
a run, the nodes that did not succeed and the GitHub statuses still owed. The list
comes from an index, .ci/odu.runs.json, rebuilt from the records when it is missing
or stale. ` + "`odu runs prune`" + ` removes runs older than a duration (30 days by default),
never a live run nor the newest run of a commit; ` + "`odu run --keep`" + ` does the same
as a run starts.`
}

// Examples are shown by `odu runs --help`.
func (*RunsCmd) Examples() []string {
	return []string{"odu runs", "odu runs -o json --all | jq -r '.[] | select(.verdict == \"failed\") | .ref'",
		"odu runs prune --older-than 7d"}
}

// RunsListCmd is `odu runs` itself: its flags are RunsCmd's, which
// `odu runs --help` shows.
type RunsListCmd struct{}

// Run lists the runs.
func (*RunsListCmd) Run(ctx context.Context, env *Env, c *RunsCmd) error {
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return err
	}
	if err := checkStateDir(root); err != nil {
		return err
	}
	runs, err := runstate.ListRuns(root)
	if err != nil {
		return err
	}
	more := 0
	if !c.All && len(runs) > c.Limit {
		more, runs = len(runs)-c.Limit, runs[:c.Limit]
	}
	if c.Output == "json" {
		if runs == nil {
			runs = []runstate.RunEntry{}
		}
		data, _ := json.MarshalIndent(runs, "", "  ")
		fmt.Fprintf(env.Stdout, "%s\n", data)
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintln(env.Stdout, "No run has been recorded in this checkout; start one with `odu run`.")
		return nil
	}
	printRuns(env.Stdout, runs)
	if more > 0 {
		fmt.Fprintf(env.Stdout, "(%s not shown; --all lists them)\n", plural(more, "older run"))
	}
	return nil
}

// printRuns prints a table of runs, each followed by what did not
// succeed and what GitHub is owed. Columns line up by display width.
func printRuns(w io.Writer, runs []runstate.RunEntry) {
	rows := [][]string{{"RUN", "VERDICT", "STARTED", "TOOK", "BRANCH", "NODES", "SUBJECT"}}
	for _, e := range runs {
		branch := e.Branch
		if branch == "" {
			branch = "-"
		}
		rows = append(rows, []string{e.Ref, e.Verdict, e.Started.Local().Format("2006-01-02 15:04:05"),
			duration(time.Duration(e.DurationMS) * time.Millisecond), branch, entryCounts(e), e.Subject})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], runewidth.StringWidth(cell))
		}
	}
	line := func(r []string) string {
		var b strings.Builder
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(cell)+2))
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	fmt.Fprintln(w, line(rows[0]))
	for i, e := range runs {
		fmt.Fprintln(w, line(rows[i+1]))
		if len(e.NotOK) > 0 {
			fmt.Fprintf(w, "  not ok: %s\n", strings.Join(e.NotOK, ", "))
		}
		if e.Owed > 0 {
			fmt.Fprintf(w, "  github: %s owed\n", plural(e.Owed, "status"))
		}
	}
}

// entryCounts says how many nodes of a run are in each status, in the
// order the other faces use.
func entryCounts(e runstate.RunEntry) string {
	var parts []string
	for _, s := range look.Order {
		if n := e.Counts[string(s)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// RunsPruneCmd is `odu runs prune`.
type RunsPruneCmd struct {
	OlderThan age `default:"30d" placeholder:"AGE" help:"Remove the runs that started longer ago than this (e.g. 30d, 12h)."`
}

// Run prunes the runs.
func (c *RunsPruneCmd) Run(ctx context.Context, env *Env, kctx *kong.Context) error {
	// `odu runs`' flags are parsed for prune too (kong puts a parent's
	// flags on its children): given to prune, they would be ignored.
	for _, p := range kctx.Path {
		if f := p.Flag; f != nil && (f.Name == "output" || f.Name == "limit" || f.Name == "all") {
			return &usageError{msg: "odu runs prune does not take --" + f.Name + ": it lists runs, as odu runs does",
				hint: "Give prune --older-than alone; `odu runs -o json` lists the runs."}
		}
	}
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return err
	}
	if err := checkStateDir(root); err != nil {
		return err
	}
	p, err := runstate.PruneRuns(root, time.Now().Add(-time.Duration(c.OlderThan)))
	sayPruned(env.Stdout, p, c.OlderThan, true)
	return err
}

// sayPruned says what a prune removed; quiet says nothing when it
// removed nothing.
func sayPruned(w io.Writer, p runstate.Pruned, older age, always bool) {
	if len(p.Runs) == 0 {
		if always {
			fmt.Fprintf(w, "odu: no run to prune: none older than %s that is not live or the newest of its commit\n", older)
		}
		return
	}
	fmt.Fprintf(w, "odu: pruned %s older than %s (%s), freeing %s\n", plural(len(p.Runs), "run"), older, strings.Join(p.Runs, ", "), bytesOf(p.Bytes))
}

// bytesOf says a size for people.
func bytesOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return plural(int(n), "byte")
}

// age is a flag's duration that may be given in days, as a retention
// is: 30d, 36h, 1d12h.
type age time.Duration

// Decode reads an age.
func (a *age) Decode(ctx *kong.DecodeContext) error {
	t, err := ctx.Scan.PopValue("age")
	if err != nil {
		return err
	}
	d, err := parseAge(fmt.Sprint(t.Value))
	if err != nil {
		return err
	}
	*a = age(d)
	return nil
}

func (a age) String() string {
	d := time.Duration(a)
	if d%(24*time.Hour) == 0 && d > 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// parseAge reads "30d", "1d12h", "36h" or "90m".
func parseAge(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not an age: give a number with a unit, e.g. 30d, 12h or 1d12h", s)
	var days time.Duration
	rest := s
	if i := strings.Index(s, "d"); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, bad
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	if rest == "" {
		if days == 0 && s != "0d" {
			return 0, bad
		}
		return days, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, bad
	}
	return days + d, nil
}

// pruneAtStart is `odu run --keep`: the runs older than keep go as a run
// starts (it holds the checkout's run lock, so none of them is live). A
// failure is said, and the run goes on.
func pruneAtStart(w io.Writer, root string, keep age) {
	if keep <= 0 {
		return
	}
	p, err := runstate.PruneRuns(root, time.Now().Add(-time.Duration(keep)))
	sayPruned(w, p, keep, false)
	if err != nil && !errors.Is(err, runstate.ErrNoRecord) {
		fmt.Fprintf(w, "odu: prune runs older than %s: %v\n", keep, err)
	}
}
