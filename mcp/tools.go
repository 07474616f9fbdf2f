package mcp

import (
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

func yes() *bool { t := true; return &t }
func no() *bool  { f := false; return &f }

// readOnly marks a tool that changes nothing.
func readOnly(title string) *sdk.ToolAnnotations {
	return &sdk.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: no()}
}

func (s *server) addTools(srv *sdk.Server) {
	sdk.AddTool(srv, &sdk.Tool{Name: "pipeline",
		Description: `The resolved CI pipeline, ahead of time: what a run would run (what ` + "`odu dump`" + ` prints). JSON: the root recipe, the platforms, and every node (id RECIPE@PLATFORM) with its command and the ids it waits for, in topological order. Runs nothing.`,
		Annotations: readOnly("Show the pipeline")}, s.pipeline)
	sdk.AddTool(srv, &sdk.Tool{Name: "run",
		Description: `Start a CI run of this checkout and return at once with the run's ref, <sha7>#<n> (its commit, and its number among that commit's runs), as ` + "`odu run`" + ` prints it. The run is a real ` + "`odu run`" + ` process of its own: it goes on if this server stops, and a terminal can attach to it (odu monitor). By default the run is strict: it refuses uncommitted changes (commit them, or pass no_strict to run the working tree as it is) and posts commit statuses to GitHub. It refuses while another run is live in the checkout, unless supersede: then it cancels that run and starts once it has ended. Follow it with wait.`,
		Annotations: &sdk.ToolAnnotations{Title: "Start a run", DestructiveHint: no(), OpenWorldHint: yes()}}, s.run)
	sdk.AddTool(srv, &sdk.Tool{Name: "status",
		Description: `The live run of this checkout, or the last recorded one when none is live: every node's status, duration and attempt, the lanes' phases, and a verdict (running, passed, failed, cancelled, unfinished). Another run with run: a ref <sha7>#<n> (see runs), or a commit's prefix. Does not wait: use wait for that.`,
		Annotations: readOnly("Show the run's status")}, s.status)
	sdk.AddTool(srv, &sdk.Tool{Name: "wait",
		Description: `Wait until the run is over, or until a deadline (timeout_seconds, default 600), and return the verdict, the nodes that did not succeed and the last lines of each of their logs. Outcome "still_running" means the deadline came first and the run goes on: it is NOT a failure; call wait again. With no live run, answers with the last recorded run; run names another (a ref <sha7>#<n>, see runs): one that is over answers at once. Sends progress notifications as nodes finish when the request has a progress token.`,
		Annotations: readOnly("Wait for the run")}, s.wait)
	sdk.AddTool(srv, &sdk.Tool{Name: "logs",
		Description: `A node's log (from the live run, or the last recorded one; run names another, a ref <sha7>#<n>, and attempt an earlier attempt, before a rerun): by byte offset and limit (default 64 KiB, at most 1 MiB; go on from next_offset until eof), or its last lines with tail. ANSI escapes are stripped unless keep_ansi. A large log is never returned whole.`,
		Annotations: readOnly("Read a node's log")}, s.logs)
	sdk.AddTool(srv, &sdk.Tool{Name: "runs",
		Description: `The runs recorded in this checkout, newest first (what ` + "`odu runs -o json`" + ` lists): each run's ref <sha7>#<n> (what the run argument of status, wait and logs takes), verdict (passed, failed, cancelled, live, or unfinished: killed before it ended), start, duration, branch, commit subject, node counts and the nodes that did not succeed. The 20 newest unless limit says otherwise.`,
		Annotations: readOnly("List the runs")}, s.runs)
	sdk.AddTool(srv, &sdk.Tool{Name: "rerun",
		Description: `Run a node of the live run again, and every node that depends on it on its platform: they go back to pending (a running one is stopped first) and their logs start over. A skipped node is not rerun: rerun the dependency that failed. With no run live, starts a new run of the last run's commit (odu rerun after the run: strict, a snapshot of that commit) that runs the node and what depends on it and carries every other node over from the last run; it returns its ref as run does. Then call wait.`,
		Annotations: &sdk.ToolAnnotations{Title: "Rerun a node", DestructiveHint: yes(), OpenWorldHint: yes()}}, s.rerun)
	sdk.AddTool(srv, &sdk.Tool{Name: "cancel",
		Description: `Stop a node of the live run (it becomes cancelled, and what depends on it skipped), or with no node the whole run. A node that already finished is left as it is, and the cancel says so as an error.`,
		Annotations: &sdk.ToolAnnotations{Title: "Cancel a node or the run", DestructiveHint: yes(), IdempotentHint: true, OpenWorldHint: yes()}}, s.cancel)
}
