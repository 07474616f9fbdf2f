// Package termlog owns what a log looks like: it reads the bytes a
// program wrote to a terminal-like stream and keeps them as a terminal
// would show them, line by line, so that every face (the dashboard's log
// pane, a web page) shows a log the same way.
//
// # The model
//
// A log is not a screen: it is an endless sequence of lines, numbered
// from 0, with a cursor (a line and a column) where the next character
// goes. A line is a row of cells; a cell holds a character and its
// [Style]. What programs do to a log, and what a [Log] does:
//
//   - Text goes at the cursor, overwriting; writing past a line's end
//     pads it with blanks. A wide character (east Asian, emoji) takes two
//     cells; a zero-width one (a combining mark) joins the cell before.
//     Overwriting half of a wide character blanks its other half.
//   - LF (and VT, FF) goes to the first column of the next line, adding
//     a line at the end: a log comes from a pipe, whose lines end in a
//     bare LF to which a terminal's tty would have added the CR. CR goes
//     to the first column; BS one column back; TAB to the next multiple
//     of 8.
//   - SGR sets the pen: bold, faint, italic, underline, blink, reverse,
//     strike, and 16, 256 and 24-bit colours (`38;5;n`, `38;2;r;g;b`; a
//     `:` reads as a `;`). Underline colours (58) are read and dropped;
//     parameters past the 32nd are not read.
//   - EL (`CSI K`) erases in the line; ECH, ICH and DCH erase, insert and
//     delete cells. ED (`CSI J`) erases from the cursor to the end: the
//     lines below the cursor's go, as a redrawn progress display wants;
//     the lines above are history and stay (ED 1 erases the cursor's
//     line up to it, ED 2 and 3 the whole of it and the lines below).
//   - Progress displays move the cursor up a few lines to redraw them:
//     CUU, CUD, CNL, CPL, RI, and save and restore (`ESC 7`/`ESC 8`,
//     `CSI s`/`CSI u`) move between lines; CHA, HPA, CUF, CUB, CHT and
//     CBT move in the line. The cursor reaches the last [Window] lines
//     and no further: everything above is final. Downwards it stops at
//     the last line (as it does at a screen's bottom).
//   - A log has no rows: CUP (`CSI H`) takes its column and starts a new
//     line unless the cursor is on an empty last one (so that a cleared
//     screen's redraw comes after what it replaced, as in
//     terminal-to-html); VPA, scrolling (SU, SD), scroll regions and
//     line insertion and deletion (IL, DL) do nothing; RIS resets the pen
//     and starts a new line, the log stays.
//   - Everything else is consumed without showing: private modes
//     (`CSI ? … h`), sequences with intermediate bytes, charset
//     designations, OSC (a hyperlink's text shows, its target does not),
//     DCS, APC, PM and SOS strings, C0 and C1 controls. CAN and SUB
//     abort a sequence; ESC in a string ends it.
//   - A character or sequence cut between two writes goes on in the
//     next; invalid UTF-8 shows as U+FFFD, a byte each.
//
// Trailing blanks of a line are not kept. Lines are numbered from the
// log's start and keep their numbers when old ones are dropped, so a
// face can tell the user where they are.
//
// # Bounds
//
// A Log holds a bounded amount whatever it is fed, so that hostile or
// broken output cannot grow it:
//
//   - a count in a sequence is taken as at most [MaxLineCells], and
//     nothing loops once per count;
//   - a CSI sequence or an OSC, DCS, APC, PM or SOS string longer than
//     [MaxString] bytes is dropped there, and what follows is text again:
//     an unterminated string swallows no more than that;
//   - a line is at most [MaxLineCells] cells: a longer one goes on in a
//     new line; a cell keeps at most 32 bytes of zero-width characters;
//   - the kept lines are at most [Options.MaxLines] and their text and
//     styles about [Options.MaxBytes]: older lines are dropped (from the
//     window too, if the bytes demand it). [Log.Size] tells what is held.
//
// # Faces
//
// A [Line] is a value: its text ([Line.Text], for search), its styled
// pieces ([Line.Spans]), its rows on a screen of a given width
// ([Line.Wrap], [Line.Rows]: wrapping is the face's, at its width of the
// moment, not the log's), and its rendering as SGR text
// ([Line.AppendANSI]) or as HTML spans ([Line.AppendHTML]).
//
// # Why it is written here
//
// The model is buildkite/terminal-to-html's, which renders build logs
// as lines of HTML with a bounded cursor window. No well-kept Go library
// gives a log's lines as styled cells. What was checked:
// terminal-to-html (v3, maintained) keeps its cells and styles
// unexported and hands out only HTML or plain strings, and wraps lines at
// its emulated window's width; hinshun/vt10x (unmaintained; odu kept a
// modified copy) and charmbracelet/x/vt (a module of charmbracelet/x
// without tagged releases, on ultraviolet) emulate a screen: rows of a
// fixed width, and a scrollback of those rows as they scroll off, so a
// log's line is cut at the screen's width and a redraw reaches only the
// screen's height; charmbracelet/x/ansi parses sequences and keeps no
// lines. Written here, the model is small (the cursor's line is cells,
// every other is text and style runs), bounded, and faster than the
// emulator it replaces (BENCHMARKS.md, Dashboard).
package termlog
