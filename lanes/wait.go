package lanes

import (
	"context"
	"errors"
	"os"
	"path/filepath"

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
				w.Remove(watching)
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
