package surface

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// Protocol is the version of the wire contract; a peer of another
// protocol is refused at hello.
const Protocol = 1

// A Status is where a node is.
type Status string

// The statuses of a node.
const (
	Pending   Status = "pending"   // waiting for its dependencies or a slot
	Running   Status = "running"   // its process runs
	Success   Status = "success"   // the recipe exited 0
	Failure   Status = "failure"   // the recipe exited non-zero
	Errored   Status = "error"     // it could not be run or finished: lane down, runner died, link lost
	Skipped   Status = "skipped"   // a dependency did not succeed, so it never started
	Cancelled Status = "cancelled" // the run or the node was stopped
)

// Terminal reports whether a node in s is finished.
func (s Status) Terminal() bool {
	switch s {
	case Success, Failure, Errored, Skipped, Cancelled:
		return true
	}
	return false
}

// Node is one node of a run, as every face sees it.
type Node struct {
	ID       string   `json:"id"`       // "ci::test@x86_64-linux"
	Name     string   `json:"name"`     // the recipe with its arguments: "build(release)"
	Recipe   string   `json:"recipe"`   // the namepath: "build"
	Platform string   `json:"platform"` // "x86_64-linux"
	Deps     []string `json:"deps"`     // ids it waits for
	Command  []string `json:"command"`  // argv, run in the workspace

	Status   Status     `json:"status"`
	ExitCode *int       `json:"exit_code,omitempty"` // once the process exited
	Started  *time.Time `json:"started,omitempty"`   // when it last started running
	// DurationMS is how long it ran, once it is finished; while it runs,
	// a face counts from Started.
	DurationMS int64  `json:"duration_ms,omitempty"`
	Reason     string `json:"reason,omitempty"` // why error, skipped or cancelled
	// Attempt counts runs of the node: 1, and one more for each rerun.
	// Its log restarts empty with each attempt.
	Attempt int `json:"attempt"`
	// LogSize is the size of the node's log once it is finished; a
	// finished node is published only after its last log byte, so a face
	// that sees it finished can read the whole log.
	LogSize int64 `json:"log_size"`
	// Log is where the coordinator keeps the log, relative to the
	// repository root; empty on a runner's surface.
	Log string `json:"log,omitempty"`
	// Post is the node's commit status on GitHub, when the coordinator
	// posts them (a strict run); only [Store.SetPost] changes it.
	Post *PostState `json:"post,omitempty"`
	// ExpectedMS is how long the node is expected to run: the median of
	// its last successful attempts in the checkout's records (see
	// [ETA]); 0 when none is recorded. The coordinator sets it as the
	// run starts.
	ExpectedMS int64 `json:"expected_ms,omitempty"`
	// Slow is set once the node has run far beyond its expectation (see
	// [Node.Overdue]); it is not stopped for it.
	Slow bool `json:"slow,omitempty"`
	// Carried is set on a node that did not run in this run: its result
	// is carried over from an earlier run of the commit (a rerun after
	// the run), which this names by its ref (or, for a run recorded
	// before refs, its record's path relative to the repository root).
	Carried string `json:"carried,omitempty"`
	// Shard is set on a shard of a sharded recipe (e2e[2/4]@x86_64-linux):
	// it says which node it is a shard of. Its aggregate is the node the
	// pipeline has, which every face and GitHub know it by.
	Shard *Shard `json:"shard,omitempty"`
	// Shards names an aggregate's shards, once it has them.
	Shards []string `json:"shards,omitempty"`
}

// Shard says which shard of which node a node is.
type Shard struct {
	Of    string `json:"of"`    // the aggregate's id: "e2e@x86_64-linux"
	N     int    `json:"n"`     // 1-based: the 2 of e2e[2/4]
	Total int    `json:"total"` // the shards the recipe runs as
}

// PostState is how far a node's commit status got to GitHub: the status
// it should have now, and whether GitHub has it. A status GitHub does not
// have yet is owed.
type PostState struct {
	State       string `json:"state"`       // the GitHub state: pending, success, failure, error
	Description string `json:"description"` // as GitHub shows it, at most 140 characters
	Posted      bool   `json:"posted"`      // GitHub has this state and description
	// Attempts counts the requests that failed since GitHub last took one.
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"` // why the last attempt failed
}

// Run describes a run as a whole.
type Run struct {
	Repo      string     `json:"repo"`             // the repository root
	SHA       string     `json:"sha"`              // the commit under test
	Branch    string     `json:"branch,omitempty"` // the branch checked out, if any
	Dirty     bool       `json:"dirty"`            // the live tree had uncommitted changes
	Snapshot  bool       `json:"snapshot"`         // HEAD was pinned in a worktree
	Root      string     `json:"root"`             // the CI root recipe
	Platforms []string   `json:"platforms"`        //
	Started   time.Time  `json:"started"`          //
	Ended     *time.Time `json:"ended,omitempty"`  // set once the run is over
	Cancelled bool       `json:"cancelled,omitempty"`
	Version   string     `json:"version"` // odu's version
	PID       int        `json:"pid"`     // the process serving this surface
	// Ref names the run among the checkout's recorded runs, "<sha7>#<n>"
	// (n counts the runs of the commit); Subject is the commit's subject.
	Ref     string `json:"ref,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Superseded is set on a run that `odu run --supersede` cancelled:
	// what took its place.
	Superseded string `json:"superseded,omitempty"`
	// RerunOf names the run (as Carried does) that a rerun after the
	// run carries its other nodes over from.
	RerunOf string `json:"rerun_of,omitempty"`
}

// Lane is one platform's runner, as the coordinator sees it.
type Lane struct {
	Platform string `json:"platform"`
	Host     string `json:"host"`  // "localhost", or the address dialled
	Phase    Phase  `json:"phase"` //
	Error    string `json:"error,omitempty"`
	// Log is the lane's setup log (how its runner was brought up),
	// relative to the repository root; nodeLog.get serves it under
	// [SetupID].
	Log string `json:"log,omitempty"`
	// Moved says, once the lane moved off a build host lost for good,
	// from where and to where (see [PhaseMoving]).
	Moved string `json:"moved,omitempty"`
}

// SetupPrefix begins the id of a lane's setup log. It begins with a dot,
// which no recipe name can (just's names are letters, digits, '_' and
// '-'), so that it never is a node's id: recipes are the user's
// namespace. It matches the log's file, .ci/<sha>/<platform>/.setup.log.
const SetupPrefix = ".setup"

// SetupID is the id under which a lane's setup log is served:
// .setup@<platform>.
func SetupID(platform string) string { return SetupPrefix + "@" + platform }

// ParseSetupID reads a setup log's id as a user types it: .setup@PLATFORM,
// or .setup alone (platform "": the run's only lane).
func ParseSetupID(arg string) (platform string, ok bool) {
	rest, ok := strings.CutPrefix(arg, SetupPrefix)
	if !ok {
		return "", false
	}
	if rest == "" {
		return "", true
	}
	return strings.CutPrefix(rest, "@")
}

// A Phase is where a lane is.
type Phase string

// The phases of a lane.
const (
	PhaseStarting   Phase = "starting"       // its runner is being started (a local lane)
	PhaseConnecting Phase = "connecting"     // the coordinator is connecting to its host
	PhasePushing    Phase = "pushing runner" // odu's binary goes to the host, unless it is there
	PhaseSource     Phase = "sending source" // the commit goes to the host, unless it is there
	PhaseRunning    Phase = "running"        // its runner runs the lane's nodes
	PhaseDone       Phase = "done"           // its runner stopped after the run
	PhaseFailed     Phase = "failed"         // it could not run, or its link was lost; Error says why
)

// PhaseReconnecting: the link to a remote lane's host dropped; the
// coordinator dials it again (within --reconnect-timeout) while the
// runner there goes on running the nodes. Error says why the link
// dropped.
const PhaseReconnecting Phase = "reconnecting"

// PhaseQueued: every slot of the lane's pool of build hosts is held; the
// lane waits in line for one (within --lease-timeout). Error says who
// holds each slot.
const PhaseQueued Phase = "queued"

// PhaseMoving: the lane's build host was lost for good (not back within
// --reconnect-timeout); the lane leases another host of its pool,
// provisions it and runs there again what had not finished. Error says
// which host was lost, and why.
const PhaseMoving Phase = "moving"

// State is a whole run: what a subscriber to the cell gets first.
type State struct {
	Seq   uint64 `json:"seq"`
	Run   Run    `json:"run"`
	Lanes []Lane `json:"lanes"`
	Nodes []Node `json:"nodes"`
}

// Node returns the node with id, or nil.
func (s *State) Node(id string) *Node {
	for i := range s.Nodes {
		if s.Nodes[i].ID == id {
			return &s.Nodes[i]
		}
	}
	return nil
}

// Apply updates the state with a delta.
func (s *State) Apply(d Delta) {
	s.Seq = d.Seq
	if d.Run != nil {
		s.Run = *d.Run
	}
	if d.Lane != nil {
		found := false
		for i := range s.Lanes {
			if s.Lanes[i].Platform == d.Lane.Platform {
				s.Lanes[i], found = *d.Lane, true
			}
		}
		if !found {
			s.Lanes = append(s.Lanes, *d.Lane)
		}
	}
	if d.Node != nil {
		if n := s.Node(d.Node.ID); n != nil {
			*n = *d.Node
		} else {
			s.Nodes = append(s.Nodes, *d.Node)
		}
	}
}

// Delta is one change of a run: the new value of what changed.
type Delta struct {
	Seq  uint64 `json:"seq"`
	Node *Node  `json:"node,omitempty"`
	Run  *Run   `json:"run,omitempty"`
	Lane *Lane  `json:"lane,omitempty"`
}

// The methods of the contract. Their names are stable: faces of other
// versions and other languages rely on them.
const (
	MethodHello     = "hello"
	MethodConfigure = "runner.configure" // a runner only
	MethodNodesGet  = "nodes.get"        // Cell
	MethodNodeLog   = "nodeLog.get"      // Stream
	MethodRerun     = "node.rerun"       // Procedure
	MethodCancel    = "node.cancel"      //
	MethodRunCancel = "run.cancel"       //
	// MethodSettle ends a node that a runner holds for its coordinator
	// (NodeSpec.Held: a sharded recipe's aggregate, whose shards run on
	// other lanes) with the status its coordinator gives. A runner only.
	MethodSettle = "node.settle"
	// MethodRunnerExit tells a detached runner that its coordinator is
	// done with it (the run is over): it stops and exits without waiting
	// out its idle bound. A runner only.
	MethodRunnerExit = "runner.exit"
	// MethodStreamCancel is a notification from a client that ends one of
	// its streams: {"id": <the stream's request id>}.
	MethodStreamCancel = "stream.cancel"
	// MethodPing is a notification from a client that says it is still
	// there; it has no params and no answer.
	MethodPing = "ping"

	// Notifications of a stream, each carrying the stream's request id.
	NoteSnapshot = "nodes.snapshot" // SnapshotNote
	NoteDelta    = "nodes.delta"    // DeltaNote
	NoteChunk    = "nodeLog.chunk"  // ChunkNote
)

// HelloParams open a connection.
type HelloParams struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"` // odu's version
	Client   string `json:"client"`  // what connects: "odu status", "coordinator"
}

// HelloResult answers hello.
type HelloResult struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"`
	Server   string `json:"server"` // "runner" or "coordinator"
	// Platform is where a runner runs its nodes ("x86_64-linux").
	Platform string `json:"platform,omitempty"`
}

// Config configures a runner with its lane, once.
type Config struct {
	SHA       string     `json:"sha"`
	Platform  string     `json:"platform"`
	Workspace string     `json:"workspace"` // where the nodes run
	LogDir    string     `json:"log_dir"`   // where the runner keeps their logs
	Nodes     []NodeSpec `json:"nodes"`
	Env       []string   `json:"env"` // KEY=VALUE added to the runner's own environment
	// Secrets names variables of Env whose values are secrets: the runner
	// masks them in every node's output. Their values travel only in this
	// message, which nothing writes down.
	Secrets []string `json:"secrets,omitempty"`
	Jobs    int      `json:"jobs"`     // nodes run at once; 0 is the host's CPU count
	GraceMS int64    `json:"grace_ms"` // from SIGTERM to SIGKILL when stopping a node
	Run     Run      `json:"run"`      // the run this lane belongs to

	// LinkDir, when set, says that LogDir is a coordinator's own (a
	// local runner writing .ci): every attempt's log is kept
	// ([OpenLogKept]) and the newest is linked at LinkDir/<name>.log.
	LinkDir string `json:"link_dir,omitempty"`
}

// NodeSpec is a node as a runner is given it.
type NodeSpec struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Recipe  string   `json:"recipe"`
	Deps    []string `json:"deps"` // ids on the same lane
	Command []string `json:"command"`
	// Attempt is the attempt the node starts at (1 when 0): a lane that
	// moved to another build host runs its unfinished nodes there as
	// their next attempt.
	Attempt int `json:"attempt,omitempty"`
	// Held is a node the runner does not run: it waits for its
	// dependencies like any other, then stays pending until its
	// coordinator settles it (MethodSettle). Held nodes have no command.
	Held bool `json:"held,omitempty"`
}

// SettleParams settle a held node.
type SettleParams struct {
	ID     string `json:"id"`
	Status Status `json:"status"` // terminal
	Reason string `json:"reason,omitempty"`
}

// NodesGetParams subscribe to the cell.
type NodesGetParams struct {
	// From, when set, is the seq of the state the subscriber starts
	// from: the stream starts with the state as it was then, and brings
	// every change since, so that a subscriber that came late misses no
	// transition (the coordinator, which subscribes to a runner it has
	// configured, and a face that shows every transition from the start
	// asks 0). When the server no longer has that far back, the stream
	// starts with the current state, as without From.
	From *uint64 `json:"from,omitempty"`
}

// SnapshotNote carries the whole state: first on a cell stream, and again
// whenever the subscriber has fallen too far behind to be sent deltas.
type SnapshotNote struct {
	Stream int64 `json:"stream"`
	State  State `json:"state"`
	// Missed are the transitions (a node's new status or attempt) that
	// a subscriber which fell behind did not get as changes, in order,
	// before the state: so that it can show every transition, though
	// not every change.
	Missed []Node `json:"missed,omitempty"`
}

// DeltaNote carries one change.
type DeltaNote struct {
	Stream int64 `json:"stream"`
	Delta  Delta `json:"delta"`
}

// StreamEnd ends a cell stream: the run is over and every change was sent.
type StreamEnd struct {
	Seq uint64 `json:"seq"`
}

// NodeLogParams subscribe to a node's log.
type NodeLogParams struct {
	ID string `json:"id"`
	// From is the offset to start at: 0 replays the whole log.
	From int64 `json:"from"`
	// Attempt is the attempt From refers to; 0 means the current one. If
	// the node was rerun since, the stream starts the new attempt at 0.
	Attempt int `json:"attempt,omitempty"`
	// NoFollow ends the stream once the bytes there are now were sent,
	// instead of waiting for the node to finish.
	NoFollow bool `json:"no_follow,omitempty"`
	// SizeOnly sends how far the log has grown instead of its bytes: for
	// a client that reads the same file (the coordinator of a local lane,
	// whose runner writes the coordinator's own log files).
	SizeOnly bool `json:"size_only,omitempty"`
	// Raw sends each chunk as a header frame naming its length followed
	// by that many bytes as they are ([NoteRawChunk]), not base64 in
	// JSON: for the coordinator's own copy of a remote lane's log, and
	// for odu logs, which prints the bytes. A face that reads the stream
	// with a JSON parser does not ask it (the stream is then no longer
	// JSON-RPC alone).
	Raw bool `json:"raw,omitempty"`
}

// ChunkNote carries log bytes: Data holds the bytes at Offset of the
// attempt's log, and its JSON form is base64. On a size_only stream, Data
// is empty and Size counts the bytes added at Offset.
type ChunkNote struct {
	Stream  int64  `json:"stream"`
	Attempt int    `json:"attempt"`
	Offset  int64  `json:"offset"`
	Data    []byte `json:"data,omitempty"`
	Size    int64  `json:"size,omitempty"`

	pooled *[MaxChunk]byte // Data's buffer, when it can be reused (see Release)
}

// Len returns how many bytes of the log the chunk covers.
func (c *ChunkNote) Len() int64 {
	if len(c.Data) > 0 {
		return int64(len(c.Data))
	}
	return c.Size
}

// LogEnd ends a log stream.
type LogEnd struct {
	Attempt int   `json:"attempt"`
	End     int64 `json:"end"` // the offset after the last byte sent
	// Finished is set when the attempt finished and End is its size.
	Finished bool `json:"finished"`
	// Restarted is set when the node was rerun: the attempt ended
	// unfinished, and a new one starts at 0.
	Restarted bool `json:"restarted,omitempty"`
}

// IDParams name a node.
type IDParams struct {
	ID string `json:"id"`
}

// RerunResult says what a rerun did: the nodes it reset, or, when another
// request restarted the node while this one waited its turn, nothing
// (Joined). Every field but Reset is optional: a result without them
// (an older server) says only what was reset.
type RerunResult struct {
	Reset []string `json:"reset"`
	// Joined is set when the node was rerun by another request after this
	// one came and before its turn: its new attempt is what this one
	// asked for, and it was not restarted again.
	Joined bool `json:"joined,omitempty"`
	// Attempt and Status are the node's when the procedure was done.
	Attempt int    `json:"attempt,omitempty"`
	Status  Status `json:"status,omitempty"`
}

// RunCancelParams are run.cancel's, all optional (an older client sends
// none).
type RunCancelParams struct {
	// Superseded says what replaces the run (`odu run --supersede`):
	// the run records it, as superseded rather than only cancelled.
	Superseded string `json:"superseded,omitempty"`
}

// CancelResult says what a node.cancel did. Its fields are optional: an
// empty result (an older server) says only that the node was cancelled.
type CancelResult struct {
	// Was is the node's status when this request stopped it: running,
	// or pending (it had not started).
	Was Status `json:"was,omitempty"`
	// Joined is set when another request cancelled the node after this
	// one came and before its turn: there was nothing left to do.
	Joined bool `json:"joined,omitempty"`
}

// LogName is the file name of a node's log: its name with `/` and `%`
// percent-encoded (a name carries its arguments, which may hold a `/`),
// and ".log". A name longer than maxLogName bytes (arguments can be of
// any length; a file name is at most 255 bytes) is cut to its first
// bytes, and "~" and 12 hex digits of its SHA-256 keep it unique:
// build(aaaa…)~3f2a9c01b7de.log. Faces find a log by the path in the
// node's state, never by its name.
func LogName(name string) string {
	esc := strings.NewReplacer("%", "%25", "/", "%2F", "\x00", "%00").Replace(name)
	if len(esc) <= maxLogName {
		return esc + ".log"
	}
	cut := maxLogName - 13
	// Never cut inside a %XX escape or a UTF-8 sequence.
	if i := strings.LastIndexByte(esc[:cut], '%'); i >= 0 && i > cut-3 {
		cut = i
	}
	for cut > 0 && !utf8.RuneStart(esc[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(name))
	return esc[:cut] + "~" + hex.EncodeToString(sum[:6]) + ".log"
}

// maxLogName bounds the length of a log's file name without ".log", well
// under the 255 bytes of a file name, so that a tool that adds a suffix
// (an editor's backup, a compressor) still can.
const maxLogName = 200
