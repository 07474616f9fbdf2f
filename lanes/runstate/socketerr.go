package runstate

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/odu-ci/odu/proc"
)

// SocketError reports a live run a face cannot attach to: another user's,
// or one whose coordinator does not answer. It says what to do.
type SocketError struct {
	msg, hint string
}

func (e *SocketError) Error() string { return e.msg }

// Hint says what to do.
func (e *SocketError) Hint() string { return e.hint }

// otherUsers returns a *SocketError when the checkout's socket, or the
// .ci directory that holds it, belongs to another user; nil otherwise.
func otherUsers(root string) error {
	for _, p := range []string{SocketPath(root), filepath.Join(root, StateDir)} {
		fi, err := os.Stat(p)
		if err != nil {
			continue // .ci/odu.sock is not reachable: .ci tells
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || int(st.Uid) == os.Getuid() {
			return nil
		}
		uid := strconv.Itoa(int(st.Uid))
		who, name, sudo := "uid "+uid, "uid "+uid, "'#"+uid+"'"
		if u, err := user.LookupId(uid); err == nil {
			who, name, sudo = u.Username+" (uid "+uid+")", u.Username, u.Username
		}
		msg := fmt.Sprintf("the run live in this checkout belongs to another user, %s: its socket %s serves its own user only",
			who, filepath.Join(StateDir, "odu.sock"))
		if p != SocketPath(root) {
			// Without search permission in .ci, whether a run is live
			// cannot be known: only whose the checkout's runs are.
			msg = fmt.Sprintf("this checkout's runs belong to another user, %s: %s, where odu keeps them, is theirs alone", who, StateDir)
		}
		return &SocketError{
			msg: msg,
			hint: fmt.Sprintf("Only %s can attach to it: run odu as %s (e.g. `sudo -u %s odu status`), or work in a checkout of your own.",
				name, name, sudo),
		}
	}
	return nil
}

// notAnswering is the error of a run whose coordinator does not answer:
// it names the coordinator by the pid its run lock holds, and says when
// that process is stopped.
func notAnswering(root string) error {
	live := holder(root)
	sock := filepath.Join(StateDir, "odu.sock")
	if live.PID <= 0 {
		return &SocketError{
			msg:  fmt.Sprintf("the run's coordinator does not answer on %s within %s", sock, AnswerTimeout),
			hint: "Is its `odu run` stopped (Ctrl-Z) or stuck? Continue it (`fg`, or `kill -CONT PID`), or stop it.",
		}
	}
	pid := strconv.Itoa(live.PID)
	if state, _, ok := proc.Stat(pid); ok && (state == "T" || state == "t") {
		return &SocketError{
			msg:  fmt.Sprintf("the run's coordinator (pid %s) does not answer on %s: it is stopped (Ctrl-Z, or SIGSTOP)", pid, sock),
			hint: fmt.Sprintf("Continue it: `fg` in its terminal, or `kill -CONT %s`; or end the run: `kill %s`.", pid, pid),
		}
	}
	return &SocketError{
		msg:  fmt.Sprintf("the run's coordinator (pid %s) does not answer on %s within %s; is it stopped?", pid, sock, AnswerTimeout),
		hint: fmt.Sprintf("If it is stopped (Ctrl-Z), continue it: `fg` in its terminal, or `kill -CONT %s`; if it is stuck, end it: `kill %s`.", pid, pid),
	}
}
