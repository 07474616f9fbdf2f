package runstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/odu-ci/odu/repo"
	"github.com/odu-ci/odu/surface"
)

// StateDir is where odu keeps a checkout's run state, relative to its root.
const StateDir = ".ci"

// SocketPath returns the path of a checkout's surface socket.
func SocketPath(root string) string { return filepath.Join(root, StateDir, "odu.sock") }

func lockPath(root string) string { return filepath.Join(root, StateDir, "odu.lock") }

// holder returns the run that holds the checkout's run lock, as it wrote
// itself into the lock file; the zero RunningError when it has not (yet)
// or the file cannot be read: a run holds the lock all the same.
func holder(root string) RunningError {
	var live RunningError
	if data, err := os.ReadFile(lockPath(root)); err == nil {
		_ = json.Unmarshal(data, &live) // what it can read, or nothing
	}
	return live
}

// RunningError reports that a run is live in the checkout.
type RunningError struct {
	PID     int       `json:"pid"`
	SHA     string    `json:"sha"`
	Started time.Time `json:"started"`
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("a run is already live in this checkout (pid %d, commit %s, started %s)",
		e.PID, repo.Short(e.SHA), e.Started.Local().Format("15:04:05"))
}

// Hint says what to do.
func (*RunningError) Hint() string {
	return "Follow it with `odu monitor`, wait for it with `odu wait`, stop it with `odu cancel`, or replace it with `odu run --supersede`."
}

// Listener is the socket of a live run, and the lock that makes it the
// only one in its checkout.
type Listener struct {
	net.Listener
	lock *os.File
	path string
	// Logf, when set, is told of accept errors that are retried (out of
	// file descriptors).
	Logf    func(format string, a ...any)
	retried atomic.Int64
	socket  os.FileInfo // the socket file this listener made
	once    sync.Once
	err     error
}

// Listen takes the checkout's run lock and listens on its socket. The
// lock is an flock on .ci/odu.lock, held while the run lives and released
// by the kernel if it dies; so a socket file found without a lock holder
// was left by a dead run, and is replaced. The socket is the user's
// alone (0600), in a .ci made 0700 when odu creates it.
func Listen(root string, info RunningError) (*Listener, error) {
	if err := MkdirState(root, StateDir); err != nil {
		return nil, err
	}
	lock, err := OpenState(lockPath(root), os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("open the run lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			live := holder(root)
			return nil, &live
		}
		return nil, fmt.Errorf("take the run lock: %w", err)
	}
	// Who holds the lock, for the faces and runs it turns away: a lock
	// whose file could not say so (a full disk) locks all the same, and
	// they say less.
	data, _ := json.Marshal(info) // a struct of a number, a string and a time
	if err := lock.Truncate(0); err == nil {
		_, _ = lock.WriteAt(data, 0)
	}

	path := SocketPath(root)
	// A dead run's socket (nobody holds the lock) is replaced; anything
	// else there is not odu's to delete.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&(os.ModeSocket|os.ModeSymlink) == 0 {
			lock.Close()
			return nil, &StateError{Msg: fmt.Sprintf("%s is not a socket odu left: odu keeps the run's socket there", path),
				Do: "Remove or move it; odu creates the socket itself."}
		}
		os.Remove(path) // a link is removed, not what it points to
	}
	var ln net.Listener
	err = shortPath(path, func(p string) error {
		var err error
		ln, err = net.Listen("unix", p)
		return err
	})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // Close removes it, by its full path
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		lock.Close()
		return nil, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		ln.Close()
		lock.Close()
		return nil, err
	}
	return &Listener{Listener: ln, lock: lock, path: path, socket: fi}, nil
}

// Close stops listening, removes the socket and releases the lock, once.
// The socket file is removed only if it is still the one this listener
// made: once the lock is released, another run of the checkout may have
// its own socket at the same path (a run that ended and keeps its
// dashboard on screen frees the checkout before it exits).
func (l *Listener) Close() error {
	l.once.Do(func() {
		l.err = l.Listener.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.socket) {
			os.Remove(l.path)
		}
		_ = l.lock.Truncate(0) // the file is read only while a run holds the lock, and each holder writes itself anew
		l.lock.Close()
	})
	return l.err
}

// Accept returns the next connection from the same user; a connection
// from any other user is closed, since the surface can rerun code.
//
// An error that passes (EMFILE: out of file descriptors) is retried with
// a backoff; it returns an error only once the listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := surface.Accept(l.Listener, func(format string, a ...any) {
			l.retried.Add(1)
			if l.Logf != nil {
				l.Logf(format, a...)
			}
		})
		if err != nil {
			return nil, err
		}
		if sameUser(c) {
			return c, nil
		}
		c.Close()
	}
}

// Retried returns how many accept errors were retried.
func (l *Listener) Retried() int64 { return l.retried.Load() }

// sameUser reports whether the peer of a Unix connection runs as this
// process's user.
func sameUser(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	uid := -1
	_ = raw.Control(func(fd uintptr) { uid = peerUID(int(fd)) }) // else uid stays -1: refused
	return uid == os.Getuid()
}

// ErrNoRun reports that no run is live in the checkout.
var ErrNoRun = errors.New("no run is live in this checkout")

// AnswerTimeout bounds how long a face waits for the run's coordinator to
// accept it and answer its hello, which a live coordinator does at once:
// one that is stopped (Ctrl-Z, SIGSTOP) or stuck leaves the connection
// pending in the socket's backlog, and the face would wait forever.
const AnswerTimeout = 10 * time.Second

// Dial connects to the checkout's live run. It returns ErrNoRun when there
// is none (no socket, or nobody answering it), a *SocketError when the
// run is another user's or its coordinator does not answer within
// AnswerTimeout.
func Dial(ctx context.Context, root, client, version string) (*surface.Client, error) {
	// A link in place of the socket (committed to the repository) could
	// lead to another checkout's run: a cancel would stop that one.
	if fi, err := os.Lstat(SocketPath(root)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(SocketPath(root))
		return nil, &StateError{Msg: fmt.Sprintf("%s is a symbolic link (to %s), not a run's socket: odu does not follow it", SocketPath(root), target),
			Do: "Remove the link; `odu run` makes the socket there itself."}
	}
	hctx, cancel := context.WithTimeout(ctx, AnswerTimeout)
	defer cancel()
	var cl *surface.Client
	err := shortPath(SocketPath(root), func(p string) error {
		var err error
		cl, err = surface.Dial(hctx, p, client, version)
		return err
	})
	if err == nil {
		return cl, nil
	}
	var verr *surface.VersionError
	switch {
	case errors.As(err, &verr):
		return nil, err
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED):
		return nil, ErrNoRun
	}
	// Another user's socket: the kernel refuses the connection (the
	// socket is 0600, in a 0700 .ci), or the coordinator closes it
	// unanswered (it serves its own user only).
	if oerr := otherUsers(root); oerr != nil {
		return nil, oerr
	}
	if ctx.Err() == nil && hctx.Err() != nil {
		return nil, notAnswering(root)
	}
	return nil, err
}

// maxSocketPath is the longest path a Unix socket address holds (104 on
// the BSDs and macOS, 108 on Linux, counting the terminating NUL).
const maxSocketPath = 103

// shortPath calls fn with path, or, when path is too long for a socket
// address, with an equivalent short one: on Linux, the socket's name
// under /proc/self/fd/N, N an open descriptor of its directory.
func shortPath(path string, fn func(string) error) error {
	if len(path) <= maxSocketPath {
		return fn(path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	short := "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + filepath.Base(path)
	if _, err := os.Stat(filepath.Dir(short)); err != nil {
		return fmt.Errorf("socket path %s is longer than %d bytes", path, maxSocketPath)
	}
	return fn(short)
}
