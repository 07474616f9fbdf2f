// Package mcp is `odu mcp`: odu's runs for coding agents, over the Model
// Context Protocol (the official Go SDK, on stdio). It is one more face of
// the run, like the dashboard: the tools read the live run through its
// surface (internal/face, lanes/runstate) and a finished run through its
// record, and the procedures (rerun, cancel) are the surface's.
//
// Rules:
//
//   - Nothing runs until a tool asks: starting the server reads no
//     justfile, dials no run and starts no process. The run resource's
//     watcher (the one goroutine of the server's own) starts with the
//     first subscription and ends with the last, or with the server.
//   - A run the `run` tool starts is a real `odu run` of its own
//     ([proc.StartDetached]: its own session, its output to a file under
//     .ci/<sha>/mcp), not the server's child in any way that matters: it goes
//     on when the agent disconnects, and a terminal attaches to it as to
//     any run. So is the run `rerun` starts with no run live: odu rerun
//     after the run, which carries the other nodes over from the last.
//   - A run is named by its ref, <sha7>#<n>, as odu run prints it
//     ([RunID]); status, wait and logs find the run a ref names as the
//     CLI's --run does ([runstate.ResolveRun]), and say what it says of a
//     ref that names no run.
//   - Every wait is bounded: `wait` by its deadline (10 minutes by
//     default), `run` until the run it started serves or fails.
//   - "Still running at the deadline" is an answer of its own, never a
//     failure; a failure names the nodes that did not succeed, with the
//     last lines of their logs.
//   - A log is never returned whole: by offset and limit, or its last
//     lines, each bounded.
//   - Errors are tool errors that say what a user of the CLI would read:
//     the message, and the hint under it.
package mcp
