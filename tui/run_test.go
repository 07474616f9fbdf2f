package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	tea "github.com/odu-ci/odu/tui/internal/tea"
)

// panicky is a program that panics when it is drawn.
type panicky struct{}

func (panicky) Init() tea.Cmd                       { return nil }
func (panicky) Update(tea.Msg) (tea.Model, tea.Cmd) { return panicky{}, nil }
func (panicky) View() string                        { panic("boom") }

// TestRunErr: a program killed because the caller's context ended is a
// clean end; a panic in Update or View (which tea reports as killed too)
// is an error, whatever the context says.
func TestRunErr(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(live)
	cancel()

	// What the vendored tea returns for a panic.
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
