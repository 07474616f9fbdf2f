package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odu-ci/odu/proc"
	"github.com/odu-ci/odu/surface"
)

// result is how a node's process ended.
type result struct {
	status   surface.Status
	exitCode *int
	reason   string
	logSize  int64
}

// copyBuffer is the size of the reads from a node's output pipe: a
// pipe holds 64 KiB, and larger reads fill the log's chunks faster.
const copyBuffer = 256 << 10

// buffers are reused: zeroing a fresh one for every node measurably cost
// CPU when nodes are short.
var buffers = sync.Pool{New: func() any { return new([copyBuffer]byte) }}

// run runs a node's command until it ends or stop is closed, and records
// how it ended once its last output byte is in its log.
func (r *Runner) run(n *node, started time.Time, stop <-chan struct{}, exited chan struct{}) {
	defer r.work.Done()
	defer close(exited)
	log := r.store.Log(n.spec.ID)
	res := r.exec(n, log, stop)
	res.reason = r.mask.maskString(res.reason) // a reason may quote the node's words
	if werr := log.Status().Err; werr != nil {
		// The log could not be written (the disk is full): say so at its
		// end, and never report the node green on what is left of it.
		why := r.mask.maskString(werr.Error())
		res.status, res.exitCode = surface.Errored, nil
		res.reason = "log truncated: " + why
		if err := log.EndTruncated(why); err != nil {
			r.Logf("%s: %s, and the line that says so could not be written either: %v", n.spec.ID, res.reason, err)
		}
	} else if res.reason != "" && res.status == surface.Errored {
		if err := log.Note("%s", res.reason); err != nil {
			r.Logf("%s: %s, and the log could not say so: %v", n.spec.ID, res.reason, err)
		}
	}
	log.Finish()
	res.logSize = log.Status().Size
	r.finish(n, started, res)
}

func (r *Runner) exec(n *node, log *surface.Log, stop <-chan struct{}) result {
	pr, pw, err := os.Pipe()
	if err != nil {
		return result{status: surface.Errored, reason: "create the output pipe: " + err.Error()}
	}
	defer pr.Close()
	growPipe(pw)
	argv := n.spec.Command
	env := append(slices.Clip(r.env), "ODU_NODE="+n.spec.ID) // Clip: nodes start at once
	// just writes a shebang recipe's script into a directory of its own
	// and removes it as it exits; a just that is killed (a cancel past
	// its grace) leaves it. Its directory is in one of the node's, which
	// the runner removes once the node's processes are gone.
	if tmp, err := os.MkdirTemp("", "odu-node-"); err == nil {
		defer os.RemoveAll(tmp)
		env = append(env, "JUST_TEMPDIR="+tmp)
	}
	cmd := exec.Command(lookPath(argv[0], env), argv[1:]...)
	cmd.Dir = r.cfg.Workspace
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = pw, pw // one pipe: the log keeps their order
	if cmd.Err != nil {
		pw.Close()
		return result{status: surface.Errored, reason: fmt.Sprintf("%s: %v", argv[0], cmd.Err)}
	}
	g, err := proc.Start(cmd)
	pw.Close() // the node's processes hold the write end now
	if err != nil {
		var perr *fs.PathError
		if errors.As(err, &perr) && perr.Path == cmd.Path {
			err = perr.Err // the path is named once
		}
		return result{status: surface.Errored, reason: "start " + argv[0] + ": " + err.Error()}
	}

	copied := make(chan error, 1)
	go func() {
		if r.mask != nil {
			copied <- copyMasked(log, pr, r.mask)
			return
		}
		err := spliceOutput(log, pr)
		if errors.Is(err, errNoSplice) {
			buf := buffers.Get().(*[copyBuffer]byte)
			defer buffers.Put(buf)
			_, err = io.CopyBuffer(onlyWriter{log}, pr, buf[:])
		}
		copied <- err
	}()

	// Wait for the recipe to end, or to be stopped. If copying its output
	// fails (the disk is full), stop it: nothing would read the pipe, and
	// it would block on a full one.
	var cerr error
	copyDone := false
	for waiting := true; waiting; {
		select {
		case <-g.Done():
			g.Cleanup(r.grace) // what the recipe left running in its group
			waiting = false
		case <-stop:
			g.Stop(r.grace)
			waiting = false
		case cerr = <-copied:
			copyDone = true
			copied = nil // its output closed; keep waiting for the process
			if cerr != nil {
				g.Stop(r.grace)
				waiting = false
			}
		}
	}
	state, werr := g.Wait()

	// The output ends when every holder of the pipe is gone: by now,
	// every process of the recipe's tree is (see proc), and what they
	// wrote is in the pipe. One that escaped the tracking (an escaper
	// that cleared its environment, where no cgroup tracks) can keep it
	// open: stop reading after drainWait rather than wait for it, as
	// exec.Cmd's WaitDelay does.
	var lost string // why the log may miss output, once cut
	if !copyDone {
		var c cutOutput
		from := time.Now()
		c, cerr = drain(pr, copied)
		if c.cut {
			fmt.Fprintf(log, "\n[odu] stopped reading the output %s after the recipe's processes ended: a process that escaped them still holds it\n",
				time.Since(from).Round(time.Second))
			lost = c.lost()
		}
	}

	switch {
	case werr != nil:
		return result{status: surface.Errored, reason: "wait for " + argv[0] + ": " + werr.Error()}
	case cerr != nil && !errors.Is(cerr, os.ErrClosed) && !errors.Is(cerr, os.ErrDeadlineExceeded):
		return result{status: surface.Errored, reason: "copy the output to the log: " + cerr.Error()}
	}
	if lost != "" {
		// The recipe's own verdict stands on an output that may miss its
		// end: a node whose log is incomplete is not green.
		code := state.ExitCode()
		return result{status: surface.Errored, exitCode: &code,
			reason: fmt.Sprintf("output cut: %s; the log may be incomplete (the recipe exited %d)", lost, code)}
	}
	code := state.ExitCode()
	if code == 0 {
		return result{status: surface.Success, exitCode: &code}
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return result{status: surface.Failure, reason: "killed by signal " + ws.Signal().String()}
	}
	return result{status: surface.Failure, exitCode: &code}
}

// drainWait bounds the wait for a node's output to end once its
// processes are gone: what they wrote is in the pipe, and reading a full
// pipe into the log takes milliseconds.
const drainWait = time.Second

// drainSteps bounds how many times drainWait is granted again while the
// pipe still holds bytes (a log on a disk that stalls).
const drainSteps = 10

// cutLook is how long, after the output was cut, the pipe is watched for
// more bytes: a process that escaped the node and still writes fills it
// within milliseconds, and one that holds it silently leaves it empty.
const cutLook = 100 * time.Millisecond

// cutOutput says how a node's output ended.
type cutOutput struct {
	cut    bool // the copy was stopped, the pipe still open
	unread int  // bytes left in the pipe at the cut, or written just after
	known  bool // unread could be asked
}

// lost says why the log may miss output, or "" when the pipe was seen
// empty at the cut.
func (c cutOutput) lost() string {
	switch {
	case !c.cut || c.known && c.unread == 0:
		return ""
	case !c.known:
		return "a process that escaped the node still holds its output, and whether it wrote more cannot be told on this system"
	}
	return fmt.Sprintf("a process that escaped the node still writes to its output (%d bytes unread at the cut)", c.unread)
}

// drain waits for the copy of a node's output to end, and ends it when
// the pipe stays open drainWait after the node's processes are gone:
// once the pipe holds nothing more to copy, a read deadline stops the
// copy (closing the pipe would lose what it still holds). When it cut
// the output so, it says whether bytes were left in the pipe, or came
// within cutLook after: a writer that escaped the node.
func drain(pr *os.File, copied <-chan error) (c cutOutput, err error) {
	t := time.NewTimer(drainWait)
	defer t.Stop()
	for step := 0; ; step++ {
		select {
		case err := <-copied:
			return cutOutput{}, err
		case <-t.C:
		}
		if step < drainSteps && pipeHolds(pr) {
			t.Reset(drainWait)
			continue
		}
		_ = pr.SetReadDeadline(time.Now()) // a pipe takes deadlines; the copy ends either way when the writers close
		err = <-copied
		c = cutOutput{cut: true}
		if c.unread, c.known = pipeUnread(pr); c.known && c.unread == 0 {
			time.Sleep(cutLook)
			c.unread, c.known = pipeUnread(pr)
		}
		return c, err
	}
}

// lookPath finds a command in the PATH of the environment the node runs
// with (the coordinator may have put a directory in front, say for a just
// it brought), where exec.Command would look in the runner's own.
func lookPath(name string, env []string) string {
	if strings.Contains(name, "/") {
		return name
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v // the last one wins, as for the process
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return name // exec reports that it is not found
}

// onlyWriter hides a log's other methods from io.CopyBuffer, which would
// otherwise look for ReaderFrom.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// copyMasked copies a node's output into its log through a masker: the
// path of a lane with secrets, instead of splice, since every byte must be
// looked at. What the masker holds back is written when the output ends,
// however it ends.
func copyMasked(log *surface.Log, pr *os.File, a *automaton) error {
	buf := buffers.Get().(*[copyBuffer]byte)
	defer buffers.Put(buf)
	m := newMasker(a, onlyWriter{log})
	for {
		n, err := pr.Read(buf[:])
		if n > 0 {
			if _, werr := m.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if cerr := m.Close(); cerr != nil {
				return cerr
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
