package hostside

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/runner"
)

// track is a detached runner's record of how its nodes are tracked.
type track struct {
	token, cgroup string
	grace         time.Duration
}

// writeTrack records t in the lane directory (the working directory),
// never through a symbolic link: a new file, renamed over the old one.
func writeTrack(t track) error {
	var b strings.Builder
	fmt.Fprintf(&b, "token %s\n", t.token)
	if t.cgroup != "" {
		fmt.Fprintf(&b, "cgroup %s\n", t.cgroup)
	}
	if t.grace > 0 {
		fmt.Fprintf(&b, "grace %s\n", t.grace)
	}
	tmp := Track + ".new"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", Track, err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, Track)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", Track, err)
	}
	return nil
}

// readTrack reads the record a runner left; ok is false when there is
// none (the runner exited in order, or never started).
func readTrack() (t track, ok bool, err error) {
	f, err := os.OpenFile(Track, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("open %s: %w", Track, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	f.Close()
	if err != nil {
		return t, false, fmt.Errorf("read %s: %w", Track, err)
	}
	for line := range strings.Lines(string(data)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "token":
			t.token = v
		case "cgroup":
			t.cgroup = v
		case "grace":
			t.grace, _ = time.ParseDuration(v)
		}
	}
	if t.token == "" {
		return t, false, fmt.Errorf("%s names no token", Track)
	}
	return t, true, nil
}

// sweepDead stops what a runner that died left in the lane: the caller
// holds the lane's lock, so no runner lives, and a record left means its
// runner did not exit in order. It says so in the runner's log, and with
// say (nil for none) where the coordinator can see it.
func sweepDead(say func(string)) {
	t, ok, err := readTrack()
	if err != nil {
		runnerNote("cannot sweep after a runner that died: %v", err)
		os.Remove(Track)
		return
	}
	if !ok {
		return
	}
	grace := t.grace
	if grace <= 0 {
		grace = runner.DefaultGrace
	}
	dead := "a runner that died"
	if data, err := os.ReadFile(PID); err == nil {
		dead = fmt.Sprintf("a runner that died (pid %s)", strings.TrimSpace(string(data)))
	}
	start := time.Now()
	n := proc.StopTracked(t.token, t.cgroup, grace)
	// The dead runner's files go with its record: its pid may be another
	// process's by now, and its socket answers nobody.
	os.Remove(PID)
	os.Remove(Sock)
	os.Remove(Track)
	msg := fmt.Sprintf(SweepNote+"%d processes left by %s, in %s", n, dead, time.Since(start).Round(time.Millisecond))
	if n == 0 {
		msg = fmt.Sprintf("found nothing left running by %s", dead)
	}
	runnerNote("%s", msg)
	if say != nil && n > 0 {
		say(msg)
	}
}

// runnerNote adds a line to the runner's log from outside the runner
// (`--attach`), in the runner's own format.
func runnerNote(format string, a ...any) {
	f, err := os.OpenFile(Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s odu runner: %s\n", time.Now().Format("2006-01-02 15:04:05.000"), fmt.Sprintf(format, a...))
}

// sweepIfDead sweeps the lane when no runner holds its lock (`--attach`
// found no runner on its socket); a runner that holds it lives, and is
// left alone.
func sweepIfDead(say func(string)) {
	lock, err := os.OpenFile(Lock, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return
	}
	defer lock.Close() // releases the lock
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return
	}
	sweepDead(say)
}

// stderrSay says a sweep's line on stderr, which the coordinator copies
// into the lane's setup log (lanes/provision's sweepLines).
func stderrSay(w io.Writer) func(string) {
	return func(msg string) { fmt.Fprintf(w, "%s%s\n", StderrPrefix, msg) }
}
