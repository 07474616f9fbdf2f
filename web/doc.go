// Package web is `odu web`: a run in a browser. It serves a page (HTML,
// CSS and a script of its own, embedded in the binary: no framework, no
// asset from the internet) and the streams the page reads, and it is a
// thin client of the same surface as every face: the live run through
// its socket (lanes/runstate.Dial: the cell, a node's log, the
// procedures), past runs through their records. It never reads the
// coordinator's memory, and never a live run's log file.
//
// # Streams
//
// The page gets Server-Sent Events, each a JSON object:
//
//   - /api/board: "runs", the checkout's runs as runstate.ListRuns has
//     them (its index; the live one first, as it is now), again as the
//     live run changes (at most
//     every [boardEvery]) and when a run starts or ends.
//   - /api/run?ref=R: "state" (the run's whole state), "delta"s while it
//     is live, "eta" when the live run's ETA changes, "ended" when it is
//     over. R is a run's ref (<sha7>#<n>) or
//     [LiveRef], which follows each new run in turn.
//   - /api/log?ref=R&node=ID&attempt=A&from=O: the node's log, rendered
//     here by termlog (the dashboard's renderer) as HTML lines; "lines"
//     say which lines changed and how many there are, with the byte
//     offset they reflect. A page that lost its connection opens the
//     stream again with that offset: the bytes before it are rendered
//     again here and not sent, so the page has every byte once, also
//     after odu web itself restarted. attempt=K (K below the node's
//     newest) is an earlier attempt, read from its file
//     (runstate.AttemptLog): it is over, nothing writes it again. Long logs cost the server only the
//     lines a progress display can still redraw (termlog.Window).
//
// Mutations are POSTs, /api/rerun and /api/cancel, made on the live run
// as the surface's procedures.
//
// # Security
//
// Every request must carry the checkout's token (in the URL the first
// time; the page keeps it as an HttpOnly, SameSite=Strict cookie): a
// request without it gets 403. So does one whose Host header is not an IP
// literal or localhost at the served port (or the name --addr gave): a
// page of another site whose name resolves to this address (DNS
// rebinding) says its own name there. A POST must come with this
// server's own Origin. Every answer carries a strict
// Content-Security-Policy. The token lives in .ci/odu.web.token (0600),
// so that a page survives a restart of odu web; it is never logged.
package web
