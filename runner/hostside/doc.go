// Package hostside is the host side of a lane: the layout of odu's files
// on a build host, and the runtime of its detached runner. The coordinator
// (lanes/provision) reads the same layout from here, so that both sides
// name the same files.
//
// A build host's runner is detached from the SSH session that starts it,
// so that it outlives the link. Its lane directory on the host
// (<workspace>.logs/<platform>, beside the nodes' logs) holds:
//
//	runner.sock  the runner's surface, a Unix socket (0600, in a 0700 directory)
//	runner.lock  flock'ed by the runner while it lives: one runner per lane
//	runner.pid   its pid, for `odu run --fresh`
//	runner.track how its nodes are tracked: for a sweep if it dies (see below)
//	.runner.log  what it says: when coordinators attach and detach, why it exits
//	used         touched at every attach: when the workspace was last used
//
// `odu runner --attach DIR` is what the coordinator's SSH session runs: it
// starts the runner if none serves DIR (in its own session and process
// group, stdio to .runner.log, so that nothing ties it to the session),
// then bridges its stdin and stdout to the socket until either ends. A
// dropped link ends the bridge, never the runner.
//
// A detached runner may die without stopping its nodes (kill -9, the OOM
// killer), and nothing else on the host would stop them: it is detached
// from every session. So it tracks itself (proc.TrackSelf: every node's
// token nests in its own, every node's cgroup is below its own) and
// records that in its lane directory, beside its pid file:
//
//	runner.track  "token T", "cgroup DIR" (where cgroups track), "grace D"
//
// It removes the file when it exits in order. Whoever finds the file
// while holding the lane's lock (no runner lives) knows that runner died:
// it stops what the record names before anything else happens in the
// lane (sweepDead). That is the next `--attach` there: the coordinator's
// redial, or the next run's.
//
// Under the host's cache directory (see [BinPath], [RepoPath],
// [WorkspacePath]): odu/bin holds the pushed binaries, content-addressed;
// odu/repos/<repo>.git the bare repository the commits are sent to;
// odu/work/<repo>/<workspace> the checkouts, each with a [Ready] file once
// complete, and its lanes' directories beside it; odu/slots the host's
// slots, a lock file each, which runners hold as their lanes' leases (see
// lease.go, [TakeSlot]). An attach removes the
// workspaces that no runner holds and nobody used for [PruneAfter].
//
// Rules: this package runs on the build host, under `odu runner`; it
// dials no host (only its own lane's Unix socket) and knows nothing of
// SSH. cmd/odu only parses the flags
// into an [Attach] or a [Serve].
package hostside
