package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdNoSecret fails if the value of the script's variable VAR, in any of
// its forms, is in the last command's stdout or stderr, or in any file
// under the paths given (files or directories, walked; each must hold at
// least one file):
//
//	nosecret ODU_TEST_SECRET stdout stderr .ci $ONE_CACHE
func cmdNoSecret(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: nosecret VAR stdout|stderr|PATH...")
	}
	secret := ts.Getenv(args[0])
	if len(secret) < 6 {
		ts.Fatalf("nosecret: $%s is not a secret odu masks", args[0])
	}
	forms := odutest.SecretForms(secret)
	check := func(what string, data []byte) {
		for _, f := range forms {
			if bytes.Contains(data, []byte(f)) {
				ts.Fatalf("%s holds the secret $%s, as %q", what, args[0], f)
			}
		}
	}
	for _, p := range args[1:] {
		if p == "stdout" || p == "stderr" {
			check(p, []byte(ts.ReadFile(p)))
			continue
		}
		files := 0
		err := filepath.WalkDir(ts.MkAbs(p), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			check(path, data)
			return nil
		})
		ts.Check(err)
		// A path with no file in it checked nothing: a typo, or a run
		// that wrote nowhere it was expected to.
		if files == 0 {
			ts.Fatalf("nosecret: no file under %s: nothing was checked", p)
		}
	}
}

// cmdTmpfs mounts a tmpfs of SIZE on DIR (created), a disk that fills
// up, unmounted when the script ends:
//
//	tmpfs 64k .ci/$SHA/x86_64-linux
func cmdTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tmpfs SIZE DIR")
	}
	dir := ts.MkAbs(args[1])
	ts.Check(os.MkdirAll(dir, 0o700))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+args[0]+",mode=0700"); err != nil {
		ts.Fatalf("mount a tmpfs on %s (needs root): %v", dir, err)
	}
	ts.Defer(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			ts.Logf("unmount %s: %v; detaching it", dir, err)
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				ts.Logf("detach %s: %v", dir, err)
			}
		}
	})
}

// cmdHeadSHA sets $SHA to the commit HEAD is at in the current directory.
func cmdHeadSHA(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: headsha")
	}
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"))
	out, err := cmd.Output()
	ts.Check(err)
	ts.Setenv("SHA", strings.TrimSpace(string(out)))
}
