package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/internal/hint"
	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// DoctorCmd checks what odu needs, and says how to fix what is missing.
type DoctorCmd struct {
	JustfileFlags
	Yes bool `help:"Check the pipeline as odu run --yes would run it: recipes marked [confirm] confirmed."`
}

// Help is the long description of `odu doctor`.
func (*DoctorCmd) Help() string {
	return `Check what odu needs to run this repository's CI: git, just (and its version), the
repository and its first commit, its justfile and the CI root (as odu run would resolve
it), the hosts configuration and every lane's host. For each missing or broken thing,
say exactly how to fix it.

Exits 0 when all is well, 1 otherwise.`
}

// Examples are shown by `odu doctor --help`.
func (*DoctorCmd) Examples() []string {
	return []string{"odu doctor", "odu doctor --root release"}
}

// check is one line of the doctor's report.
type check struct {
	name    string
	ok      bool
	detail  string // what was found, or what is wrong
	fix     string // what to do, when not ok
	summary bool   // it sums up the checks under it: not counted as a failure of its own
}

// Run checks, prints the report and fails when any check failed.
func (c *DoctorCmd) Run(ctx context.Context, env *Env) error {
	var checks []check
	add := func(name string, err error, detail string) bool {
		ch := check{name: name, ok: err == nil, detail: detail}
		if err != nil {
			ch.detail, ch.fix = err.Error(), hint.Of(err)
		}
		checks = append(checks, ch)
		return err == nil
	}
	skip := func(name, why string) {
		checks = append(checks, check{name: name, detail: "not checked: " + why})
	}

	gitVer, err := gitVersion(ctx)
	gitOK := add("git", err, gitVer)
	just, justErr := dag.FindJust(ctx)
	justOK := add("just", justErr, func() string {
		if just == nil {
			return ""
		}
		return just.Version + " (" + just.Path + ")"
	}())

	var root string
	if gitOK {
		root, err = repo.Root(ctx, env.Dir)
		gitOK = add("repository", err, root)
		if err := checkStateDir(root); gitOK && err != nil {
			add(runstate.StateDir, err, "")
		}
	} else {
		skip("repository", "git is missing")
	}
	if gitOK {
		// odu run tests a commit, and names its logs by it, even with
		// --no-snapshot.
		sha, branch, err := repo.Head(ctx, root)
		detail := repo.Short(sha)
		if branch != "" {
			detail += " (" + branch + ")"
		}
		add("commit", err, detail)
	} else {
		skip("commit", "no repository")
	}

	var jf *dag.Justfile
	justfile := ""
	var tooOld *dag.JustVersionError
	jfBroken := false // checked, and missing or rejected
	switch {
	case !gitOK:
		skip("justfile", "no repository")
	case errors.As(justErr, &tooOld):
		skip("justfile", "just is too old")
	case !justOK:
		skip("justfile", "just is missing")
	default:
		justfile, err = c.justfileIn(env, root)
		if err == nil {
			jf, err = just.Load(ctx, root, justfile)
		}
		detail := ""
		if jf != nil {
			detail = fmt.Sprintf("%s, %s", jf.Source, plural(len(jf.Recipes), "recipe"))
		}
		jfBroken = !add("justfile", err, detail)
	}

	switch {
	case jf != nil:
		plats := []platform.Platform{platform.Local()}
		pl, err := dag.Resolve(jf, dag.Options{Root: c.Root, Platforms: plats, Justfile: justfile, Yes: c.Yes})
		detail := ""
		if pl != nil {
			src := ""
			if r := jf.Recipes[pl.Root]; r != nil {
				src = " (" + r.Where() + ")"
			}
			detail = fmt.Sprintf("%s%s: %s on %s", pl.Root, src, plural(len(pl.Nodes), "node"), plats[0])
		}
		add("CI root", err, detail)
	case jfBroken:
		skip("CI root", "no usable justfile")
	case gitOK && errors.As(justErr, &tooOld):
		skip("CI root", "just is too old")
	case gitOK && !justOK:
		skip("CI root", "just is missing")
	default:
		skip("CI root", "no repository")
	}

	checks = append(checks, hostChecks(ctx, env)...)
	failed := printChecks(env.Stdout, checks, useColor(env))
	if failed > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// hostChecks checks the hosts configuration and every lane's host.
func hostChecks(ctx context.Context, env *Env) []check {
	cfg, err := hosts.LoadHosts(nil, env.Getenv, home(env))
	if err != nil {
		return []check{{name: "hosts", detail: err.Error(), fix: hint.Of(err)}}
	}
	src := cfg.Source
	if src == "" {
		src = "none: one lane for this machine (" + string(platform.Local()) + ")"
	}
	out := []check{{name: "hosts", ok: true, detail: src}}
	if len(cfg.Secrets) > 0 {
		// odu run refuses a secret it cannot pass; so does doctor.
		c := check{name: "secrets", ok: true, detail: strings.Join(cfg.Secrets, ", ") + " (set)"}
		_, err := hosts.LoadSecrets(cfg.Secrets, func(name string) (string, bool) {
			v := env.Getenv(name)
			return v, v != ""
		})
		if err != nil {
			c.ok, c.detail, c.fix = false, err.Error(), hint.Of(err)
		}
		out = append(out, c)
	}
	ls, err := cfg.Lanes(nil)
	if err != nil {
		return append(out, check{name: "lanes", detail: err.Error(), fix: hint.Of(err)})
	}
	exe, _ := os.Executable()
	for _, l := range ls {
		for _, h := range l.Pool {
			out = append(out, hostCheck(ctx, env, l.Platform, h, len(l.Pool) > 1, src, exe)...)
		}
	}
	return out
}

// hostCheck checks one host of a platform's pool.
func hostCheck(ctx context.Context, env *Env, plat platform.Platform, h hosts.PoolHost, pool bool, src, exe string) []check {
	name := "lane " + string(plat)
	if pool {
		name += " " + h.Addr
	}
	if h.Addr == hosts.Localhost {
		ok := plat == platform.Local()
		c := check{name: name, ok: ok, detail: "localhost (this machine)"}
		if !ok {
			c.detail = "localhost, but this machine is " + string(platform.Local())
			c.fix = "Give the " + string(plat) + " lane a host of that platform in " + src + "."
		}
		return []check{c}
	}
	out := []check{{name: name, ok: true, detail: h.Addr}}
	for _, hc := range provision.CheckHost(ctx, h.Addr, plat, home(env), env.Getenv, provision.LocalRunner(plat, exe, version())) {
		c := check{name: "  " + hc.Name, ok: hc.OK, detail: hc.Detail, fix: hc.Fix}
		if hc.Skip {
			c.detail = "not checked: " + strings.TrimPrefix(hc.Detail, "not checked")
			c.detail = strings.TrimSuffix(c.detail, ": ")
		} else if !hc.OK {
			// The lane is as good as its checks: no ✓ above a ✗.
			// It marks the lane, and is counted once, below.
			out[0].ok, out[0].summary = false, true
		}
		out = append(out, c)
	}
	return out
}

func gitVersion(ctx context.Context) (string, error) {
	version, path, err := repo.Version(ctx)
	if err != nil {
		return "", err
	}
	return version + " (" + path + ")", nil
}

// printChecks writes the report and returns how many checks failed.
func printChecks(w io.Writer, checks []check, color bool) int {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.name))
	}
	p := look.New(color)
	failed := 0
	for _, c := range checks {
		mark := p.Mark(surface.Success)
		switch {
		case strings.HasPrefix(c.detail, "not checked"):
			mark = p.Mark(surface.Skipped)
		case !c.ok:
			mark = p.Mark(surface.Failure)
			if !c.summary {
				failed++
			}
		}
		lines := strings.Split(c.detail, "\n")
		fmt.Fprintf(w, "%s %-*s  %s\n", mark, width, c.name, lines[0])
		pad := strings.Repeat(" ", width+4)
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "%s%s\n", pad, l)
		}
		if c.fix != "" {
			fmt.Fprintf(w, "%s%s\n", pad, look.Paint(p.Hint, "fix: "+c.fix))
		}
	}
	return failed
}

// useColor reports whether to colour output: stdout is a terminal, and
// neither NO_COLOR nor TERM=dumb says otherwise.
func useColor(env *Env) bool {
	if env.Getenv("NO_COLOR") != "" || env.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(env)
}

func isatty(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
