package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
)

// JustfileFlags choose the justfile and its root; doctor shares them with
// the commands that build a pipeline.
type JustfileFlags struct {
	Justfile string `placeholder:"PATH" help:"Read this justfile instead of the repository's own."`
	Root     string `placeholder:"RECIPE" predictor:"recipe" help:"Use this recipe as the CI root instead of the one marked [metadata(\"ci\")]."`
}

// PipelineFlags are the flags of every command that builds a pipeline;
// run takes the same ones.
type PipelineFlags struct {
	JustfileFlags
	Platform  []string `placeholder:"PLATFORM" predictor:"platform" help:"Only this platform (a Nix system name, e.g. x86_64-linux)."`
	NoDeps    bool     `help:"Only the selected nodes, not what they depend on."`
	Yes       bool     `help:"Confirm recipes marked [confirm]: odu runs them with just --yes."`
	Selectors []string `arg:"" optional:"" name:"selector" predictor:"selector" help:"RECIPE, RECIPE@PLATFORM or MODULE::RECIPE; a recipe's bare name works when it is unambiguous."`

	fixed []platform.Platform // set by run: the platforms of its lanes
}

// home is the user's home directory, for ~/.config and ~/.ssh.
func home(env *Env) string {
	if h := env.Getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// pipelineMemory bounds the heap while a pipeline is built without
// collections; a 2,000-recipe pipeline needs ~15 MB.
const pipelineMemory = 256 << 20

// loaded is a justfile read from a repository.
type loaded struct {
	root string // the repository's top directory
	just *dag.Just
	jf   *dag.Justfile
}

// load finds the repository and just, and reads the justfile.
func (f *JustfileFlags) load(ctx context.Context, env *Env) (*loaded, error) {
	root, err := repo.Root(ctx, env.Dir)
	if err != nil {
		return nil, err
	}
	justfile, err := f.justfileIn(env, root)
	if err != nil {
		return nil, err
	}
	just, jf, err := dag.Load(ctx, root, justfile)
	if err != nil {
		return nil, err
	}
	return &loaded{root: root, just: just, jf: jf}, nil
}

// justfileIn returns --justfile relative to the repository root; like
// just, odu reads it relative to the directory the user is in.
func (f *JustfileFlags) justfileIn(env *Env, root string) (string, error) {
	if f.Justfile == "" {
		return "", nil
	}
	path := f.Justfile
	if !filepath.IsAbs(path) {
		path = filepath.Join(env.Dir, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", &dag.NoJustfileError{Dir: env.Dir, Named: f.Justfile}
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &usageError{msg: "--justfile " + f.Justfile + " is outside the repository " + root,
			hint: "odu runs the repository's own justfile; give one inside it."}
	}
	return rel, nil
}

// platforms returns the platforms the pipeline fans out to: those given
// with --platform, or those the hosts configuration has lanes for (this
// machine's, without one).
func (f *PipelineFlags) platforms(env *Env) ([]platform.Platform, error) {
	if len(f.Platform) == 0 {
		cfg, err := hosts.LoadHosts(nil, env.Getenv, home(env))
		if err != nil {
			return nil, err
		}
		ls, err := cfg.Lanes(nil)
		if err != nil {
			return nil, err
		}
		var out []platform.Platform
		for _, h := range ls {
			out = append(out, h.Platform)
		}
		return out, nil
	}
	return f.parsedPlatforms()
}

// parsedPlatforms returns the platforms given with --platform.
func (f *PipelineFlags) parsedPlatforms() ([]platform.Platform, error) {
	var out []platform.Platform
	for _, s := range f.Platform {
		p, err := platform.Parse(s)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// pipeline builds the pipeline the flags and selectors describe.
//
// Building one is a short burst of allocation (decoding a dump of
// thousands of recipes) on the critical path of every command, so the
// garbage collector waits until it is done, or until the heap reaches
// pipelineMemory; measured on a 2,000-recipe justfile it saves ~5 ms of
// collection that would free almost nothing.
func (f *PipelineFlags) pipeline(ctx context.Context, env *Env) (*loaded, *dag.Pipeline, error) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(pipelineMemory))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	plats := f.fixed
	var err error
	if plats == nil {
		if plats, err = f.platforms(env); err != nil {
			return nil, nil, err
		}
	}
	if err != nil {
		return nil, nil, err
	}
	sels := make([]dag.Selector, 0, len(f.Selectors))
	for _, s := range f.Selectors {
		sel, err := dag.ParseSelector(s)
		if err != nil {
			return nil, nil, err
		}
		sels = append(sels, sel)
	}
	l, err := f.load(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	justfile, _ := f.justfileIn(env, l.root)
	pl, err := dag.Resolve(l.jf, dag.Options{Root: f.Root, Platforms: plats, Justfile: justfile, Yes: f.Yes})
	if err != nil {
		return nil, nil, err
	}
	pl, err = pl.Select(l.jf, sels, f.NoDeps)
	if err != nil {
		return nil, nil, err
	}
	return l, pl, nil
}
