package mcp

import (
	"context"
	"errors"
	"fmt"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// clientName is how this face says hello to a run.
const clientName = "odu mcp"

// root finds the repository the server serves.
func (s *server) root(ctx context.Context) (string, error) {
	return repo.Root(ctx, s.opts.Dir)
}

// found is the run a tool is about: the live one (cl, its client), or,
// when none is live, the last recorded one (last).
type found struct {
	root string
	cl   *surface.Client // nil: answered from the record
	st   surface.State
	last runstate.Last // when cl is nil
}

func (f *found) live() bool { return f.cl != nil }

func (f *found) close() {
	if f.cl != nil {
		f.cl.Close()
	}
}

// dial attaches to the live run: [runstate.ErrNoRun] when there is none.
// With starting, a run that is being started (it announced itself and
// does not serve yet) is waited for.
func (s *server) dial(ctx context.Context, root string, starting bool) (*surface.Client, error) {
	cl, err := runstate.Dial(ctx, root, clientName, s.opts.Version)
	if errors.Is(err, runstate.ErrNoRun) && starting && runstate.Starting(root) {
		cl, err = runstate.DialStarting(ctx, root, clientName, s.opts.Version)
	}
	if err != nil && !errors.Is(err, runstate.ErrNoRun) {
		return nil, fmt.Errorf("attach to the run: %w", err)
	}
	return cl, err
}

// find returns the live run with its state, or else the last recorded
// run; an error when there is neither.
func (s *server) find(ctx context.Context, starting bool) (*found, error) {
	root, err := s.root(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := s.dial(ctx, root, starting)
	if err == nil {
		st, err := face.Current(ctx, cl)
		if err == nil {
			return &found{root: root, cl: cl, st: st}, nil
		}
		// Lost as it was attached: the run ended meanwhile (its record
		// answers), or was killed.
		cl.Close()
		if ctx.Err() != nil {
			return nil, err
		}
	} else if !errors.Is(err, runstate.ErrNoRun) {
		return nil, err
	}
	last, err := runstate.ReadLast(root)
	if errors.Is(err, runstate.ErrNoRecord) {
		return nil, errNoRecord()
	}
	if err != nil {
		return nil, err
	}
	return &found{root: root, st: last.State, last: last}, nil
}

// findLive returns the live run with its state: a procedure needs one.
func (s *server) findLive(ctx context.Context) (*found, error) {
	root, err := s.root(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := s.dial(ctx, root, false)
	if errors.Is(err, runstate.ErrNoRun) {
		return nil, errNoRun()
	}
	if err != nil {
		return nil, err
	}
	st, err := face.Current(ctx, cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &found{root: root, cl: cl, st: st}, nil
}

// findRef returns the run ref names: for "" and latest, the live run or
// else the last recorded one ([server.find]); for a ref (<sha7>#<n>, or
// a commit's unique prefix: its newest run), the recorded run
// [runstate.ResolveRun] finds, attached when it is the live run and read
// from its record when it is over. A ref that names no run, or several
// commits, is the error the CLI's --run gives, with the candidates.
func (s *server) findRef(ctx context.Context, ref string, starting bool) (*found, error) {
	if ref == "" || ref == "latest" {
		return s.find(ctx, starting)
	}
	root, err := s.root(ctx)
	if err != nil {
		return nil, err
	}
	e, err := runstate.ResolveRun(root, ref)
	if errors.Is(err, runstate.ErrNoRecord) {
		return nil, &hinted{msg: "--run " + ref + ": no run has been recorded in this checkout", hint: "Start one with the run tool (or `odu run` in a terminal)."}
	}
	if err != nil {
		return nil, err
	}
	if e.Live() {
		cl, err := s.dial(ctx, root, false)
		if err == nil {
			st, err := face.Current(ctx, cl)
			if err == nil && st.Run.SHA == e.SHA && st.Run.Ref == e.Ref {
				return &found{root: root, cl: cl, st: st}, nil
			}
			// Another run, or lost as it was attached: the run ended
			// meanwhile, and its record answers.
			cl.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		} else if !errors.Is(err, runstate.ErrNoRun) {
			return nil, err
		}
	}
	last, err := runstate.ReadRun(root, e)
	if err != nil {
		return nil, err
	}
	return &found{root: root, st: last.State, last: last}, nil
}
