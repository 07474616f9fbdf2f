package surface

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
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
	// view is set for a log another process writes (see OpenLogView):
	// its size comes from [Log.Grow], and a restart leaves the file to
	// its writer.
	view bool

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

// OpenLogView creates (or empties) the log file at path for a log that
// another process writes to the same file and reports the growth of: the
// local runner, writing the coordinator's own log files. Readers of a view
// see the bytes [Log.Grow] says are there.
func OpenLogView(path string) (*Log, error) {
	l, err := OpenLog(path)
	if l != nil {
		l.view = true
	}
	return l, err
}

// Grow records that the writer of a view has written the attempt's log up
// to size.
func (l *Log) Grow(attempt int, size int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if attempt != l.attempt || size <= l.size {
		return
	}
	l.size = size
	l.broadcastLocked()
}

// Path returns the log's file.
func (l *Log) Path() string { return l.path }

// Write appends p to the current attempt.
func (l *Log) Write(p []byte) (int, error) {
	return l.AppendFunc(func(f *os.File, off int64) (int, error) { return f.WriteAt(p, off) })
}

// AppendFunc appends to the current attempt with write, which writes to
// the log's file at off and returns how many bytes it wrote: for a writer
// that moves bytes into the file itself (splice from a pipe). It updates
// the size and wakes the readers; a write error ends the log.
func (l *Log) AppendFunc(write func(f *os.File, off int64) (int, error)) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	off, err := l.size, l.err
	l.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if l.view {
		// A note of the coordinator's own (a lane lost) goes after all
		// the writer wrote, reported or not.
		if fi, err := l.f.Stat(); err == nil && fi.Size() > off {
			off = fi.Size()
		}
	}
	n, err := write(l.f, off)
	if n <= 0 && (err == nil || isAgain(err)) {
		return 0, err // nothing moved: nothing to tell the readers
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > 0 {
		l.size = off + int64(n)
	}
	if err != nil && !isAgain(err) {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once
		}
		l.err = fmt.Errorf("write log %s: %w", l.path, err)
		err = l.err
	}
	l.broadcastLocked()
	return n, err
}

// EndTruncated ends an attempt that a write error cut short (the disk is
// full) with a line that says so, "[odu] log truncated: " and why, and
// finishes it. A disk that refused the output may refuse the line too:
// then the line takes the place of the output's last bytes, in space the
// file already has, since a log that ends without saying it is incomplete
// would mislead more than one that lost a few more bytes. It fails only
// when even that cannot be written (an empty file on a full disk).
func (l *Log) EndTruncated(why string) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	off := l.size
	l.mu.Unlock()
	if l.view {
		if fi, err := l.f.Stat(); err == nil && fi.Size() > off {
			off = fi.Size()
		}
	}
	note := []byte("\n[odu] log truncated: " + why + "\n")
	at := off
	n, err := l.f.WriteAt(note, at)
	if err != nil {
		at = max(0, off-int64(len(note)))
		n, err = l.f.WriteAt(note, at)
	}
	if err == nil {
		err = l.f.Truncate(at + int64(n)) // what a failed write left past it
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > 0 {
		l.size = at + int64(n)
	}
	if l.err == nil {
		l.err = fmt.Errorf("write log %s: log truncated: %s", l.path, why)
	}
	l.finished = true
	l.broadcastLocked()
	return err
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
	if l.view {
		l.broadcastLocked()
		return nil // its writer truncated it, and may have written again
	}
	if err := l.f.Truncate(0); err != nil {
		l.err = fmt.Errorf("truncate log %s: %w", l.path, err)
	}
	l.broadcastLocked()
	return l.err
}

// LogStatus is where a log is.
type LogStatus struct {
	Attempt  int
	Size     int64           // of the current attempt
	Finished bool            // the attempt is complete
	Err      error           // the write error that ended it, if any
	Changed  <-chan struct{} // closed at the next change
}

// Status returns where the log is.
func (l *Log) Status() LogStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LogStatus{Attempt: l.attempt, Size: l.size, Finished: l.finished, Err: l.err, Changed: l.changed}
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

// isAgain reports a non-blocking write that found nothing to move: not an
// error of the log.
func isAgain(err error) bool { return errors.Is(err, syscall.EAGAIN) }
