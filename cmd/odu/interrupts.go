package main

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
)

// lastWords is what odu does before it exits at once on a second
// SIGINT, SIGTERM or SIGHUP: a command that has something to leave
// behind (a run's record) registers it, so that no way out leaves
// nothing. It is bound into kong like Env.
type lastWords struct {
	mu sync.Mutex
	fn func()
}

// set makes fn what is done before an immediate exit, until the returned
// function is called.
func (w *lastWords) set(fn func()) (unset func()) {
	w.mu.Lock()
	w.fn = fn
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.fn = nil
		w.mu.Unlock()
	}
}

// lastWordsLimit bounds them: a user who pressed Ctrl-C twice wants out
// now, and writing a record takes milliseconds.
const lastWordsLimit = 2 * time.Second

// say runs the registered function, for at most lastWordsLimit.
func (w *lastWords) say() {
	w.mu.Lock()
	fn := w.fn
	w.mu.Unlock()
	if fn == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(lastWordsLimit):
	}
}

// closedOut is a run's stdout that may be closed by its reader
// (`odu run | head -1`): a closed stdout is no reason to stop CI. odu
// asks for SIGPIPE (so that it gets EPIPE instead of dying of it), says
// once on stderr that the run goes on, and drops what it writes after.
type closedOut struct {
	mu     sync.Mutex
	w      io.Writer
	stderr io.Writer
	closed bool
}

func (o *closedOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return len(p), nil
	}
	n, err := o.w.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		o.closed = true
		// stderr may be the same closed pipe: then nobody is told.
		fmt.Fprintln(o.stderr, "odu: stdout was closed by its reader; the run goes on, and `odu status` and its record will have every node")
		return len(p), nil
	}
	return n, err
}

// lastRecord reads the checkout's last record for a face, saying on
// stderr which newer records could not be read and were passed over.
func lastRecord(env *Env, root string) (runstate.Last, error) {
	last, err := runstate.ReadLast(root)
	if err != nil {
		return last, err
	}
	for _, u := range last.Unreadable {
		fmt.Fprintf(env.Stderr, "odu: %v; showing %s instead\nhint: %s\n", u, last.Rel, u.Hint())
	}
	return last, nil
}
