package mcp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/repo"
)

// startTimeout bounds how long the run tool waits for the run it started
// to serve: odu run serves once it has read the justfile, checked the
// tree and checked out its snapshot, well under a second here; a minute
// covers a slow disk and a big repository many times.
const startTimeout = time.Minute

// supersedeTimeout bounds the wait of a run that supersedes the live one:
// odu run --supersede waits up to 5 minutes for the run it cancelled to
// end (its nodes' grace, a lane dialled again, its last statuses), then
// starts as any run.
const supersedeTimeout = 5*time.Minute + startTimeout

// outDir is where the output of the runs the tool starts goes, what odu
// run says (its summary, or why it refused): beside the records of the
// commit's runs, .ci/<sha>/mcp, which git status leaves out as odu's own
// state, so that it never makes the next strict run's tree dirty.
func outDir(sha string) string { return filepath.Join(runstate.StateDir, sha, "mcp") }

// RunIn asks for a run, with the flags of `odu run` a user has.
type RunIn struct {
	Selectors []string `json:"selectors,omitempty" jsonschema:"only these nodes and what they depend on: RECIPE, RECIPE@PLATFORM or MODULE::RECIPE; default: the whole pipeline"`
	NoStrict  bool     `json:"no_strict,omitempty" jsonschema:"run the working tree as it is, uncommitted changes included, and post no commit statuses; by default a run refuses a dirty tree and runs a snapshot of HEAD"`
	Platforms []string `json:"platforms,omitempty" jsonschema:"only these platforms (Nix system names, e.g. x86_64-linux)"`
	Hosts     []string `json:"hosts,omitempty" jsonschema:"each as PLATFORM=ADDR: run that platform's lane on ADDR (localhost, or what ssh would dial) for this run"`
	Root      string   `json:"root,omitempty" jsonschema:"use this recipe as the CI root instead of the one marked [metadata(\"ci\")]"`
	NoDeps    bool     `json:"no_deps,omitempty" jsonschema:"only the selected nodes, not what they depend on"`
	Supersede bool     `json:"supersede,omitempty" jsonschema:"replace the run live in this checkout instead of refusing: cancel it (it ends as cancelled, superseded by this one) and start once it has ended (this call waits for that, up to about 5 minutes)"`
}

// RunOut is the run started.
type RunOut struct {
	Run       RunID    `json:"run"`
	Nodes     int      `json:"nodes" jsonschema:"how many nodes it runs"`
	Platforms []string `json:"platforms"`
	Output    string   `json:"output" jsonschema:"the file odu run writes its output to, relative to the repository"`
	Verdict   string   `json:"verdict" jsonschema:"running, or how it went if it was over before it was seen"`
	// Superseded is the run this one replaced (supersede), by its ref.
	Superseded string `json:"superseded,omitempty" jsonschema:"with supersede: the ref of the live run this one cancelled and replaced"`
}

// args are odu run's arguments for in: its flags in the --flag=value
// form and its selectors after --, so that no value reads as a flag.
func (in RunIn) args() []string {
	args := []string{"run", "--progress=plain"}
	if in.NoStrict {
		args = append(args, "--no-strict")
	}
	for _, p := range in.Platforms {
		args = append(args, "--platform="+p)
	}
	for _, h := range in.Hosts {
		args = append(args, "--host="+h)
	}
	if in.Root != "" {
		args = append(args, "--root="+in.Root)
	}
	if in.NoDeps {
		args = append(args, "--no-deps")
	}
	if in.Supersede {
		args = append(args, "--supersede")
	}
	if len(in.Selectors) > 0 {
		args = append(append(args, "--"), in.Selectors...)
	}
	return args
}

func (s *server) run(ctx context.Context, _ *sdk.CallToolRequest, in RunIn) (*sdk.CallToolResult, RunOut, error) {
	root, err := s.root(ctx)
	if err != nil {
		return nil, RunOut{}, userError(err)
	}
	sha, _, err := repo.Head(ctx, root)
	if err != nil {
		return nil, RunOut{}, userError(err)
	}
	timeout := startTimeout
	var replaced string // the ref of the live run a supersede replaces
	if in.Supersede {
		timeout = supersedeTimeout
		if cl, err := runstate.Dial(ctx, root, clientName, s.opts.Version); err == nil {
			if st, err := face.Current(ctx, cl); err == nil && st.Run.Ended == nil {
				replaced = st.Run.Ref
			}
			cl.Close()
		}
	}
	res, err := s.start(ctx, root, sha, timeout, in.args()...)
	if err != nil {
		return nil, RunOut{}, err
	}
	rel := res.Output
	res.Superseded = superseded(root, replaced)
	msg := fmt.Sprintf("started %s: %d nodes on %s (odu run, pid %d; its output: %s). It goes on by itself: call wait to follow it.",
		res.Run, res.Nodes, strings.Join(res.Platforms, ", "), res.Run.PID, rel)
	if res.Superseded != "" {
		msg = "cancelled run " + res.Superseded + " (superseded); " + msg
	}
	if res.Verdict != "running" {
		msg = fmt.Sprintf("%s was over before it was seen: %s (its output: %s)", res.Run, res.Verdict, rel)
	}
	return text(msg), res, nil
}

// start starts odu with args (odu run, or odu rerun after the run) as a
// run of commit sha of its own, its output in a file of .ci/<sha>/mcp,
// and waits until it serves its state ([server.started]).
func (s *server) start(ctx context.Context, root, sha string, timeout time.Duration, args ...string) (RunOut, error) {
	if err := runstate.MkdirState(root, outDir(sha)); err != nil {
		return RunOut{}, userError(err)
	}
	rel := filepath.Join(outDir(sha), args[0]+"-"+time.Now().UTC().Format("20060102T150405.000000000")+".out")
	out, err := runstate.OpenState(filepath.Join(root, rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return RunOut{}, userError(err)
	}
	d, err := proc.StartDetached(s.opts.Dir, out, s.opts.Exe, args...)
	out.Close()
	if err != nil {
		return RunOut{}, err
	}
	return s.started(ctx, root, rel, d, timeout, "odu "+args[0])
}

// started waits until the run d serves its state, or ends: a run that
// ends without a record of its own refused to run (a dirty tree, a run
// already live, a bad selector), and what it said is the tool's error.
func (s *server) started(ctx context.Context, root, rel string, d *proc.Detached, timeout time.Duration, what string) (RunOut, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if cl, err := runstate.Dial(ctx, root, clientName, s.opts.Version); err == nil {
			st, err := face.Current(ctx, cl)
			cl.Close()
			if err == nil && st.Run.PID == d.Pid() {
				return RunOut{Run: identify(st.Run, "", true), Nodes: len(st.Nodes), Platforms: st.Run.Platforms, Output: rel, Verdict: "running"}, nil
			}
			// Another run is live: this one refuses, and says so; or,
			// superseding it, waits for it to end.
		}
		select {
		case <-d.Done():
			// Over before it was seen serving: a tiny pipeline, or a refusal.
			if last, err := runstate.ReadLast(root); err == nil && last.State.Run.PID == d.Pid() {
				st := last.State
				return RunOut{Run: identify(st.Run, last.Rel, false), Nodes: len(st.Nodes), Platforms: st.Run.Platforms, Output: rel, Verdict: verdict(st, false)}, nil
			}
			said, _ := os.ReadFile(filepath.Join(root, rel))
			return RunOut{}, fmt.Errorf("%s did not start (exit %d): %s", what, d.ExitCode(), strings.TrimSpace(string(said)))
		case <-deadline.C:
			return RunOut{}, fmt.Errorf("%s (pid %d) did not serve its state within %s; it may still start: its output is in %s", what, d.Pid(), timeout, rel)
		case <-ctx.Done():
			return RunOut{}, fmt.Errorf("%s (pid %d) was started, and goes on; its output is in %s: %w", what, d.Pid(), rel, ctx.Err())
		case <-tick.C:
		}
	}
}

// superseded returns ref if its run's record says it was superseded:
// the run a supersede replaced, and not one that ended by itself first.
func superseded(root, ref string) string {
	if ref == "" {
		return ""
	}
	e, err := runstate.ResolveRun(root, ref)
	if err != nil {
		return ""
	}
	last, err := runstate.ReadRun(root, e)
	if err != nil || last.State.Run.Superseded == "" {
		return ""
	}
	return ref
}
