package surface

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Log is a node's output: an append-only file of bytes, exactly as the
// recipe wrote them, that readers follow while it grows. Nothing is kept
// in memory, so a log of any size costs the same memory as an empty one.
//
// A rerun restarts it: the attempt number goes up and the file starts
// empty (a kept log, see [OpenLogKept], moves the earlier attempt's file
// aside first, never emptying it). Any number of goroutines read it; writes may come from several
// (the copy of a runner's log, and the coordinator's own note when a lane
// is lost), and each lands whole.
//
// Nor does a log hold a file descriptor while nobody writes it: its file
// is opened at the first write of an attempt and closed when the attempt
// finishes, and a read of a log that is not open for writing opens the
// file for the read. So a run of 5,000 nodes holds descriptors for the
// nodes that run, not for every node (the limit is often 1,024 or 4,096).
type Log struct {
	path string
	wmu  sync.Mutex // one write at a time
	// f is the file while the log is written, nil otherwise; fmu guards
	// it: reads and writes through it hold fmu for reading, opening and
	// closing it for writing.
	fmu    sync.RWMutex
	f      *os.File
	closed bool // Close was called: no more opening
	// view is set for a log another process writes (see OpenLogView):
	// its size comes from [Log.Grow], and a restart leaves the file to
	// its writer.
	view bool
	// keep is set for a log whose attempts are all kept (see
	// OpenLogKept): a restart moves the finished attempt's file aside;
	// link, when set, is a second name of the newest attempt's file.
	keep bool
	link string

	mu       sync.Mutex
	attempt  int
	size     int64
	finished bool
	err      error         // the first write error, which ends the log
	changed  chan struct{} // closed, and replaced, at every change
}

// OpenLog creates (or empties) the log file at path, and its directory.
// It holds no descriptor until the log is written. The file is never
// opened through a symbolic link: a log's name is odu's own, and a link
// a repository committed in its place is refused.
func OpenLog(path string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := openFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	f.Close()
	return &Log{path: path, attempt: 1, changed: make(chan struct{})}, nil
}

// OpenLogKept opens a log as [OpenLog] does, for a log whose attempts are
// all kept: a restart moves the finished attempt's file aside, to
// <name>.<attempt>.log beside it, and starts a new file, never emptying
// one. When link is set, the newest attempt's file also has that name (a
// hard link, renamed into place; see [LinkInPlace]).
func OpenLogKept(path, link string) (*Log, error) {
	l, err := OpenLog(path)
	if err != nil {
		return nil, err
	}
	l.keep, l.link = true, link
	if err := l.linkNewest(); err != nil {
		return nil, err
	}
	return l, nil
}

// OpenLogFile opens the log of a run that is over, as attempt: the file
// at path as it is, finished, read and never written (a view whose
// writer is gone). A face that shows a recorded run serves its logs so.
func OpenLogFile(path string, attempt int) (*Log, error) {
	fi, err := os.Lstat(path)
	size := int64(0)
	switch {
	case err == nil && fi.Mode().IsRegular():
		size = fi.Size()
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &Log{path: path, view: true, attempt: attempt, size: size, finished: true, changed: make(chan struct{})}, nil
}

// AttemptPath is where a kept log keeps a finished attempt: beside its
// path, <name>.<attempt>.log.
func AttemptPath(path string, attempt int) string {
	return strings.TrimSuffix(path, ".log") + "." + strconv.Itoa(attempt) + ".log"
}

// linkNewest gives the newest attempt's file its second name.
func (l *Log) linkNewest() error {
	if l.link == "" {
		return nil
	}
	return LinkInPlace(l.path, l.link)
}

// LinkInPlace makes link a hard link to target: a new link under a
// temporary name beside it, renamed over link. The rename replaces
// whatever link was (a file, a symbolic link) without writing through it,
// and a reader of link sees the old file or the new, never none. Across
// file systems (a disk mounted under .ci), where no hard link can be, it
// is a symbolic link to target, relative, which odu only ever replaces.
func LinkInPlace(target, link string) error {
	// Already so (the coordinator linked the file its runner opens):
	// rename of two names of one file would do nothing, and leave the
	// temporary name.
	if fl, err := os.Lstat(link); err == nil {
		if ft, err := os.Stat(target); err == nil && os.SameFile(fl, ft) {
			return nil
		}
	}
	for i := 0; ; i++ {
		tmp := fmt.Sprintf("%s.%d.%d.tmp", link, os.Getpid(), i)
		err := os.Link(target, tmp)
		if errors.Is(err, syscall.EXDEV) {
			rel, rerr := filepath.Rel(filepath.Dir(link), target)
			if rerr != nil {
				rel = target
			}
			err = os.Symlink(rel, tmp)
		}
		if errors.Is(err, os.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return fmt.Errorf("link %s to %s: %w", link, target, err)
		}
		err = os.Rename(tmp, link)
		os.Remove(tmp) // left only if link became target meanwhile (see above)
		if err != nil {
			return fmt.Errorf("link %s to %s: %w", link, target, err)
		}
		return nil
	}
}

// openFile opens a log's file without following a symbolic link.
func openFile(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("open %s: it is a symbolic link, and odu does not write through one", path)
	}
	return f, err
}

// withFile calls fn with the log's file open for writing, opening it if
// it is not.
func (l *Log) withFile(fn func(f *os.File) error) error {
	for {
		l.fmu.RLock()
		if f := l.f; f != nil {
			defer l.fmu.RUnlock()
			return fn(f)
		}
		l.fmu.RUnlock()
		l.fmu.Lock()
		if l.f == nil {
			if l.closed {
				l.fmu.Unlock()
				return os.ErrClosed
			}
			f, err := openFile(l.path, os.O_RDWR|os.O_CREATE)
			if err != nil {
				l.fmu.Unlock()
				return err
			}
			l.f = f
		}
		l.fmu.Unlock()
	}
}

// release closes the file until the log is written again.
func (l *Log) release() {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
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

// Note appends odu's own line, "[odu] " and the text, set apart from the
// recipe's output before it by a blank line; a log that is empty (a node
// that never ran) gets it as its first line.
func (l *Log) Note(format string, a ...any) error {
	apart := "\n"
	if l.Status().Size == 0 {
		apart = ""
	}
	_, err := fmt.Fprintf(l, "%s[odu] %s\n", apart, fmt.Sprintf(format, a...))
	return err
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
	var n int
	ferr := l.withFile(func(f *os.File) error {
		if l.view {
			// A note of the coordinator's own (a lane lost) goes after all
			// the writer wrote, reported or not.
			if fi, err := f.Stat(); err == nil && fi.Size() > off {
				off = fi.Size()
			}
		}
		n, err = write(f, off)
		return nil
	})
	if ferr != nil {
		err = ferr
	}
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
	note := []byte("\n[odu] log truncated: " + why + "\n")
	at := off
	var n int
	err := l.withFile(func(f *os.File) error {
		if l.view {
			if fi, err := f.Stat(); err == nil && fi.Size() > off {
				off, at = fi.Size(), fi.Size()
			}
		}
		var err error
		n, err = f.WriteAt(note, at)
		if err != nil {
			at = max(0, off-int64(len(note)))
			n, err = f.WriteAt(note, at)
		}
		if err == nil {
			err = f.Truncate(at + int64(n)) // what a failed write left past it
		}
		return err
	})
	defer l.release()
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
	// A write after the end (a note of the coordinator's) opens it again.
	l.release()
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
	prev := l.attempt
	l.attempt = attempt
	l.size, l.finished, l.err = 0, false, nil
	if l.view {
		l.broadcastLocked()
		return nil // its writer truncated it, and may have written again
	}
	if l.keep {
		if err := l.moveAside(prev); err != nil {
			l.err = fmt.Errorf("keep attempt %d of log %s: %w", prev, l.path, err)
		}
	} else if err := l.truncate(); err != nil {
		l.err = fmt.Errorf("truncate log %s: %w", l.path, err)
	}
	l.broadcastLocked()
	return l.err
}

// truncate empties the file, and closes it: a rerun restarts the logs of
// nodes that wait for their dependencies, and those hold no descriptor.
func (l *Log) truncate() error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.f != nil {
		err := l.f.Truncate(0)
		l.f.Close()
		l.f = nil
		return err
	}
	if l.closed {
		return os.ErrClosed
	}
	f, err := openFile(l.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	return f.Close()
}

// moveAside keeps attempt prev's file as <name>.<prev>.log and starts
// the next attempt in a new file, linked at the log's second name.
func (l *Log) moveAside(prev int) error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.closed {
		return os.ErrClosed
	}
	if err := os.Rename(l.path, AttemptPath(l.path, prev)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if l.f != nil {
		l.f.Close() // the moved file, whose bytes stay there
		l.f = nil
	}
	f, err := openFile(l.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	f.Close()
	return l.linkNewest()
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
	n, err := l.readAt(p, off)
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

// readAt reads the file at off: through the writer's descriptor while
// there is one, else through one of its own, so that a finished log
// holds none.
func (l *Log) readAt(p []byte, off int64) (int, error) {
	l.fmu.RLock()
	defer l.fmu.RUnlock()
	if l.f != nil {
		return l.f.ReadAt(p, off)
	}
	if l.closed {
		return 0, os.ErrClosed
	}
	f, err := openFile(l.path, os.O_RDONLY)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.ReadAt(p, off)
}

// Close closes the file; reads and writes after it fail.
func (l *Log) Close() error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func (l *Log) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// isAgain reports a non-blocking write that found nothing to move: not an
// error of the log.
func isAgain(err error) bool { return errors.Is(err, syscall.EAGAIN) }
