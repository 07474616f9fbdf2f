// Package provision starts a lane's runner: on this machine as a child
// process ([Local]), or on a build host ([Remote]), which it provisions
// first, and returns a [Runner] handle the coordinator keeps.
//
// Provisioning a remote lane, in the order it happens (each step is told
// in the lane's setup log, .setup@<platform>, and its phase):
//
//  1. Probe the host: `uname -sm`, its home, cache directory, PATH, and
//     whether it has just and git. The platform must be the lane's.
//  2. Push odu's own binary for the host's platform to
//     <cache>/odu/bin/odu-<hash>, content-addressed: written to a temporary
//     name, its checksum verified on the host, then renamed. Skipped when
//     the host has it, so a second run pushes nothing.
//  3. Start `odu-<hash> runner --attach <workspace>.logs/<platform>` over an
//     SSH session: it starts the lane's runner detached from the session
//     (unless one runs there already: a coordinator that comes back
//     re-attaches) and bridges the session's stdio to the runner's socket.
//     A dropped link ends the bridge, not the runner; the coordinator
//     dials again and attaches with --existing. A lane of a pool connects
//     to every host of it first ([Connect]: steps 1 and 2), asks each who
//     holds its slots ([Host.Slots]), and starts its runner on one with a
//     [Lease] ([Host.Start]): the attach takes a slot's lock on the host
//     and hands it to the runner, which holds it for its life
//     (runner/hostside/lease.go); when the slots went meanwhile it starts
//     nothing, and says so (hostside.ErrSlotsBusy).
//  4. If the host has no just and this machine's just is for the host's
//     platform, push it the same content-addressed way.
//  5. Send the commit as a thin git pack of only the objects the host
//     lacks (it keeps a bare repository, <cache>/odu/repos/<repo>.git, and
//     says which commits it has), then check it out in the workspace
//     <cache>/odu/work/<repo>/<sha>, which later runs of the commit reuse.
//     The host needs no access to the origin and no credentials, and an
//     unpushed commit works. With --no-snapshot, the working tree's
//     uncommitted changes are applied on top, in a workspace of their own.
//
// `odu doctor` checks a host the same way, without changing it
// ([CheckHost]); `odu hosts` asks it who holds its slots ([Survey]).
//
// Rules:
//
//   - The host-side layout (cache paths, the workspace's ready file, the
//     lane directory, the runner's files, its exit codes, the pruning
//     bound) is runner/hostside's, never spelled out here.
//   - Nothing is sent that the host has: binaries are content-addressed,
//     commits sent as thin packs of what the host lacks.
//   - A host's problem is an *sshlink.HostError that names the host, with
//     a Hint when there is something to do. GitHub tokens never reach a
//     lane (runner.WithoutTokens); secrets reach it only in the runner's
//     configuration, never here.
package provision
