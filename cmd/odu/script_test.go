package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/odu-ci/odu/internal/odutest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	odutest.Cleanup()
	os.Exit(code)
}

// TestScripts runs the user sessions in testdata/script: the real odu
// binary, the real just and git, in throwaway repositories.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, "../../testdata/script"))
}

func scriptParams(t *testing.T, dir string) testscript.Params {
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	oldJust, err := odutest.OldJust()
	if err != nil {
		t.Fatal(err)
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	return testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// HOME lives outside $WORK, so that the repositories scripts
			// make in $WORK stay clean.
			home, err := os.MkdirTemp("", "odu-home-")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(home) })
			env.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			for _, kv := range odutest.GitEnv(home) {
				k, v, _ := strings.Cut(kv, "=")
				env.Setenv(k, v)
			}
			env.Setenv("OLD_JUST_DIR", filepath.Dir(oldJust))
			env.Setenv("GIT", gitPath)
			env.Setenv("ODU", filepath.Join(bin, "odu"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":  cmdExits,
			"commit": cmdCommit,
		},
	}
}

// cmdExits runs a program and checks its exit code:
//
//	exits 2 odu dump nosuch
//
// Its stdout and stderr are kept for the stdout and stderr commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: run %s: %v", args[1], err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdCommit makes the current directory a git repository (if it is not
// one) and commits everything in it:
//
//	commit [MESSAGE]
func cmdCommit(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: commit [MESSAGE]")
	}
	msg := "commit"
	if len(args) > 0 {
		msg = strings.Join(args, " ")
	}
	if _, err := os.Stat(ts.MkAbs(".git")); err != nil {
		ts.Check(ts.Exec("git", "init", "-q", "-b", "main"))
	}
	ts.Check(ts.Exec("git", "add", "-A"))
	ts.Check(ts.Exec("git", "commit", "-q", "-m", msg))
}
