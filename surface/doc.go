// Package surface is odu's contract: the typed state of a run, and the
// protocol that carries it between a runner and the coordinator, and
// between the coordinator and every face (status, logs, monitor, the
// GitHub poster). It knows nothing of SSH, just or GitHub.
//
// # Wire
//
// A byte stream (a subprocess's stdio, an SSH session, a Unix socket)
// carries newline-delimited JSON-RPC 2.0 messages, one per line, each at
// most [MaxFrame] bytes. A frame that is too long, is not JSON, or is not
// a JSON-RPC message ends the connection with a [ProtocolError]; it never
// panics, and never takes a server down. The first request on a
// connection is hello, which carries the protocol and odu's version: a
// server refuses a peer of another version with a [VersionError].
//
// One exception to JSON alone, only for a client that asks for it: a log
// stream with raw set ([NodeLogParams.Raw]) carries each chunk as a
// header frame, a [NoteRawChunk] notification naming the chunk's
// stream, attempt, offset and length, followed by exactly length bytes
// of the log as they are (at most [MaxChunk]; no newline after them),
// instead of base64 in JSON. Its header is written in one form only
// (hello's version equality means both ends are the same odu): a length
// over MaxChunk, a header in any other form, a raw chunk cut short, or
// one sent to a server, ends the connection. The coordinator asks it for
// its own copy of a remote lane's log; faces, which may be any JSON
// parser, do not.
//
// # Primitives
//
//   - Cell, nodes.get: a stream of the whole run's state ([SnapshotNote]),
//     then every change in order ([DeltaNote]), each numbered. A
//     subscriber that falls more than a few thousand changes behind gets
//     a fresh snapshot instead, with the transitions (a node's new status
//     or attempt) it missed: a state is never lost, never reordered. A
//     subscriber that comes late and must see every transition asks for
//     the changes since an earlier seq (from: 0, the run's first state).
//   - Stream, nodeLog.get {id, from}: a node's log as bytes ([ChunkNote],
//     base64 in JSON, or raw), from an offset, following it as it grows.
//     Every chunk carries its offset, so a client resumes after a
//     reconnect without loss or duplication. ANSI escapes, carriage returns and
//     invalid UTF-8 pass unchanged.
//   - Procedures: node.rerun, node.cancel, run.cancel, and
//     runner.configure and node.settle (a held node, [NodeSpec.Held]) for
//     a runner. run.cancel may say what supersedes the run
//     ([RunCancelParams]); a [Superseder] records it.
//
// A stream is a request, then notifications tagged with the request's id,
// then the response to the request, which ends it ([StreamEnd],
// [LogEnd]). A connection writes one frame at a time, in order, so a
// snapshot always precedes its deltas and a stream's end follows its last
// item. A client ends a stream early with a stream.cancel notification.
//
// # Memory and speed
//
// A [Store] holds the state and numbers its changes; servers read it at
// each subscriber's pace, so a slow client holds up nothing but itself.
// A [Log] is a file that readers follow: memory does not grow with a
// log's size. Nothing here drops a state change.
//
// # Why not a JSON-RPC library
//
// github.com/creachadair/jrpc2 was the candidate. Log streaming must run
// at close to the disk's speed, and encoding/json, which it builds on,
// decodes a log chunk's base64 at 74 MB/s when a message is parsed twice
// as jrpc2 does (once as an envelope, once as params), against 1.8 GB/s
// when decoded directly (measured on 256 KiB chunks; `cat` moves about
// 1 GB/s here). It also writes every server notification under the
// server's one lock, and answers a malformed frame instead of ending the
// connection. So this package implements the part of JSON-RPC 2.0 it
// uses — requests, responses, notifications, line framing with a size
// bound — in a few hundred lines, and writes and reads nodeLog.chunk
// notifications without encoding/json (they remain ordinary JSON-RPC
// notifications on the wire; any JSON parser reads them).
package surface
