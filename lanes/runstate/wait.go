package runstate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/odu-ci/odu/surface"
)

// DialWait connects to the checkout's live run, waiting for one to start
// if there is none: it watches .ci (or, before odu made it, the checkout's
// root) for the socket to appear, rather than polling.
func DialWait(ctx context.Context, root, client, version string) (*surface.Client, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	dir := filepath.Join(root, StateDir)
	watching := ""
	for {
		// Watch first, then look, so that nothing happens unseen between.
		want := root
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			want = dir
		}
		if want != watching {
			if watching != "" {
				_ = w.Remove(watching) // a watch left on the root only wakes this loop more often
			}
			if err := w.Add(want); err != nil {
				return nil, err
			}
			watching = want
		}
		cl, err := Dial(ctx, root, client, version)
		if !errors.Is(err, ErrNoRun) {
			return cl, err
		}
		select {
		case <-w.Events:
		case err := <-w.Errors:
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// startingPath is the file whose lock says that an odu run process is
// alive in the checkout.
func startingPath(root string) string { return filepath.Join(root, StateDir, "odu.starting") }

// AnnounceStart says, from odu run's first moment in a checkout until it
// ends however it ends, that a run is on its way: a shared flock on
// .ci/odu.starting, which the kernel releases with the process. Before a
// run serves its socket it reads the justfile and checks the tree, which
// can take seconds; a face that finds no socket asks [Starting] whether a
// run is coming before it answers from the last record (`odu run & odu
// wait`). It is best effort: where the file cannot be made or locked at
// once, nothing is announced. The func it returns ends the announcement.
func AnnounceStart(root string) func() {
	dir := filepath.Join(root, StateDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return func() {}
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || !ownDir(fi) {
		return func() {} // not odu's to write in (a symlink, a file, another's)
	}
	f, err := os.OpenFile(startingPath(root), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return func() {}
	}
	// A face probing the lock holds it for an instant: try a few times
	// rather than block on a prober that was stopped mid-probe.
	for try := 0; ; try++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			// The file goes with the run, so that a run refused before it
			// keeps .ci/ out of git status leaves nothing there; but only
			// when no other run holds it (the lock taken whole) and it is
			// still this file, or that run's announcement would be lost.
			return sync.OnceFunc(func() {
				defer f.Close()
				if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
					return
				}
				mine, err1 := f.Stat()
				there, err2 := os.Lstat(startingPath(root))
				if err1 == nil && err2 == nil && os.SameFile(mine, there) {
					os.Remove(startingPath(root))
				}
			})
		}
		if try == 100 || !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return func() {}
		}
		time.Sleep(time.Millisecond)
	}
}

// Starting reports whether an odu run process is alive in the checkout,
// announced by [AnnounceStart]: starting, or live.
func Starting(root string) bool {
	f, err := os.OpenFile(startingPath(root), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), syscall.EWOULDBLOCK)
}

// DialStarting connects to the checkout's live run, or, while a run is
// starting (see [Starting]), waits for it to serve. It returns ErrNoRun
// once no socket answers and no run process is alive.
func DialStarting(ctx context.Context, root, client, version string) (*surface.Client, error) {
	// Polled: a lock released has no file event. 50 ms is nothing beside
	// a run's start, and a few cheap system calls.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		starting := Starting(root)
		cl, err := Dial(ctx, root, client, version)
		if !errors.Is(err, ErrNoRun) || !starting {
			return cl, err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ownDir reports whether this process's user owns a directory.
func ownDir(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
