package main

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/odu-ci/odu/surface"
)

// here turns a path relative to the repository root (as the surface and
// the records give them) into one that works where the user is: relative
// to odu's working directory when that is in the repository (as git
// prints paths), else absolute; so that `less <path>` works as printed.
func here(env *Env, root, rel string) string {
	if rel == "" {
		return ""
	}
	abs := filepath.Join(root, rel)
	if env == nil || env.Dir == "" || root == "" {
		return abs
	}
	if in, err := filepath.Rel(root, env.Dir); err != nil || in == ".." || strings.HasPrefix(in, ".."+string(filepath.Separator)) {
		return abs
	}
	r, err := filepath.Rel(env.Dir, abs)
	if err != nil {
		return abs
	}
	return r
}

// fromHere is st with its nodes' logs as [here] gives them, for what a
// person reads (the run's summary).
func fromHere(env *Env, root string, st surface.State) surface.State {
	st.Nodes = slices.Clone(st.Nodes)
	for i, n := range st.Nodes {
		if n.Log != "" {
			st.Nodes[i].Log = here(env, root, n.Log)
		}
	}
	return st
}
