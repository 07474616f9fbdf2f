// Package tui is odu's live terminal dashboard, the face of `odu monitor`
// and of `odu run` on a terminal. It is fed only by a surface client:
// the run's cell (a snapshot, then numbered changes) and the focused
// node's log stream; it never talks to lanes.
//
// # Components
//
// A [Common] (size, styles, keys, clock) is shared by the components,
// each a model with SetSize and a View: the header (the run, the counts,
// each lane's phase until it runs), the [Matrix] (recipes as rows,
// platforms as columns), the [LogPane] (the focused node's output), the
// events lane (recent transitions) and a help footer (bubbles/help).
// Statuses look as they do in every odu command: glyphs, colours,
// clocks and counts come from internal/look.
//
// Bubble Tea v2, bubbles v2 and lipgloss v2 are module dependencies.
// Unlike Bubble Tea v1, linking them makes no odu command ask the
// terminal anything. (lipgloss v2 still looks at stdout when any odu
// command starts, for a package-level writer odu does not use: on a
// terminal it reads the terminfo entry, and inside tmux it runs `tmux
// info`, a few milliseconds; it writes nothing to the terminal.)
//
// The dashboard's colours are ANSI colours, right on
// any background: it never asks for the background colour, and the
// program is given its colour profile (the styles apply NO_COLOR), so
// it detects none either.
//
// After the run, the connection to it is closed: a log the pane had
// not loaded comes from the run's record on disk ([Options.ReadLog]).
//
// [Model] lays them out: on a wide terminal the matrix sits beside the
// log, which gets the full height; on a narrow one they stack, the log
// keeps [minLogHeight] rows and the matrix becomes a window that follows
// the focus and says how many rows it holds back.
//
// # What the dashboard asks the terminal
//
// When the program starts, Bubble Tea v2 asks the terminal, once, two
// things: with DECRQM, whether it has synchronized output (mode 2026: a
// frame drawn at once, without tearing) and Unicode core widths (mode
// 2027); and, having pushed the kitty keyboard flag that tells an
// escape key from the start of a sequence, which flags the terminal
// took (CSI ? u). Neither can be turned off while the program reads
// keys (only a program without input asks nothing), and neither is
// waited for: the answers, if any, come in with the keys and only
// change how frames and keys are encoded; a terminal that does not
// answer gets the dashboard all the same. The dashboard lets them ask:
// it is the one odu face that owns the terminal and reads its input. It
// asks nothing else (not the background or foreground colour, not the
// cursor position), and no other odu command writes any query at all.
// cmd/odu's TestDashboardNoTerminalQuery holds both rules on a terminal
// that never answers, with the commands doing their work on a live run.
//
// # The log pane is a terminal
//
// A recipe's output is what it wrote to a terminal-like stream: `\r`
// progress lines, colours, cursor movement. The pane keeps it as
// package termlog reads it, a log of lines as a terminal would show them
// (termlog's doc has the model and its bounds), so that each line starts
// at the pane's first column (a log comes from a pipe: its lines end in
// a bare LF, to which a terminal's tty would have added the CR),
// progress collapses to one line, styles come through, wide characters
// take two cells and no escape shows as text. A log line longer than the
// pane wraps over rows, at the pane's width of the moment; the pane
// tells the user log lines (a match, where the view is pinned), never
// rows. It keeps [Scrollback] lines, and older lines are forgotten:
// memory does not grow with a log's size. The whole log stays on disk
// (.ci/<sha>/<platform>/<recipe>.log, and `odu logs`).
//
// # Events in, frames out
//
// [Run] starts the program with tea.WithContext, and every outside event
// enters it through one goroutine calling program.Send. State changes are
// queued without bound and delivered in order, never dropped; log bytes
// are coalesced into batches while the program is busy, and when more is
// waiting than the pane could ever show ([maxPending]) the oldest waiting
// bytes are skipped, and the pane says how many: never reordered. A batch
// is at most [maxBatch] bytes, so that a key waits behind little; the
// model feeds it to the log (termlog) and nothing more, and makes its view
// again at the next frame, not per batch. The renderer draws at most 60
// frames a second.
package tui
