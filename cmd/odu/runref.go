package main

import (
	"context"
	"errors"

	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/repo"
)

// runHelp is the help of --run, on the faces that can show a recorded run.
const runHelp = "The run: latest (the default: the live run, or the last one), <sha7>#<n>, or a commit's unique prefix (its newest run); `odu runs` lists them."

// pastRun resolves --run REF to a recorded run that is not live, read
// from its record. It returns no record for the default (latest) and for
// the live run's ref: the face attaches to the live run as it would
// anyway. A ref that names no run, or several, is a usage error (exit 2)
// that lists the candidates.
func pastRun(ctx context.Context, env *Env, ref string) (string, *runstate.Last, error) {
	if ref == "" || ref == "latest" {
		return "", nil, nil
	}
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return "", nil, err
	}
	if err := checkStateDir(root); err != nil {
		return "", nil, err
	}
	e, err := runstate.ResolveRun(root, ref)
	if errors.Is(err, runstate.ErrNoRecord) {
		return "", nil, &ExitError{Code: 1, Err: &hinted{msg: "--run " + ref + ": no run has been recorded in this checkout", hint: "Start one with `odu run`."}}
	}
	if err != nil {
		return "", nil, err
	}
	if e.Live() {
		return root, nil, nil
	}
	last, err := runstate.ReadRun(root, e)
	if err != nil {
		return "", nil, err
	}
	return root, &last, nil
}
