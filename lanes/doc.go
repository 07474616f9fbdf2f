// Package lanes is odu's coordinator: it runs a pipeline on one lane per
// platform (a runner on this machine, or on a build host over SSH) and
// merges what the lanes' runners say into the one store its own surface
// serves to the faces.
//
// The coordinator's concerns, a file each:
//
//   - coordinator.go: [Start], the run's record kept as it goes, waiting
//     for every node ([Coordinator.Wait]), and the run's end
//     ([Coordinator.Finish], [Coordinator.Abort]).
//   - lane.go: a lane's life: its runner started (lanes/provision),
//     configured, its client swapped as it reconnects, its end.
//   - lease.go: a lane of a pool of build hosts leases a slot on one of
//     them before its runner starts, waiting in line (phase queued) while
//     every slot is held, within [Options.LeaseTimeout], or not at all
//     with [Options.NoWait].
//   - shards.go: a recipe tagged odu:shard=N as up to N shards, each on a
//     slot of its own (the platform's lane runs shard 1; each other shard
//     has a lane of its own, leased without waiting), and its aggregate,
//     held by the platform's runner and settled once every shard ended.
//   - link.go: a lane whose link dropped: a detached runner is dialled
//     again within [Options.ReconnectTimeout]; its nodes become errors
//     only when it is not back (and the lane cannot move: move.go).
//   - move.go: a lane of a pool whose host is lost for good moves to
//     another host with a free slot, at most [Options.LaneMoves] times,
//     and runs there again what had not finished and what that needs.
//   - mirror.go: the fan-in: each lane's node changes mirrored into the
//     coordinator's store, a node's success vouched for only once its
//     whole log is here.
//   - follow.go: log following: every node's log streamed from its runner
//     into the coordinator's log files, resumed after a reconnect.
//   - procedures.go: rerun and cancel, forwarded to the lane that runs
//     the node, and the run's cancel told to every lane.
//
// Its seams are packages of their own: lanes/hosts (where lanes run),
// lanes/sshlink (the SSH transport), lanes/provision (starting a lane's
// runner, provisioning a host), lanes/runstate (the run's socket, lock
// and record, which the faces use without this package).
//
// Rules: the coordinator draws nothing and posts nothing (the faces do);
// every goroutine it starts is joined before [Coordinator.Finish] returns
// (provisioning's waits on an SSH session end with the session, bounded,
// not joined)
// ([Coordinator.Abort], for a coordinator that exits at once, waits for
// none); a node is green only when its runner said so and its whole log
// reached the coordinator.
package lanes
