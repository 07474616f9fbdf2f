// Package runstate is a checkout's run state under .ci: what every face of
// odu needs to find the live run and what a run leaves behind.
//
// It holds:
//
//   - The run's socket, .ci/odu.sock, and its lock, .ci/odu.lock: [Listen]
//     takes both for the coordinator (a second run in the same checkout is
//     a [RunningError]); [Dial], [DialWait] and [DialStarting] connect a
//     face to the live run, and [ErrNoRun] says there is none. The socket
//     serves only its owner's user: another user's run, or a run that does
//     not answer, is a [SocketError] that says whose it is.
//   - The marker of a run that is starting, .ci/odu.starting
//     ([AnnounceStart], [Starting]), so that a face started with the run
//     waits for it rather than saying there is none.
//   - The run record, .ci/<sha>/runs/<n>.json ([Record], [LastRecord],
//     [ReadLast]), written whole (a temporary file renamed over it) as the
//     run goes, and the paths of the logs beside it ([LogRel]).
//   - The history of runs. Run n of a commit (its ref is "<sha7>#<n>",
//     [FormatRef]) keeps its logs in its own directory,
//     .ci/<sha>/runs/<n>/<platform>/ ([RunDirRel], [RunLogRel],
//     [RunSetupLogRel]); its number is taken with its record
//     ([NewRecordOf]). A rerun moves a node's finished attempt k aside to
//     <name>.<k>.log ([AttemptLog]; surface.OpenLogKept does it). Nothing
//     a run wrote is overwritten by a later run or attempt. The path
//     README documents, .ci/<sha>/<platform>/<name>.log ([LogRel]), is a
//     hard link to the newest run's newest attempt, renamed into place;
//     logs an older odu left there are moved into their run's directory
//     first ([AdoptOldLogs]).
//   - The index of runs, .ci/odu.runs.json, for the faces that list
//     them (`odu runs`, the web and MCP faces): [ListRuns] returns
//     [RunEntry] values newest first, [ResolveRun] finds the run a ref
//     names ([RefError] when none or several; [ErrNoRecord] when there
//     is no run), [ReadRun] reads its record; [PruneRuns] removes old
//     runs, never a live one nor the newest of a commit. A run adds
//     itself as it starts and updates itself as it ends, under the
//     index's flock (.ci/odu.runs.lock); a missing or stale index is
//     rebuilt from the records, which stay the truth.
//   - The expected durations read from the records ([Expectations]:
//     a bounded read of the newest ones).
//   - The lock of a run that replaces the live one, .ci/odu.supersede
//     ([LockSupersede], [ListenAfter]): two at once, and one is refused
//     ([SupersedingError]).
//   - The rules for .ci itself ([CheckState], [MkdirState], [OpenState]).
//
// Rules:
//
//   - No SSH and no coordinator: this package imports neither
//     golang.org/x/crypto/ssh nor lanes, so a face that imports it (the
//     status, logs, wait and monitor commands) dials no host.
//   - .ci is the repository's to host, not to shape: odu never writes
//     through a symbolic link there, refuses a .ci (or a directory of its
//     own) that is a link or another user's, and refuses names of its own
//     that git tracks.
//   - Every error a user can meet has a Hint method that says what to do.
package runstate
