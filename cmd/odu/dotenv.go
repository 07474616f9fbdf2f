package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/odu-ci/odu/dag"
)

// warnDotenv says, at the start of a strict run, when the justfile loads
// a file of variables (set dotenv-load) that the snapshot of the commit
// does not hold, typically a git-ignored .env: the nodes would run
// without the variables a --no-snapshot run, or just by hand, has. It is
// a warning, not a refusal: a CI may well mean to run without a local
// .env.
func warnDotenv(w io.Writer, jf *dag.Justfile, root, workspace, sha string) {
	if jf.Dotenv == nil || filepath.IsAbs(jf.Source) {
		return
	}
	live := jf.DotenvFile(filepath.Join(root, filepath.Dir(jf.Source)))
	if live == "" {
		return
	}
	// The snapshot should load the same file: its own copy when the file
	// is in the repository, the very file when it is outside.
	want := live
	rel, err := filepath.Rel(root, live)
	if inside := err == nil && filepath.IsLocal(rel); inside {
		want = filepath.Join(workspace, rel)
	} else {
		rel = live
	}
	if jf.DotenvFile(filepath.Join(workspace, filepath.Dir(jf.Source))) == want {
		return
	}
	fmt.Fprintf(w, "odu: warning: the justfile loads %s (set %s), which the snapshot of %s does not have: its variables are not set for the nodes; commit what they need, or run the working tree with --no-snapshot\n",
		rel, jf.Dotenv.Setting, short(sha))
}
