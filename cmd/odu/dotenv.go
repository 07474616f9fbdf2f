package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/repo"
)

// warnDotenv says, at the start of a run, when the justfile loads a file
// of variables (set dotenv-load) that the nodes' workspace lacks: the
// snapshot of the commit, when the file is not committed (a git-ignored
// .env); a build host's workspace, which gets the commit and, with
// --no-snapshot, the changes git sees, never ignored files. Those nodes
// would run without the variables that just by hand has. It is a
// warning, not a refusal: a CI may well mean to run without a local .env.
func warnDotenv(ctx context.Context, w io.Writer, jf *dag.Justfile, root, workspace, sha string, snapshot bool, lanes map[string]string) {
	if jf.Dotenv == nil || filepath.IsAbs(jf.Source) {
		return
	}
	live := jf.DotenvFile(filepath.Join(root, filepath.Dir(jf.Source)))
	if live == "" {
		return
	}
	name := live
	rel, err := filepath.Rel(root, live)
	inside := err == nil && filepath.IsLocal(rel)
	if inside {
		name = rel
	}
	what := fmt.Sprintf("odu: warning: the justfile loads %s (set %s)", name, jf.Dotenv.Setting)
	if snapshot {
		// The snapshot should load the same file: its own copy when the
		// file is in the repository, the very file when it is outside.
		want := live
		if inside {
			want = filepath.Join(workspace, rel)
		}
		if jf.DotenvFile(filepath.Join(workspace, filepath.Dir(jf.Source))) != want {
			fmt.Fprintf(w, "%s, which the snapshot of %s does not have: its variables are not set for the nodes; commit what they need, or run the working tree with --no-snapshot\n",
				what, repo.Short(sha))
			return
		}
	}
	var remote []string
	for p, addr := range lanes {
		if addr != hosts.Localhost {
			remote = append(remote, p)
		}
	}
	if len(remote) == 0 || (inside && snapshot) {
		return // in the commit, so on the hosts too
	}
	if inside {
		if _, err := repo.Git(ctx, root, "check-ignore", "-q", "--", rel); err != nil {
			return // not ignored: --no-snapshot sends it with the changes
		}
	}
	slices.Sort(remote)
	fmt.Fprintf(w, "%s, which build hosts do not get (odu sends the commit and the changes git sees): its variables are not set for the nodes of %s; commit what they need\n",
		what, strings.Join(remote, ", "))
}
