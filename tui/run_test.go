package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/odu-ci/odu/surface"
)

// panicky is a program that panics when it is drawn.
type panicky struct{}

func (panicky) Init() tea.Cmd                       { return nil }
func (panicky) Update(tea.Msg) (tea.Model, tea.Cmd) { return panicky{}, nil }
func (panicky) View() tea.View                      { panic("boom") }

// TestRunErr: a program killed because the caller's context ended is a
// clean end; a panic in Update or View (which tea reports as killed too)
// is an error, whatever the context says.
func TestRunErr(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(live)
	cancel()

	// What Bubble Tea returns for a panic.
	p := tea.NewProgram(panicky{}, tea.WithContext(live), tea.WithInput(nil), tea.WithOutput(io.Discard),
		tea.WithoutSignalHandler())
	_, panicked := p.Run()
	if !errors.Is(panicked, tea.ErrProgramPanic) {
		t.Fatalf("a panicking program returns %v, want ErrProgramPanic", panicked)
	}
	killed := fmt.Errorf("%w: %w", tea.ErrProgramKilled, context.Canceled)

	for _, c := range []struct {
		name    string
		ctx     context.Context
		err     error
		wantNil bool
	}{
		{"ended", ended, killed, true},
		{"panic", live, panicked, false},
		{"panic as ctx ended", ended, panicked, false},
		{"killed, ctx live", live, tea.ErrProgramKilled, false},
		{"other error", ended, io.ErrUnexpectedEOF, false},
		{"none", live, nil, true},
	} {
		if got := runErr(c.ctx, c.err); (got == nil) != c.wantNil {
			t.Errorf("%s: runErr(%v) = %v", c.name, c.err, got)
		}
	}
}

// closedClient is a client whose connection to the run is closed.
type closedClient struct{}

var errClosed = errors.New("connection closed")

func (closedClient) Watch() (*surface.Watch, error)                        { return nil, errClosed }
func (closedClient) Log(surface.NodeLogParams) (*surface.LogStream, error) { return nil, errClosed }
func (closedClient) Rerun(context.Context, string) ([]string, error)       { return nil, errClosed }
func (closedClient) CancelNode(context.Context, string) error              { return errClosed }

// TestLogFromDisk: once the connection to the run is closed (the run is
// over), a log the pane had not loaded comes from the record on disk.
func TestLogFromDisk(t *testing.T) {
	run := surface.Run{SHA: "0123", Started: t0}
	for _, disk := range []bool{true, false} {
		f := &feed{kick: make(chan struct{}, 1)}
		s := &source{ctx: context.Background(), f: f, run: run}
		var asked []string
		if disk {
			s.readLog = func(r surface.Run, id string) (io.ReadCloser, error) {
				asked = append(asked, fmt.Sprintf("%s %s", r.SHA, id))
				return io.NopCloser(strings.NewReader("line 1\nline 2\n")), nil
			}
		}
		f.setGen(1)
		s.stream(context.Background(), closedClient{}, "bad@x86_64-linux", 1, 1)
		got := string(f.log)
		switch {
		case disk && (got != "line 1\nline 2\n" || fmt.Sprint(asked) != "[0123 bad@x86_64-linux]"):
			t.Errorf("from disk: the pane got %q (asked %v), want the file", got, asked)
		case !disk && got != "\x1b[0m[odu: cannot read the log of bad@x86_64-linux: connection closed]\r\n":
			t.Errorf("without a disk: the pane got %q", got)
		}
	}
}
