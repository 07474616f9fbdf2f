package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/odu-ci/odu/internal/odutest"
	"github.com/odu-ci/odu/internal/sshtest"
	"github.com/odu-ci/odu/surface"
)

// dashJustfile is a pipeline for the dashboard: a node that passes, one
// that fails, one that draws a progress line with \r, one that runs until
// the test says stop, and one that passes at first and, run again, runs
// until the test says stop.
const dashJustfile = `[metadata("ci")]
ci: ok bad progress slow again

ok:
    @echo ok-output

bad:
    @echo bad-output; exit 3

progress:
    @printf 'fetch 10%%\rfetch 50%%\rfetch 100%%\n'
    @printf '\033[32mgreen-done\033[0m\n'

slow:
    @while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done

again:
    @if [ -e "$DASH_MARK" ]; then while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done; fi; touch "$DASH_MARK"
`

// tmuxTerm is a terminal: a tmux server of its own running one command
// in a detached session, read with capture-pane, typed into with
// send-keys.
type tmuxTerm struct {
	t     *testing.T
	sock  string
	shell string // the interactive shell it runs, if any (completion_test.go)
}

func newTmux(t *testing.T, w, h int, script string) *tmuxTerm {
	t.Helper()
	// The socket's name is unique to this test's temporary directory
	// (TestName123456789/001): tests elsewhere may run tmux at once.
	tmp := t.TempDir()
	tm := &tmuxTerm{t: t, sock: "odu-test-" + filepath.Base(filepath.Dir(tmp)) + "-" + filepath.Base(tmp)}
	tm.run("new-session", "-d", "-s", "s", "-x", itoa(w), "-y", itoa(h), "sh", script)
	var socket string
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-L", tm.sock, "kill-server").Run() // the server may be gone already
		if socket != "" {
			os.Remove(socket) // the server leaves it behind
		}
	})
	socket = strings.TrimSpace(tm.run("display-message", "-p", "#{socket_path}"))
	return tm
}

func itoa(n int) string { return strconv.Itoa(n) }

func (tm *tmuxTerm) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen returns what the terminal shows; with colour, SGR sequences
// included.
func (tm *tmuxTerm) screen(colour bool) string {
	args := []string{"capture-pane", "-p", "-t", "s"}
	if colour {
		args = append(args, "-e")
	}
	return tm.run(args...)
}

// key types one key.
func (tm *tmuxTerm) key(k string) { tm.run("send-keys", "-t", "s", k) }

// waitFor waits until the screen satisfies ok. The deadline only ends a
// test that hangs: it is not a measure of speed.
func (tm *tmuxTerm) waitFor(what string, colour bool, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		s = tm.screen(colour)
		if ok(s) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("the screen never showed %s; it shows:\n%s", what, s)
	return ""
}

func (tm *tmuxTerm) waitText(texts ...string) string {
	tm.t.Helper()
	return tm.waitFor(strings.Join(texts, ", "), false, func(s string) bool {
		for _, t := range texts {
			if !strings.Contains(s, t) {
				return false
			}
		}
		return true
	})
}

// rowOf returns the matrix row showing recipe: its number key and line.
func rowOf(screen, recipe string) (string, string) {
	re := regexp.MustCompile(`(?m)^([1-9]) ` + regexp.QuoteMeta(recipe) + ` .*$`)
	m := re.FindStringSubmatch(screen)
	if m == nil {
		return "", ""
	}
	return m[1], m[0]
}

// dash is a checkout with dashJustfile committed, and the environment
// odu runs in there: the odu under test and the fast just first on PATH,
// colours on.
type dash struct {
	t                   *testing.T
	bin, tmp, dir, stop string
	env                 []string
}

// sshHosts starts an sshd host on each address, gives the dashboard's
// odu a key they authorize and a known_hosts that knows them, and points
// ODU_HOSTS at a hosts file whose x86_64-linux entry is pool's JSON, made
// from the hosts' addresses.
func (d *dash) sshHosts(pool func(addrs ...string) string, ips ...string) []*sshtest.Server {
	d.t.Helper()
	sshDir := filepath.Join(d.tmp, "home", ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		d.t.Fatal(err)
	}
	key := sshtest.NewKey(d.t)
	data, err := os.ReadFile(key.Path)
	if err != nil {
		d.t.Fatal(err)
	}
	var hosts []*sshtest.Server
	var addrs []string
	var known strings.Builder
	for _, ip := range ips {
		h := sshtest.Start(d.t, sshtest.Options{Host: ip, Keys: []sshtest.Key{key}})
		hosts, addrs = append(hosts, h), append(addrs, h.Addr())
		known.WriteString(h.KnownHostsLine() + "\n")
	}
	file := filepath.Join(d.tmp, "hosts.json")
	for path, content := range map[string]string{
		filepath.Join(sshDir, "id_ed25519"):  string(data),
		filepath.Join(sshDir, "known_hosts"): known.String(),
		file:                                 `{"x86_64-linux": ` + pool(addrs...) + "}\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			d.t.Fatal(err)
		}
	}
	d.env = append(slicesDeleteEnv(d.env, "SSH_AUTH_SOCK"), "ODU_HOSTS="+file)
	return hosts
}

// jsonList is a pool of every address, as a hosts file's JSON list.
func jsonList(addrs ...string) string {
	return `["` + strings.Join(addrs, `", "`) + `"]`
}

func newDash(t *testing.T, justfile string) *dash {
	t.Helper()
	bin, err := odutest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is missing: run `bash .ci/setup`")
	}
	tmp := t.TempDir()
	d := &dash{t: t, bin: bin, tmp: tmp, dir: filepath.Join(tmp, "repo"), stop: filepath.Join(tmp, "stop")}
	home := filepath.Join(tmp, "home")
	for _, dir := range []string{home, d.dir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d.dir, "justfile"), []byte(justfile), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), odutest.GitEnv(home)...)
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CACHE_HOME="+filepath.Join(tmp, "cache"), "DASH_STOP="+d.stop, "DASH_MARK="+filepath.Join(tmp, "mark"),
		"DASH_PID="+filepath.Join(tmp, "pid"))
	// A race the detector finds in odu (built with it when the tests
	// are) is written to a file, not over the dashboard, and fails the
	// test whole.
	race := filepath.Join(tmp, "race")
	env = append(slicesDeleteEnv(env, "GORACE"), "GORACE=atexit_sleep_ms=0 log_path="+race)
	d.env = slicesDeleteEnv(env, "NO_COLOR")
	t.Cleanup(func() {
		reports, _ := filepath.Glob(race + ".*")
		for _, r := range reports {
			data, _ := os.ReadFile(r)
			t.Errorf("the race detector reported, in odu:\n%s", data)
		}
	})
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "dashboard"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = d.dir, d.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, out)
		}
	}
	// Whatever a test leaves waiting on the stop file ends.
	t.Cleanup(func() { touch(t, d.stop) })
	return d
}

// terminal starts a tmux terminal of w×h running `odu ARGS` in the
// checkout; when odu returns, the terminal says "odu exited CODE" under
// what odu left on it.
func (d *dash) terminal(w, h int, args string) *tmuxTerm {
	d.t.Helper()
	script := filepath.Join(d.tmp, "term-"+strconv.Itoa(w)+"x"+strconv.Itoa(h)+".sh")
	var sh strings.Builder
	for _, kv := range d.env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, "();%") || strings.HasPrefix(k, "TMUX") {
			continue
		}
		sh.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	sh.WriteString("cd '" + d.dir + "'\nodu " + args + "\necho \"odu exited $?\"\nexec sleep 600\n")
	if err := os.WriteFile(script, []byte(sh.String()), 0o755); err != nil {
		d.t.Fatal(err)
	}
	return newTmux(d.t, w, h, script)
}

// background starts `odu run --progress plain` in the checkout, in a
// process group of its own, its output in run.out. The run ends when
// the test does (the stop file, then SIGKILL to the group if need be).
func (d *dash) background() (*exec.Cmd, chan error) {
	d.t.Helper()
	runOut, err := os.Create(filepath.Join(d.tmp, "run.out"))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { runOut.Close() })
	run := exec.Command(filepath.Join(d.bin, "odu"), "run", "--progress", "plain")
	run.Dir, run.Env, run.Stdout, run.Stderr = d.dir, d.env, runOut, runOut
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := run.Start(); err != nil {
		d.t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- run.Wait() }()
	d.t.Cleanup(func() {
		touch(d.t, d.stop)
		select {
		case err := <-runDone:
			runDone <- err
		case <-time.After(30 * time.Second):
			syscall.Kill(-run.Process.Pid, syscall.SIGKILL)
			runDone <- <-runDone
		}
	})
	return run, runDone
}

func (d *dash) runOutput() string {
	out, _ := os.ReadFile(filepath.Join(d.tmp, "run.out"))
	return string(out)
}

// TestDashboard attaches `odu monitor` in a real terminal (tmux) to a
// real `odu run` on this machine's lane, and reads the screen as a user
// would.
func TestDashboard(t *testing.T) {
	d := newDash(t, dashJustfile)
	bin, dir, env := d.bin, d.dir, d.env
	_, runDone := d.background()
	tm := d.terminal(120, 40, "monitor")

	// Nodes appear and turn green and red.
	s := tm.waitFor("ok green and bad red", false, func(s string) bool {
		_, okRow := rowOf(s, "ok")
		_, badRow := rowOf(s, "bad")
		return strings.Contains(okRow, "✓") && strings.Contains(badRow, "✗")
	})
	for _, r := range []string{"ok", "bad", "progress", "slow", "again"} {
		if k, _ := rowOf(s, r); k == "" {
			t.Errorf("the matrix has no row for %s:\n%s", r, s)
		}
	}
	// Green and red are the colour SGRs 32 and 31 (tmux writes each
	// attribute of a cell as its own sequence): not bold (1) or faint (2).
	colour := tm.screen(true)
	if !regexp.MustCompile(`\x1b\[32m✓`).MatchString(colour) || !regexp.MustCompile(`\x1b\[31m✗`).MatchString(colour) {
		t.Errorf("✓ is not green or ✗ not red:\n%q", colour)
	}

	// The focused log shows a node's output, the \r progress collapsed.
	k, _ := rowOf(s, "progress")
	tm.key(k)
	s = tm.waitText("fetch 100%", "green-done")
	if strings.Contains(s, "fetch 10%") || strings.Contains(s, "fetch 50%") {
		t.Errorf("the \\r progress did not collapse:\n%s", s)
	}

	// r reruns the focused node: `again` goes back to running.
	tm.waitFor("again green", false, func(s string) bool { _, row := rowOf(s, "again"); return strings.Contains(row, "✓") })
	k, _ = rowOf(s, "again")
	tm.key(k)
	tm.key("r")
	s = tm.waitFor("again running again", false, func(s string) bool {
		_, row := rowOf(s, "again")
		return strings.Contains(row, "●")
	})
	if !strings.Contains(s, "rerunning again@") {
		t.Errorf("the dashboard does not say it reruns again:\n%s", s)
	}

	// A narrow terminal stacks the layout: the matrix's header row is no
	// longer beside the log.
	tm.run("resize-window", "-t", "s", "-x", "80", "-y", "24")
	s = tm.waitFor("the stacked layout", false, func(s string) bool {
		lines := strings.Split(s, "\n")
		for i, l := range lines {
			if strings.Contains(l, "recipe") && strings.Contains(l, "x86_64-linux") {
				return !strings.Contains(l, "│") && i+1 < len(lines)
			}
		}
		return false
	})
	if !strings.Contains(s, "─ again@") {
		t.Errorf("the stacked layout lost the log pane:\n%s", s)
	}

	// q leaves, and the run goes on.
	tm.key("q")
	s = tm.waitText("odu exited 0")
	if !regexp.MustCompile(`odu: left the run [0-9a-f]{7}#\d+ going`).MatchString(s) || !strings.Contains(s, "going") {
		t.Errorf("no recap after q:\n%s", s)
	}
	select {
	case err := <-runDone:
		runDone <- err
		t.Fatalf("q in the monitor ended the run (%v):\n%s", err, d.runOutput())
	default:
	}
	st := exec.Command(filepath.Join(bin, "odu"), "status")
	st.Dir, st.Env = dir, env
	out, err := st.CombinedOutput()
	if err != nil || !regexp.MustCompile(`running\s+slow@`).Match(out) {
		t.Errorf("odu status after q: %v\n%s", err, out)
	}
}

// slicesDeleteEnv drops a variable from an environment.
func slicesDeleteEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// terminalQuery matches what a program writes to ask a terminal
// something: an OSC colour or clipboard query (10, 11, 4, 52 … ;?),
// a device status or cursor position report (DSR), device attributes
// (DA1, DA2, DA3), a mode (DECRQM), the terminal's name (XTVERSION), the
// kitty keyboard flags, a capability or setting (XTGETTCAP, DECRQSS), or
// a size report (XTWINOPS).
var terminalQuery = regexp.MustCompile(`\x1b\][0-9]+(;[0-9a-z]*)*;\?|\x1b\[\??[56]n|\x1b\[[>=]?0?c|` +
	`\x1b\[\??[0-9;]+\$p|\x1b\[>0?q|\x1b\[\?u|\x1bP[+$]q|\x1b\[(1[4689]|2[01])t`)

// dashboardQueries are the only queries the dashboard may write: Bubble
// Tea v2 asks, once, whether the terminal has synchronized output and
// Unicode core widths (DECRQM), and which kitty keyboard flags it took,
// and waits for no answer (tui/doc.go).
var dashboardQueries = strings.NewReplacer("\x1b[?2026$p", "", "\x1b[?2027$p", "", "\x1b[?u", "")

// onTerminal runs odu on a terminal (a pty of 80×24) that never answers,
// and returns everything it wrote there. ready, when not nil, is called
// as the output grows, and returns the keys to type once it has seen
// enough (the dashboard's q); without ready, odu is left to finish.
func onTerminal(t *testing.T, bin, dir string, env []string, args []string, ready func(out string) string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "odu"), args...)
	cmd.Dir, cmd.Env = dir, env
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 80, Rows: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	// Read everything it writes, answering nothing, until it exits (the
	// read fails once the terminal has no process left).
	out := &lockedBuffer{}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(out, tty); close(copied) }() // ends in an error once odu exits
	if ready != nil {
		deadline := time.Now().Add(60 * time.Second)
		for {
			if keys := ready(out.String()); keys != "" {
				if _, err := tty.Write([]byte(keys)); err != nil {
					t.Errorf("typing %q for odu %s: %v", keys, strings.Join(args, " "), err)
				}
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Errorf("odu %s never showed what the test waits for:\n%q", strings.Join(args, " "), out.String())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		err = <-werr
		t.Errorf("odu %s did not return on the terminal:\n%q", strings.Join(args, " "), out.String())
	}
	<-copied
	return out.String(), err
}

// TestDashboardNoTerminalQuery runs odu commands on a terminal that never
// answers, in a checkout where they do their work (a justfile, a live
// run with a node that failed and one that runs), and checks what they
// ask it: no command asks anything (a query there makes a program that
// waits for the answer hang: Bubble Tea v1's termenv waited 5 s for the
// background colour in every odu command), and the dashboard asks only
// the modes Bubble Tea v2 asks at its start, without waiting for the
// answer. The assertion is on the bytes the commands write, not on how
// long they take.
func TestDashboardNoTerminalQuery(t *testing.T) {
	d := newDash(t, runJustfile)
	// A terminal termenv or colorprofile would ask or inspect: an xterm,
	// not tmux or screen, not CI.
	var env []string
	for _, kv := range d.env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CI", "TERM", "TMUX", "STY", "NO_COLOR", "COLORFGBG", "TERM_PROGRAM", "SSH_TTY":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "TERM=xterm-256color")
	_, runDone := d.background()
	waitFile(t, filepath.Join(d.tmp, "pid")) // slow runs
	for _, c := range []struct {
		args []string
		want string // what it says when it did its work
	}{
		{[]string{"--help"}, "USAGE"},
		{[]string{"--version"}, "odu "},
		{[]string{"dump"}, "slow"},
		{[]string{"doctor"}, "justfile"},
		{[]string{"status"}, "running"},
		{[]string{"logs", "bad"}, "bad-output"},
		{[]string{"wait", "--fail-fast"}, "bad@"},
		{[]string{"monitor", "--help"}, "USAGE"},
		{[]string{"monitor"}, ""},
	} {
		var ready func(string) string
		dashboard := len(c.args) == 1 && c.args[0] == "monitor"
		if dashboard {
			// The dashboard is up once it shows slow running; then q.
			ready = func(out string) string {
				if strings.Contains(out, "slow") && strings.Contains(out, "●") {
					return "q"
				}
				return ""
			}
		}
		got, _ := onTerminal(t, d.bin, d.dir, env, c.args, ready)
		asked := got
		if dashboard {
			asked = dashboardQueries.Replace(got)
			if !strings.Contains(got, "odu: left the run ") {
				t.Errorf("odu monitor did not show the dashboard and leave on q:\n%q", got)
			}
		}
		if q := terminalQuery.FindString(asked); q != "" {
			t.Errorf("odu %s asked the terminal %q:\n%q", strings.Join(c.args, " "), q, got)
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("odu %s did not do its work (no %q) on the terminal:\n%q", strings.Join(c.args, " "), c.want, got)
		}
	}
	d.stopNodes()
	runDone <- <-runDone

	// A run on a terminal without the dashboard (TERM=dumb), to its end.
	got, err := onTerminal(t, d.bin, d.dir, append(slicesDeleteEnv(env, "TERM"), "TERM=dumb"), []string{"run"}, nil)
	if q := terminalQuery.FindString(got); q != "" {
		t.Errorf("odu run with TERM=dumb asked the terminal %q:\n%q", q, got)
	}
	if !strings.Contains(got, "slow@x86_64-linux success") || err == nil {
		t.Errorf("odu run with TERM=dumb did not run to its end and fail (%v):\n%q", err, got)
	}
}

// lockedBuffer is a buffer written by one goroutine and read by another.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runJustfile is a pipeline for `odu run` on a terminal: a node that
// passes, one that fails, and one that notes its PID and runs until the
// test says stop.
const runJustfile = `[metadata("ci")]
ci: ok bad slow

ok:
    @echo ok-output

bad:
    @echo bad-output; exit 3

slow:
    @echo $$ > "$DASH_PID"; while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done
`

// TestDashboardRunHoldsMessages: what `odu run` says on stderr while its
// dashboard shows (here: a client of the socket cut off for not reading)
// is not drawn over the dashboard, and is said once it is gone.
func TestDashboardRunHoldsMessages(t *testing.T) {
	d := newDash(t, `[metadata("ci")]
ci: big

big:
    @seq 1 1000000; touch "$DASH_MARK"; while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done
`)
	tm := d.terminal(120, 40, "run --client-timeout 1s")
	tm.waitFor("big running", false, func(s string) bool { _, big := rowOf(s, "big"); return strings.Contains(big, "●") })
	// The whole log is written (7 MB): far more than the socket and the
	// pipe hold. A log still being written could be read whole before
	// the reader pauses.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(d.tmp, "mark")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("big never finished writing its log")
		}
	}
	// A reader that pauses longer than the client timeout, with more of
	// the log than the socket and the pipe hold: it is cut off. The pause
	// starts at the log's first byte (under load, odu logs can take
	// longer to start than a pause from the reader's own start).
	logs := exec.Command("sh", "-c", "odu logs big | (head -c 1 > /dev/null; sleep 3; cat > /dev/null)")
	logs.Dir, logs.Env = d.dir, d.env
	if out, err := logs.CombinedOutput(); err != nil {
		t.Fatalf("odu logs big: %v\n%s", err, out)
	}
	s := tm.waitFor("the dashboard still showing", false, func(s string) bool { return strings.Contains(s, "? all keys") })
	if strings.Contains(s, "disconnected a client") {
		t.Errorf("a message is drawn over the dashboard:\n%s", s)
	}
	touch(t, d.stop)
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu: disconnected a client (odu logs) that read nothing for 1s") {
		t.Errorf("the message held while the dashboard showed was not said after it:\n%s", s)
	}
}

// TestDashboardRunQuit: q in `odu run`'s dashboard cancels the run, as
// Ctrl-C does: exit 130, and the recipe that was running is gone.
func TestDashboardRunQuit(t *testing.T) {
	d := newDash(t, runJustfile)
	tm := d.terminal(120, 40, "run")
	s := tm.waitFor("slow running", false, func(s string) bool { _, slow := rowOf(s, "slow"); return strings.Contains(slow, "●") })
	if !strings.Contains(s, "q cancel the run") {
		t.Errorf("the dashboard of odu run does not say q cancels the run:\n%s", s)
	}
	pid := d.slowPID()
	if !alive(pid) {
		t.Fatalf("the slow recipe (%d) is not running before q", pid)
	}
	tm.key("q")
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 130") {
		t.Errorf("q in odu run's dashboard did not exit 130:\n%s", s)
	}
	if !strings.Contains(s, "was cancelled") || !regexp.MustCompile(`cancelled\s+slow@`).MatchString(s) {
		t.Errorf("no summary of a cancelled run:\n%s", s)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL) // the test's own: the recipe it made
		t.Errorf("the slow recipe (%d) still runs after odu run returned", pid)
	}
}

// stopNodes writes the stop file the pipelines' slow recipes wait for.
func (d *dash) stopNodes() {
	d.t.Helper()
	if err := os.WriteFile(d.stop, nil, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// slowPID returns the PID runJustfile's slow recipe writes.
func (d *dash) slowPID() int {
	d.t.Helper()
	var pid int
	for deadline := time.Now().Add(30 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(filepath.Join(d.tmp, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		if pid == 0 && time.Now().After(deadline) {
			d.t.Fatal("the slow recipe never wrote its PID")
		}
	}
	return pid
}

// TestDashboardCancelKey: c in `odu monitor` cancels the focused node of
// a real run, through the run's controller: the node turns cancelled on
// screen and in `odu status -o json`, its recipe's process is gone, and
// the run, with nothing left to run, ends.
func TestDashboardCancelKey(t *testing.T) {
	d := newDash(t, runJustfile)
	_, runDone := d.background()
	tm := d.terminal(120, 40, "monitor")
	s := tm.waitFor("slow running", false, func(s string) bool { _, slow := rowOf(s, "slow"); return strings.Contains(slow, "●") })
	pid := d.slowPID()
	k, _ := rowOf(s, "slow")
	tm.key(k)
	tm.waitText("─ slow@x86_64-linux · running")
	tm.key("c")
	// The node turns cancelled on screen, and the dashboard says what c
	// did once the run has answered (it says "cancel slow…" while it
	// waits, which may be drawn with the node already cancelled).
	tm.waitFor("slow cancelled, and the dashboard saying so", false, func(s string) bool {
		_, slow := rowOf(s, "slow")
		return strings.Contains(slow, "⊘") && strings.Contains(s, "cancelled slow@x86_64-linux")
	})
	select {
	case err := <-runDone:
		runDone <- err
		if err == nil {
			t.Errorf("the run with a failed and a cancelled node exited 0:\n%s", d.runOutput())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the run did not end once its last node was cancelled:\n%s", d.runOutput())
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL) // the test's own: the recipe it made
		t.Errorf("the slow recipe (%d) still runs after c cancelled it", pid)
	}
	st := exec.Command(filepath.Join(d.bin, "odu"), "status", "-o", "json")
	st.Dir, st.Env = d.dir, d.env
	out, err := st.Output()
	var state surface.State
	if err := json.Unmarshal(out, &state); err != nil {
		t.Fatalf("odu status -o json: %v\n%s", err, out)
	}
	got := map[string]surface.Status{}
	for _, n := range state.Nodes {
		got[n.Recipe] = n.Status
	}
	if want := map[string]surface.Status{"ok": surface.Success, "bad": surface.Failure, "slow": surface.Cancelled}; !maps.Equal(got, want) {
		t.Errorf("odu status -o json (%v) after c on slow: %v, want %v\n%s", err, got, want, out)
	}
	if !regexp.MustCompile(`slow@\S+ cancelled`).MatchString(d.runOutput()) {
		t.Errorf("the run's own progress does not say slow was cancelled:\n%s", d.runOutput())
	}
}

// TestDashboardNoColour: with NO_COLOR the dashboard is all there, on the
// alternate screen, without a colour: not the statuses', not the log's;
// the focus is still reverse video.
func TestDashboardNoColour(t *testing.T) {
	d := newDash(t, dashJustfile)
	d.env = append(d.env, "NO_COLOR=1")
	_, _ = d.background()
	tm := d.terminal(120, 40, "monitor")
	s := tm.waitFor("ok and bad done", false, func(s string) bool {
		_, okRow := rowOf(s, "ok")
		_, badRow := rowOf(s, "bad")
		return strings.Contains(okRow, "✓") && strings.Contains(badRow, "✗")
	})
	k, _ := rowOf(s, "progress")
	tm.key(k)
	tm.waitText("─ progress@", "green-done")
	if alt := strings.TrimSpace(tm.run("display-message", "-p", "-t", "s", "#{alternate_on}")); alt != "1" {
		t.Errorf("the dashboard with NO_COLOR is not on the alternate screen (alternate_on %s)", alt)
	}
	screen := tm.screen(true)
	if c := regexp.MustCompile(`\x1b\[[0-9;]*\b(3[0-7]|4[0-7]|9[0-7]|10[0-7]|[34]8;[0-9;]+)m`).FindString(screen); c != "" {
		t.Errorf("the dashboard with NO_COLOR writes the colour %q:\n%q", c, screen)
	}
	if !regexp.MustCompile(`\x1b\[7m[✓✗●]`).MatchString(screen) {
		t.Errorf("the focus is not reverse video with NO_COLOR:\n%q", screen)
	}
	tm.key("q")
	tm.waitText("odu exited 0")
}

// TestDashboardDumbTerminal: with TERM=dumb there is no dashboard: `odu
// monitor` and `odu run` print a line per transition and their summary,
// with no escape sequence at all, on the main screen.
func TestDashboardDumbTerminal(t *testing.T) {
	d := newDash(t, runJustfile)
	d.env = append(d.env, "TERM=dumb")
	_, runDone := d.background()
	mon := d.terminal(120, 40, "monitor")
	s := mon.waitText("slow@x86_64-linux running", "bad@x86_64-linux failure")
	if strings.Contains(s, "? all keys") || strings.Contains(s, "│") {
		t.Errorf("odu monitor with TERM=dumb shows the dashboard:\n%s", s)
	}
	d.stopNodes()
	runDone <- <-runDone
	s = mon.waitText("odu exited")
	if !strings.Contains(s, "slow@x86_64-linux success") {
		t.Errorf("odu monitor with TERM=dumb did not print slow's end:\n%s", s)
	}
	run := d.terminal(100, 30, "run")
	s = run.waitText("odu exited")
	if !strings.Contains(s, "odu exited 1") || !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d bad@x86_64-linux failure \(exit 3`).MatchString(s) ||
		!regexp.MustCompile(`failure\s+bad@\S+\s+exit 3`).MatchString(s) {
		t.Errorf("odu run with TERM=dumb did not print its lines, its summary, and exit 1:\n%s", s)
	}
	for _, tm := range []*tmuxTerm{mon, run} {
		if esc := regexp.MustCompile(`\x1b\[[0-9;]*m`).FindString(tm.screen(true)); esc != "" {
			t.Errorf("with TERM=dumb the terminal got the escape %q:\n%q", esc, tm.screen(true))
		}
		if alt := strings.TrimSpace(tm.run("display-message", "-p", "-t", "s", "#{alternate_on}")); alt != "0" {
			t.Errorf("with TERM=dumb odu left the terminal on the alternate screen")
		}
	}
}

// TestDashboardReconnectingLane: an SSH lane whose link is cut, and that
// cannot dial its host again for a while, shows as reconnecting in the
// dashboard's header while its node still shows running; once the host
// answers again, the lane runs again and the header says nothing of it.
func TestDashboardReconnectingLane(t *testing.T) {
	d := newDash(t, `[metadata("ci")]
ci: slow

slow:
    @echo slow-started; while :; do sleep 0.2; done
`)
	host := d.sshHosts(func(addrs ...string) string { return `"` + addrs[0] + `"` }, "127.0.0.2")[0]
	tm := d.terminal(120, 40, "run")
	s := tm.waitFor("slow running on the SSH lane", false, func(s string) bool {
		_, slow := rowOf(s, "slow")
		return strings.Contains(slow, "●") && strings.Contains(s, "slow-started")
	})
	if strings.Contains(s, "reconnecting") {
		t.Fatalf("the lane is reconnecting before its link was cut:\n%s", s)
	}

	host.Refuse(true)
	if n := host.KillConnections(); n == 0 {
		t.Fatal("no connection to the host to cut")
	}
	s = tm.waitText("x86_64-linux: reconnecting")
	if _, slow := rowOf(s, "slow"); !strings.Contains(slow, "●") {
		t.Errorf("slow does not show running while its lane reconnects:\n%s", s)
	}
	if !regexp.MustCompile(`\x1b\[33mx86_64-linux: reconnecting`).MatchString(tm.screen(true)) {
		t.Errorf("the reconnecting lane is not in the running colour (yellow):\n%q", tm.screen(true))
	}

	host.Refuse(false)
	tm.waitFor("the lane running again", false, func(s string) bool {
		_, slow := rowOf(s, "slow")
		return !strings.Contains(s, "reconnecting") && strings.Contains(slow, "●")
	})
	tm.key("q")
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 130") {
		t.Errorf("q in odu run's dashboard did not cancel the run (exit 130):\n%s", s)
	}
}

// alive reports whether a process exists and is not a zombie waiting
// for its parent.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i < 0 || i+2 >= len(data) || data[i+2] != 'Z'
}

// TestDashboardMonitorExitOnSettle: `odu monitor --exit-on-settle` shows
// the run and returns with its recap as soon as the run is over.
func TestDashboardMonitorExitOnSettle(t *testing.T) {
	d := newDash(t, runJustfile)
	_, runDone := d.background()
	tm := d.terminal(120, 40, "monitor --exit-on-settle")
	tm.waitFor("slow running", false, func(s string) bool { _, slow := rowOf(s, "slow"); return strings.Contains(slow, "●") })
	touch(t, d.stop)
	s := tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 0") || !regexp.MustCompile(`odu: run [0-9a-f]{7}#\d+ failed in \S+: `).MatchString(s) {
		t.Errorf("odu monitor --exit-on-settle did not return with the recap of a failed run:\n%s", s)
	}
	if err := <-runDone; err == nil {
		t.Errorf("odu run with a failed node exited 0:\n%s", d.runOutput())
	} else {
		runDone <- err
	}
}

// TestDashboardConnectionLost: when the run is killed, the monitor says
// on screen that the connection is lost, instead of freezing, and q
// leaves with a recap that says so.
func TestDashboardConnectionLost(t *testing.T) {
	d := newDash(t, runJustfile)
	run, runDone := d.background()
	tm := d.terminal(120, 40, "monitor")
	tm.waitFor("slow running", false, func(s string) bool { _, slow := rowOf(s, "slow"); return strings.Contains(slow, "●") })
	// What the run started, to end what the kill leaves behind.
	procs := descendants(run.Process.Pid)
	t.Cleanup(func() {
		for _, p := range procs {
			if alive(p) {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
	if err := run.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	runDone <- <-runDone
	tm.waitText("connection to the run lost")
	tm.key("q")
	s := tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 0") || !regexp.MustCompile(`odu: lost the run [0-9a-f]{7}#\d+ `).MatchString(s) {
		t.Errorf("no recap of a lost run after q:\n%s", s)
	}
}

// descendants returns the PIDs of a process's children, theirs, and so
// on.
func descendants(pid int) []int {
	parent := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(data, ')')
		f := strings.Fields(string(data[i+1:]))
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[pp] = append(parent[pp], p)
		}
	}
	var out []int
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[0]
		todo = todo[1:]
		out = append(out, parent[p]...)
		todo = append(todo, parent[p]...)
	}
	return out
}

// TestDashboardMonitorRecordedRun: `odu monitor --run REF` of a run that
// is over shows it from its record, read-only: its ref in the header, its
// nodes as they ended, the focused node's log from its own run (not the
// newest); r reruns nothing; q leaves with the run's recap.
func TestDashboardMonitorRecordedRun(t *testing.T) {
	d := newDash(t, "[metadata(\"ci\")]\nci: ok bad\n\nok:\n    #!/bin/sh\n    echo \"fine-$(date +%s%N)\"\n\nbad:\n    @echo broken; exit 2\n")
	for range 2 {
		run := exec.Command(filepath.Join(d.bin, "odu"), "run", "--progress", "plain")
		run.Dir, run.Env = d.dir, d.env
		if out, err := run.CombinedOutput(); err == nil || !strings.Contains(string(out), " failed in ") {
			t.Fatalf("odu run of a red pipeline: %v\n%s", err, out)
		}
	}
	head := exec.Command("git", "rev-parse", "--short=7", "HEAD")
	head.Dir, head.Env = d.dir, d.env
	out, err := head.Output()
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimSpace(string(out)) + "#1"
	first, err := os.ReadFile(filepath.Join(d.dir, ".ci", recordedSHA(t, d), "runs", "1", "x86_64-linux", "ok.log"))
	if err != nil {
		t.Fatal(err)
	}
	tm := d.terminal(120, 40, "monitor --run "+ref)
	s := tm.waitFor("the recorded run", false, func(s string) bool {
		_, ok := rowOf(s, "ok")
		_, bad := rowOf(s, "bad")
		return strings.Contains(s, ref) && strings.Contains(ok, "✓") && strings.Contains(bad, "✗")
	})
	k, _ := rowOf(s, "ok")
	tm.key(k)
	tm.waitText(strings.TrimSpace(string(first))) // run 1's log, not run 2's
	// r on a run that is over starts a run after it (odu rerun with no
	// run live), carrying over what it does not rerun from this run, not
	// from the newest one.
	tm.key("r")
	s = tm.waitFor("the run after run "+ref, false, func(s string) bool {
		return strings.Contains(s, "odu exited") || strings.Contains(s, "rerun of "+ref) && strings.Contains(s, "the run is over")
	})
	if !strings.Contains(s, "rerun of "+ref) {
		t.Errorf("r on ok of run %s did not start a run after it:\n%s", ref, s)
	}
	if _, row := rowOf(s, "bad"); !strings.Contains(row, "✗") || !strings.Contains(row, "↺") {
		t.Errorf("bad is not carried over, red, from run %s: %q", ref, row)
	}
	if !strings.Contains(s, "odu exited") {
		tm.key("q") // the run's failure, held on its dashboard
	}
	s = tm.waitText("odu exited")
	if !strings.Contains(s, "odu exited 1") {
		t.Errorf("the run after the run, of a node that fails again, did not exit 1:\n%s", s)
	}
	runs := exec.Command(filepath.Join(d.bin, "odu"), "runs", "-o", "json")
	runs.Dir, runs.Env = d.dir, d.env
	if out, err := runs.Output(); err != nil || strings.Count(string(out), `"ref":`) != 3 {
		t.Errorf("after r on run %s, odu runs (%v) lists\n%s\nwant three runs: r started one", ref, err, out)
	}
}

// recordedSHA returns the commit the dashboard's checkout is at.
func recordedSHA(t *testing.T, d *dash) string {
	t.Helper()
	head := exec.Command("git", "rev-parse", "HEAD")
	head.Dir, head.Env = d.dir, d.env
	out, err := head.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
