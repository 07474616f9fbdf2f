package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/surface"
)

// wideWidth is the width from which the matrix sits beside the log.
const wideWidth = 100

// Source is what the model asks of the run: the log to stream, and the
// node procedures. Rerun and CancelNode may block; the model calls them
// from commands, never from Update.
type Source interface {
	// Follow asks for a log, from its start, and returns the generation
	// that the LogMsgs of that log carry. It does not block.
	Follow(id string, attempt int) int
	Rerun(id string) ([]string, error)
	CancelNode(id string) error
}

// StateMsg carries changes of the run, in the order they happened.
type StateMsg struct{ Events []surface.Event }

// LogMsg carries bytes of the followed log.
type LogMsg struct {
	Gen     int   // the Follow they answer
	Skipped int64 // bytes skipped before Data, because the pane lagged
	Data    []byte
}

// WaitingMsg says the dashboard waits for a run in Dir.
type WaitingMsg struct{ Dir string }

// EndMsg says the cell ended: Err is nil when the run is over, and says
// why when the connection to the run was lost.
type EndMsg struct{ Err error }

type tickMsg struct{}

// frameMsg is the frame after log bytes came: the log pane is drawn
// again then, at most once a frame however many batches came.
type frameMsg struct{}

type actionMsg struct {
	text string
	err  error
}

// tick is how often the clocks move.
const tick = 250 * time.Millisecond

// frame is how often the log pane is drawn again while bytes flow: the
// renderer's rate (60 frames a second).
const frame = time.Second / 60

// Model is the dashboard.
type Model struct {
	c      *Common
	header Header
	matrix *Matrix
	log    *LogPane
	events Events
	help   help.Model

	src  Source
	gen  int // of the log followed
	st   surface.State
	seen bool // a snapshot came

	wide    bool
	ended   bool
	lost    error
	note    string
	alert   bool
	waiting string
	quit    bool
	ticking bool
	held    bool // the run is over, a node failed, and the dashboard stays

	// ExitOnSettle quits when the run is over; with HoldFailure, not
	// when a node failed: then the dashboard stays until q, so that the
	// failure can be read, and OnHold is called (from Update).
	ExitOnSettle bool
	HoldFailure  bool
	OnHold       func()
	// RerunAfter: r on a run that is over quits, and [Model.Rerun] says
	// which node to rerun in a new run; without it, r asks the run.
	RerunAfter bool
	rerunAfter string

	// The program asks for the view after every message, and log bytes
	// come in hundreds of batches a second: the view is kept, and made
	// again after anything but log bytes, or at the next frame after log
	// bytes (see [frameMsg]).
	view     string
	viewOK   bool
	logDirty bool // log bytes came since the view was made
	frameDue bool // a frameMsg is on its way
}

// NewModel returns a dashboard fed by src (nil: nothing is asked); quit
// says what q does, for the help ("leave", "cancel the run").
func NewModel(c *Common, src Source, quit string) *Model {
	m := &Model{c: c, src: src, matrix: NewMatrix(c), log: NewLogPane(c)}
	m.header = Header{c: c}
	m.events = Events{c: c}
	m.help = help.New()
	s := c.Styles
	m.help.Styles = help.Styles{Ellipsis: s.Dim, ShortKey: s.Bold, ShortDesc: s.Dim, ShortSeparator: s.Dim,
		FullKey: s.Bold, FullDesc: s.Dim, FullSeparator: s.Dim}
	if quit != "" {
		c.Keys.Quit.SetHelp("q", quit)
	}
	return m
}

// State returns the run's state as the dashboard last saw it.
func (m *Model) State() surface.State { return m.st }

// red counts the nodes that failed or could not run.
func (m *Model) red() int {
	n := 0
	for _, nd := range m.st.Nodes {
		if red(nd.Status) {
			n++
		}
	}
	return n
}

func red(s surface.Status) bool { return s == surface.Failure || s == surface.Errored }

// Rerun returns the node the user asked to rerun once the run was over
// (r, with [Model.RerunAfter]), or "".
func (m *Model) Rerun() string { return m.rerunAfter }

// Ended reports whether the run was over when the dashboard ended.
func (m *Model) Ended() bool { return m.ended }

// Quit reports whether the user left (q, ctrl+c), rather than the run
// settling with ExitOnSettle.
func (m *Model) Quit() bool { return m.quit }

// Lost returns why the connection to the run was lost, or nil.
func (m *Model) Lost() error { return m.lost }

// Init starts the clock.
func (m *Model) Init() tea.Cmd { return nil }

func (m *Model) tick() tea.Cmd {
	if m.ticking {
		return nil
	}
	m.ticking = true
	return tea.Tick(tick, func(time.Time) tea.Msg { return tickMsg{} })
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
	case WaitingMsg:
		m.waiting = msg.Dir
	case StateMsg:
		m.apply(msg.Events)
		if m.st.Run.Ended == nil {
			cmd = m.tick()
		}
	case LogMsg:
		// The hot path: feed the log (termlog) and nothing else; the pane is
		// drawn at the next frame. Nothing here changes the layout or
		// the focus.
		if msg.Gen != m.gen {
			return m, nil
		}
		if msg.Skipped > 0 {
			m.log.Skip(msg.Skipped)
		}
		m.log.Write(msg.Data)
		m.logDirty = true
		if m.frameDue {
			return m, nil
		}
		m.frameDue = true
		return m, tea.Tick(frame, func(time.Time) tea.Msg { return frameMsg{} })
	case frameMsg:
		m.frameDue = false
		if m.logDirty {
			m.viewOK = false
		}
		return m, nil
	case EndMsg:
		if msg.Err != nil {
			m.lost = msg.Err
		} else {
			m.ended = true
			m.c.Keys.Quit.SetHelp("q", "leave") // there is no run left to stop
		}
		if m.ExitOnSettle && m.HoldFailure && m.lost == nil && m.red() > 0 {
			m.held = true
			if m.OnHold != nil {
				m.OnHold()
			}
		} else if m.ExitOnSettle || (m.lost != nil && !m.seen) {
			m.quit = false
			return m, tea.Quit
		}
	case tickMsg:
		m.ticking = false
		if m.st.Run.Ended == nil && !m.ended && m.lost == nil {
			cmd = m.tick()
		}
	case actionMsg:
		m.note, m.alert = msg.text, msg.err != nil
		if msg.err != nil {
			m.note = msg.err.Error()
		}
	case tea.KeyPressMsg:
		cmd = m.keys(msg)
	case tea.PasteMsg:
		// A paste is text, never keys: it goes into a search being
		// typed, and does nothing else.
		if m.log.Searching() {
			m.log.Type(msg.Content)
		}
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.log.Scroll(-3)
		case tea.MouseWheelDown:
			m.log.Scroll(3)
		}
	case tea.MouseClickMsg:
		if msg.Button == tea.MouseLeft {
			m.matrix.Click(msg.X, msg.Y)
		}
	}
	m.viewOK = false
	m.relayout()
	m.followFocus()
	return m, cmd
}

// apply applies changes of the run, recording transitions as events.
func (m *Model) apply(evs []surface.Event) {
	now := m.c.Now()
	for _, ev := range evs {
		// Each transition, those a later snapshot says this face missed
		// too; the first snapshot is where the run stands, not news.
		for n := range ev.Transitions() {
			o := m.st.Node(n.ID)
			if o == nil {
				continue // a new node: the state below takes it
			}
			if m.seen && o.Status != n.Status {
				m.events.Add(Event{When: now, Node: n.ID, From: o.Status, To: n.Status, Attempt: n.Attempt})
			}
			*o = n
		}
		switch {
		case ev.Snapshot != nil:
			m.st = *ev.Snapshot
			m.seen = true
			m.waiting = ""
		case ev.Delta != nil:
			m.st.Apply(*ev.Delta)
		}
	}
	m.matrix.SetState(&m.st)
	m.header.st = &m.st
}

// target is the log the focus calls for: the focused node's, or, while
// its lane is being brought up, the lane's setup log.
func (m *Model) target() (id string, attempt int, n *surface.Node, label string) {
	n = m.matrix.Focused()
	if n == nil {
		return "", 0, nil, ""
	}
	if n.Status == surface.Pending {
		for _, l := range m.st.Lanes {
			if l.Platform == n.Platform && l.Phase != surface.PhaseRunning && l.Phase != surface.PhaseDone && l.Phase != "" {
				return surface.SetupID(l.Platform), 0, nil, fmt.Sprintf("setup of %s (%s)", l.Platform, l.Phase)
			}
		}
	}
	return n.ID, n.Attempt, n, ""
}

// followFocus points the log pane at the focused node's log.
func (m *Model) followFocus() {
	id, attempt, n, label := m.target()
	m.log.SetNode(n, label)
	if id == "" || (id == m.log.ID() && attempt == m.log.Attempt()) {
		return
	}
	m.log.Reset(id, attempt)
	if m.src != nil {
		m.gen = m.src.Follow(id, attempt)
	}
}

// keys handles a key message. Keys typed faster than the program reads
// them (a key held down, `jjj`, a slow link) may come as one message of
// several runes: each is a key here, in order, so that `jjj` moves
// three rows and `/err` searches for "err". (A paste is a PasteMsg.)
func (m *Model) keys(msg tea.KeyPressMsg) tea.Cmd {
	runes := []rune(msg.Text)
	if len(runes) < 2 {
		return m.key(msg)
	}
	var cmds []tea.Cmd
	for _, r := range runes {
		cmds = append(cmds, m.key(tea.KeyPressMsg{Code: r, Text: string(r), Mod: msg.Mod}))
		if m.quit {
			break
		}
	}
	return tea.Batch(cmds...)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.log.Searching() {
		switch {
		case msg.String() == "ctrl+c":
			m.quit = true
			return tea.Quit
		case msg.Code == tea.KeyEnter:
			m.log.EndSearch(true)
		case msg.Code == tea.KeyEscape:
			m.log.EndSearch(false)
		case msg.Code == tea.KeyBackspace:
			m.log.Type("backspace")
		case msg.Text != "" && msg.Mod&^tea.ModShift == 0:
			m.log.Type(msg.Text)
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		m.quit = true
		return tea.Quit
	case key.Matches(msg, k.Up):
		m.matrix.Move(-1, 0)
	case key.Matches(msg, k.Down):
		m.matrix.Move(1, 0)
	case key.Matches(msg, k.Left):
		m.matrix.Move(0, -1)
	case key.Matches(msg, k.Right):
		m.matrix.Move(0, 1)
	case key.Matches(msg, k.Jump):
		m.matrix.Jump(int(msg.String()[0] - '0')) // matched "1"…"9" by its name; Text may be empty
	case key.Matches(msg, k.Failed), key.Matches(msg, k.PrevFailed):
		dir := 1
		if key.Matches(msg, k.PrevFailed) {
			dir = -1
		}
		const none = "no node failed"
		if !m.matrix.NextWhere(dir, func(n *surface.Node) bool { return red(n.Status) }) {
			m.note, m.alert = none, false
		} else if m.note == none {
			m.note = ""
		}
	case key.Matches(msg, k.Follow):
		m.log.ToggleFollow()
	case key.Matches(msg, k.PageUp):
		m.log.Scroll(-m.log.rows())
	case key.Matches(msg, k.PageDown):
		m.log.Scroll(m.log.rows())
	case key.Matches(msg, k.Top):
		m.log.Home()
	case key.Matches(msg, k.Bottom):
		m.log.End()
	case key.Matches(msg, k.Search):
		m.log.StartSearch()
	case key.Matches(msg, k.Next):
		m.log.Next()
	case key.Matches(msg, k.Escape):
		m.log.CancelSearch()
		m.note = ""
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Rerun) && m.ended && m.RerunAfter:
		// The run is over: the caller starts a new run that reruns the
		// node and carries the rest over (odu rerun with no run live).
		if n := m.matrix.Focused(); n != nil {
			m.rerunAfter = n.ID
			return tea.Quit
		}
	case key.Matches(msg, k.Rerun):
		return m.act("rerun", func(id string) (string, error) {
			reset, err := m.src.Rerun(id)
			if err == nil && len(reset) == 0 {
				// Another request's rerun overtook this one.
				return id + " was rerun by another request: not restarted again", nil
			}
			return "rerunning " + strings.Join(reset, ", "), err
		})
	case key.Matches(msg, k.Cancel):
		return m.act("cancel", func(id string) (string, error) {
			return "cancelled " + id, m.src.CancelNode(id)
		})
	}
	return nil
}

// act runs a node procedure on the focused node in a command.
func (m *Model) act(verb string, do func(id string) (string, error)) tea.Cmd {
	n := m.matrix.Focused()
	if n == nil || m.src == nil {
		return nil
	}
	if m.lost != nil {
		m.note, m.alert = "cannot "+verb+": the connection to the run is lost", true
		return nil
	}
	id := n.ID
	m.note, m.alert = verb+" "+id+"…", false
	return func() tea.Msg {
		text, err := do(id)
		if err != nil {
			err = fmt.Errorf("%s %s: %w", verb, id, err)
		}
		return actionMsg{text: text, err: err}
	}
}

// notes sets the header's message line from the dashboard's state.
func (m *Model) notes() {
	h := &m.header
	h.Note, h.Alert = m.note, m.alert
	switch {
	case m.lost != nil:
		h.Note, h.Alert = "connection to the run lost: "+m.lost.Error()+" — q to leave", true
	case m.waiting != "" && !m.seen:
		h.Note = "waiting for a run in " + m.waiting + " (start one with `odu run`)"
	case m.held && h.Note == "":
		again := ""
		if m.RerunAfter {
			again = ", r: rerun it in a new run"
		}
		h.Note, h.Alert = fmt.Sprintf("the run is over: %d failed — f: the next failed node%s, q to leave", m.red(), again), true
	case m.ended && h.Note == "" && m.RerunAfter:
		h.Note = "the run is over — r: rerun a node in a new run, q to leave"
	case m.ended && h.Note == "":
		h.Note = "the run is over — q to leave"
	case !m.seen && h.Note == "":
		h.Note = "attaching…"
	}
}

// relayout sizes the components for the terminal.
func (m *Model) relayout() {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return
	}
	m.notes()
	m.header.SetSize(w)
	m.help.SetWidth(w)
	headH := m.header.Height()
	footH := strings.Count(m.help.View(m.c.Keys), "\n") + 1
	body := max(h-headH-footH, 1)
	m.wide = w >= wideWidth
	if m.wide {
		// The left column is as wide as the matrix or an event line
		// wants, up to 45% of the terminal.
		left := min(max(m.matrix.Width(), m.events.Want(m.st.Nodes), 48), w*45/100)
		evH := 0
		if body >= 16 {
			evH = min(7, body/3)
		}
		m.matrix.SetSize(left, body-evH)
		m.matrix.SetOrigin(0, headH)
		m.events.SetSize(left, evH)
		m.log.SetSize(w-left-1, body)
		return
	}
	evH := 0
	if body >= 18 {
		evH = 3
	}
	want := len(m.matrix.names) + 1
	if want > 1 {
		want = max(want, 2)
	}
	matH := min(want, max(body-minLogHeight-evH, 2))
	m.matrix.SetSize(w, matH)
	m.matrix.SetOrigin(0, headH)
	m.events.SetSize(w, evH)
	m.log.SetSize(w, max(body-matH-evH, 1))
}

// View is the dashboard on the terminal: the screen on the alternate
// screen, the mouse reported (the wheel scrolls the log, a click
// focuses a node).
func (m *Model) View() tea.View {
	v := tea.NewView(m.Screen())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	return v
}

// Screen renders the whole screen: as it was last made, until a message
// other than log bytes comes, or the frame after log bytes.
func (m *Model) Screen() string {
	if !m.viewOK {
		m.view, m.viewOK, m.logDirty = m.render(), true, false
	}
	return m.view
}

func (m *Model) render() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	var lines []string
	lines = append(lines, strings.Split(m.header.View(), "\n")...)
	if m.wide {
		left := block(m.matrix.View(), m.matrix.width, m.matrix.height)
		if m.events.height > 0 {
			left = append(left, block(m.events.View(), m.events.width, m.events.height)...)
		}
		right := block(m.log.View(), m.log.width, m.log.height)
		sep := m.c.Styles.Dim.Render("│")
		for i := range right {
			l := strings.Repeat(" ", m.matrix.width)
			if i < len(left) {
				l = left[i]
			}
			lines = append(lines, l+sep+right[i])
		}
	} else {
		lines = append(lines, block(m.matrix.View(), w, m.matrix.height)...)
		if m.events.height > 0 {
			lines = append(lines, block(m.events.View(), w, m.events.height)...)
		}
		lines = append(lines, block(m.log.View(), w, m.log.height)...)
	}
	lines = append(lines, strings.Split(m.help.View(m.c.Keys), "\n")...)
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// block cuts or pads s to exactly h lines of exactly w cells.
func block(s string, w, h int) []string {
	lines := strings.Split(s, "\n")
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = pad(ansi.Truncate(lines[i], w, ""), w)
		} else {
			out[i] = strings.Repeat(" ", w)
		}
	}
	return out
}
