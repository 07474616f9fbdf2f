// Package vt10x is a terminal emulator: github.com/hinshun/vt10x
// (MIT, see LICENSE; itself from st and james4k/terminal) at
// v0.0.0-20220301184237-5011da428d02, kept here with these changes marked
// "odu", because the dashboard's log pane needs them and the upstream
// module has had no release since 2022:
//
//   - rows that scroll off the top are handed to a callback
//     ([WithScrollback]), so that the pane keeps a scrollback;
//   - wide characters (East Asian, most emoji) take two cells
//     (go-runewidth), so columns line up as on a real terminal;
//   - a line feed returns to the first column, as LF does on a
//     terminal whose tty adds the CR (onlcr): logs come from pipes,
//     whose lines end in a bare LF;
//   - the parser does not allocate: no debug message formatted per
//     character (two allocations a byte), its state is a number rather
//     than a method value (a closure per escape sequence), and CSI
//     arguments are read from the bytes rather than split as strings;
//     coloured output goes through it at about 50 MB/s on one core here
//     (tui.BenchmarkLogPaneWrite).
//
// The emulators a maintained module would bring (charmbracelet/x/vt,
// vito/midterm) are not reachable through this project's module proxy.
package vt10x
