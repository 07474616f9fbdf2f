package surface

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Log is a node's output: an append-only file of bytes, exactly as the
// recipe wrote them, that readers follow while it grows. Nothing is kept
// in memory, so a log of any size costs the same memory as an empty one.
//
// A rerun restarts it: the attempt number goes up and the file starts
// empty. Any number of goroutines read it; writes may come from several
// (the copy of a runner's log, and the coordinator's own note when a lane
// is lost), and each lands whole.
type Log struct {
	path string
	f    *os.File
	wmu  sync.Mutex // one write at a time

	mu       sync.Mutex
	attempt  int
	size     int64
	finished bool
	err      error         // the first write error, which ends the log
	changed  chan struct{} // closed, and replaced, at every change
}

// OpenLog creates (or empties) the log file at path, and its directory.
func OpenLog(path string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	return &Log{path: path, f: f, attempt: 1, changed: make(chan struct{})}, nil
}

// Path returns the log's file.
func (l *Log) Path() string { return l.path }

// Write appends p to the current attempt.
func (l *Log) Write(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	off, err := l.size, l.err
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := l.f.WriteAt(p, off)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.size += int64(n)
	if err != nil {
		l.err = fmt.Errorf("write log %s: %w", l.path, err)
	}
	l.broadcastLocked()
	return n, l.err
}

// Finish marks the current attempt complete: readers that reach its end
// stop there.
func (l *Log) Finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finished = true
	l.broadcastLocked()
}

// Restart begins a new attempt with an empty file, and returns its number.
func (l *Log) Restart() (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.attempt + 1
	err := l.restartLocked(next)
	return next, err
}

// RestartAt begins attempt with an empty file: a mirror of another log
// follows its attempts, which may have moved on by more than one.
func (l *Log) RestartAt(attempt int) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.restartLocked(attempt)
}

func (l *Log) restartLocked(attempt int) error {
	l.attempt = attempt
	l.size, l.finished, l.err = 0, false, nil
	if err := l.f.Truncate(0); err != nil {
		l.err = fmt.Errorf("truncate log %s: %w", l.path, err)
	}
	l.broadcastLocked()
	return l.err
}

// Status returns the current attempt, its size, whether it is finished,
// the write error that ended it if any, and a channel closed at the next
// change.
func (l *Log) Status() (attempt int, size int64, finished bool, err error, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attempt, l.size, l.finished, l.err, l.changed
}

// ReadAt reads the bytes of attempt at off. It fails with ErrRestarted
// when the log is no longer at that attempt, so a reader never mixes two
// attempts' bytes.
func (l *Log) ReadAt(p []byte, attempt int, off int64) (int, error) {
	l.mu.Lock()
	size, cur := l.size, l.attempt
	l.mu.Unlock()
	if cur != attempt {
		return 0, ErrRestarted
	}
	if off >= size {
		return 0, io.EOF
	}
	if int64(len(p)) > size-off {
		p = p[:size-off]
	}
	n, err := l.f.ReadAt(p, off)
	l.mu.Lock()
	cur = l.attempt
	l.mu.Unlock()
	if cur != attempt {
		// Restarted while reading: the bytes may be the new attempt's.
		return 0, ErrRestarted
	}
	if errors.Is(err, io.EOF) && n == len(p) {
		err = nil
	}
	return n, err
}

// ErrRestarted reports a read of an attempt the log has moved past.
var ErrRestarted = errors.New("the log was restarted by a rerun")

// Close closes the file.
func (l *Log) Close() error { return l.f.Close() }

func (l *Log) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}
