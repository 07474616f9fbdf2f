package hostside

import (
	"path"
	"time"
)

// The lane directory's files, relative to it (the runtime works from
// inside it: a socket's path must fit in a sockaddr).
const (
	Sock  = "runner.sock"  // the runner's surface, a Unix socket (0600, in a 0700 directory)
	Lock  = "runner.lock"  // flock'ed by the runner while it lives: one runner per lane
	PID   = "runner.pid"   // its pid, for --fresh
	Track = "runner.track" // how its nodes are tracked: for a sweep if it dies
	Log   = ".runner.log"  // what it says; a dot: no recipe's log (NAME.log) can be it
	Used  = "used"         // touched at every attach: when the workspace was last used
)

// StderrPrefix starts every line an attach writes on its stderr (the SSH
// session's), and SweepNote the rest of the line that says it stopped what
// a runner that died left running: the coordinator copies that line into
// the lane's setup log, where the user reads what happened to the lane.
const (
	StderrPrefix = "odu runner: "
	SweepNote    = "stopped "
)

// Ready is the file a workspace holds once its checkout is complete; its
// time is when the workspace was last made ready.
const Ready = ".odu-ready"

// ExitNoRunner is how `odu runner --attach --existing` exits when no
// runner serves the lane: the coordinator that dials a host again after a
// dropped link does not start the lane over behind the user's back.
const ExitNoRunner = 3

// PruneAfter is how long a workspace on a build host may go unused before
// the next runner started on that host removes it (an attach prunes): a
// week keeps the workspaces of the branches someone works on, and bounds
// the disk that old commits take.
const PruneAfter = 7 * 24 * time.Hour

// Paths under a host's cache directory (cache may be a shell variable,
// "$c": the paths are joined with slashes, as on every host odu serves).

// BinPath is where a pushed binary (odu's runner, just) named name lives.
func BinPath(cache, name string) string { return path.Join(cache, "odu", "bin", name) }

// RepoPath is the host's bare repository of a repository odu sends.
func RepoPath(cache, repo string) string { return path.Join(cache, "odu", "repos", repo+".git") }

// WorkPath holds every workspace: WorkPath/<repo>/<workspace>.
func WorkPath(cache string) string { return path.Join(cache, "odu", "work") }

// WorkspacePath is the checkout a lane's nodes run in: the commit, and
// with --no-snapshot the changes' hash.
func WorkspacePath(cache, repo, workspace string) string {
	return path.Join(WorkPath(cache), repo, workspace)
}

// LaneDir is a lane's directory beside its workspace: its runner's files
// and its nodes' logs.
func LaneDir(workspace, platform string) string { return workspace + ".logs/" + platform }
