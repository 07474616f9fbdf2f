// Package tea is Bubble Tea, github.com/charmbracelet/bubbletea (MIT, see
// LICENSE) at v1.3.10, kept here with one change: its tea_init.go is gone.
//
// That file's init asks Lip Gloss whether the terminal's background is
// dark, which makes termenv write OSC 11 and DSR queries to stdout and
// wait up to 5 s for the answers: in every program that links Bubble Tea,
// at start, whatever it is run for. odu links the dashboard into its one
// binary, so `odu --help` on a terminal that never answers (a serial
// console, some CI ptys, a terminal behind a slow link) would wait 5 s,
// and its output would start with the queries. Upstream drops the init in
// v2; until odu moves to v2, this copy is the way to not run it (an init
// cannot be skipped, nor run after another package's init, from outside).
// The dashboard asks the terminal nothing: its colours are ANSI
// colours that need no background to choose them (tui.NewCommon).
//
// Nothing else differs from upstream: diff this directory against the
// module to check.
package tea
