package runstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/odu-ci/odu/repo"
)

// odu's state under .ci is the repository's to host, not to shape: a
// repository can commit anything there, symbolic links included, and odu
// must never write through one (a committed .ci/odu.lock linked to a file
// outside the checkout would be truncated). So odu refuses a .ci that
// git tracks odu's names in, refuses a .ci or a directory of its own that
// is a symbolic link or another user's, and creates its files without
// following a link (O_NOFOLLOW, or O_EXCL and a rename over the name).

// StateError reports a .ci that odu will not keep its state in.
type StateError struct {
	Msg string
	Do  string // what to do
}

func (e *StateError) Error() string { return e.Msg }

// Hint says what to do.
func (e *StateError) Hint() string { return e.Do }

// CheckState refuses a checkout whose .ci git tracks odu's own names in
// (odu.*, and the per-commit directories), since odu would replace,
// delete or write through them, and a .ci that is not a directory of
// this user's.
func CheckState(ctx context.Context, root string) error {
	out, err := repo.Git(ctx, root, "ls-files", "-z", "--", StateDir)
	if err != nil {
		return fmt.Errorf("list the files git tracks under %s: %w", StateDir, err)
	}
	var tracked []string
	for _, p := range strings.Split(out, "\x00") {
		if p != "" && repo.IsOduState(p) {
			tracked = append(tracked, p)
		}
	}
	if len(tracked) > 0 {
		const most = 5
		shown := tracked
		if len(shown) > most {
			shown = append(shown[:most:most], fmt.Sprintf("and %d more", len(tracked)-most))
		}
		return &StateError{
			Msg: fmt.Sprintf("git tracks %s, where odu keeps its own run state (the lock, the socket, records and logs): %s",
				StateDir, strings.Join(shown, ", ")),
			Do: "Remove them from the repository (`git rm -r --cached " + strings.Join(tracked[:min(len(tracked), most)], " ") +
				"` and commit): odu does not write over, delete or follow what a repository committed.",
		}
	}
	return checkDir(root, StateDir)
}

// checkDir refuses rel (relative to root) unless it is a directory, not a
// symbolic link, owned by this user. A missing one is fine.
func checkDir(root, rel string) error {
	fi, err := os.Lstat(filepath.Join(root, rel))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(filepath.Join(root, rel))
		return &StateError{Msg: fmt.Sprintf("%s is a symbolic link (to %s): odu keeps its run state there and does not follow links", rel, target),
			Do: "Remove the link (odu creates " + rel + " itself)."}
	case !fi.IsDir():
		return &StateError{Msg: fmt.Sprintf("%s is not a directory: odu keeps its run state there", rel),
			Do: "Remove or move it (odu creates " + rel + " itself)."}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return &StateError{Msg: fmt.Sprintf("%s belongs to another user (uid %d): odu keeps its run state there", rel, st.Uid),
			Do: "Run odu as that user, or remove " + rel + " (odu creates it itself)."}
	}
	return nil
}

// MkdirState creates the directory rel under root (0700) and its parents,
// refusing any component under root that is a symbolic link or another
// user's: MkdirAll would follow a committed .ci/<sha> linked elsewhere.
func MkdirState(root, rel string) error {
	cur := ""
	for _, part := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		if err := checkDir(root, cur); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(root, cur), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create %s: %w", filepath.Join(root, cur), err)
		}
		if err := checkDir(root, cur); err != nil {
			return err // it appeared, as a link, since the check
		}
	}
	return nil
}

// OpenState opens odu's own file path with flag, never through a
// symbolic link.
func OpenState(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		target, _ := os.Readlink(path)
		return nil, &StateError{Msg: fmt.Sprintf("%s is a symbolic link (to %s), where odu keeps a file of its own: odu does not follow links", path, target),
			Do: "Remove the link; odu creates the file itself."}
	}
	return f, err
}
