package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// completeJustfile: a CI root over a node that passes and one that runs
// until the test says stop (the live run), and a recipe outside the CI
// root, which only the justfile knows of.
const completeJustfile = `[metadata("ci")]
ci: build lint

build:
    @echo built

lint:
    @while [ ! -e "$DASH_STOP" ]; do sleep 0.1; done

deploy:
    @echo deployed
`

// shell starts an interactive shell (bash, zsh) in a tmux terminal in
// the checkout, with odu's completion turned on as the README says
// (`source <(odu completion -c SHELL)`), and extra environment. It
// returns once the shell has read that line.
func (d *dash) shell(name string, extra ...string) *tmuxTerm {
	d.t.Helper()
	script := filepath.Join(d.tmp, name+"-"+strconv.Itoa(len(extra))+".sh")
	var sh strings.Builder
	for _, kv := range append(d.env, extra...) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" || strings.ContainsAny(k, "();%") || strings.HasPrefix(k, "TMUX") {
			continue
		}
		sh.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	sh.WriteString("cd '" + d.dir + "'\n")
	switch name {
	case "bash":
		sh.WriteString("PS1='$ ' exec bash --norc --noprofile -i\n")
	case "zsh":
		// A user's .zshrc turns completion on (compinit); -f reads none.
		sh.WriteString("exec zsh -f -i\n")
	}
	if err := os.WriteFile(script, []byte(sh.String()), 0o755); err != nil {
		d.t.Fatal(err)
	}
	if _, err := exec.LookPath(name); err != nil {
		d.t.Fatalf("%s is missing: run `bash .ci/setup`", name)
	}
	tm := newTmux(d.t, 150, 30, script)
	tm.shell = name
	if name == "zsh" {
		tm.typed("PS1='$ '; autoload -U compinit && compinit -u\n")
	}
	tm.typed("source <(odu completion -c " + name + ") && echo completion-on\n")
	tm.waitText("\ncompletion-on")
	tm.key("C-l")
	return tm
}

// typed types text as it is.
func (tm *tmuxTerm) typed(text string) {
	tm.t.Helper()
	for line := range strings.Lines(text) {
		body, enter := strings.CutSuffix(line, "\n")
		if body != "" {
			tm.run("send-keys", "-t", "s", "-l", body)
		}
		if enter {
			tm.key("Enter")
		}
	}
}

// tab types line, presses Tab as the shell needs to complete it or list
// what fits, then a marker, and returns the screen once the marker shows:
// the shell handles keys in order, so by then it has completed. It
// clears the line and the screen for the next one.
func (tm *tmuxTerm) tab(line string) string {
	tm.t.Helper()
	tm.typed(line)
	tm.key("Tab")
	if tm.shell == "bash" {
		tm.key("Tab") // bash lists on the second Tab; zsh on the first, and completes the next word on the second
	}
	tm.typed("#END")
	s := tm.waitText("#END")
	tm.key("C-u")
	tm.key("C-l")
	tm.waitFor("a clear screen", false, func(s string) bool { return !strings.Contains(s, "#END") })
	return s
}

// promptLine is the screen's line with the prompt: what the user typed,
// completed.
func promptLine(screen string) string {
	for l := range strings.Lines(screen) {
		if strings.Contains(l, "#END") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestCompletionBash drives odu's completion in a real interactive bash
// (tmux), in a checkout with no run and then with a live one.
func TestCompletionBash(t *testing.T) {
	testCompletion(t, "bash")
}

// TestCompletionZsh does the same in zsh, whose completion odu's code
// turns on through zsh's bashcompinit.
func TestCompletionZsh(t *testing.T) {
	testCompletion(t, "zsh")
}

func testCompletion(t *testing.T, shell string) {
	d := newDash(t, completeJustfile)
	hostsFile := filepath.Join(d.tmp, "hosts.json")
	if err := os.WriteFile(hostsFile, []byte(`{"x86_64-linux": "localhost", "aarch64-darwin": "mac.example"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := d.shell(shell)

	// No run yet: commands, flags and their values from odu's command
	// line; recipes from the justfile; no node to offer.
	if got, want := promptLine(tm.tab("odu reru")), "$ odu rerun #END"; got != want {
		t.Errorf("odu reru<Tab>: the line is %q, want %q", got, want)
	}
	if got, want := promptLine(tm.tab("odu run --progr")), "$ odu run --progress #END"; got != want {
		t.Errorf("odu run --progr<Tab>: the line is %q, want %q", got, want)
	}
	if got, want := promptLine(tm.tab("odu run depl")), "$ odu run deploy"; !strings.HasPrefix(got, want) {
		t.Errorf("odu run depl<Tab> with no run: the line is %q, want it to start with %q (the justfile's recipe)", got, want)
	}
	if got, want := promptLine(tm.tab("odu logs b")), "$ odu logs b#END"; got != want {
		t.Errorf("odu logs b<Tab> with no run: the line is %q, want %q (no node to offer)", got, want)
	}

	// A live run: its nodes, from the record it keeps.
	_, runDone := d.background()
	waitFile(t, filepath.Join(d.dir, ".ci", "odu.last"))
	s := tm.tab("odu logs ")
	for _, id := range []string{"build@x86_64-linux", "lint@x86_64-linux"} {
		if !strings.Contains(s, id) {
			t.Errorf("odu logs <Tab><Tab> during a run does not list %s; the screen:\n%s", id, s)
		}
	}
	if got, want := promptLine(tm.tab("odu cancel lint@")), "$ odu cancel lint@x86_64-linux #END"; got != want {
		t.Errorf("odu cancel lint@<Tab>: the line is %q, want %q", got, want)
	}
	if got, want := promptLine(tm.tab("odu rerun bu")), "$ odu rerun build"; !strings.HasPrefix(got, want) {
		t.Errorf("odu rerun bu<Tab>: the line is %q, want it to start with %q", got, want)
	}
	// A selector: a recipe of the run, on a platform of the run.
	if got, want := promptLine(tm.tab("odu run lint@x")), "$ odu run lint@x86_64-linux #END"; got != want {
		t.Errorf("odu run lint@x<Tab>: the line is %q, want %q", got, want)
	}
	touch(t, d.stop)
	err := <-runDone
	runDone <- err // for background's cleanup
	if err != nil {
		t.Fatalf("odu run: %v\n%s", err, d.runOutput())
	}

	// Platforms from the hosts file.
	tm = d.shell(shell, "ODU_HOSTS="+hostsFile)
	s = tm.tab("odu dump --platform ")
	for _, p := range []string{"x86_64-linux", "aarch64-darwin"} {
		if !strings.Contains(s, p) {
			t.Errorf("odu dump --platform <Tab><Tab> with hosts file %s does not list %s; the screen:\n%s", hostsFile, p, s)
		}
	}
	if got, want := promptLine(tm.tab("odu run build@aa")), "$ odu run build@aarch64-darwin #END"; got != want {
		t.Errorf("odu run build@aa<Tab>: the line is %q, want %q", got, want)
	}
}

// TestCompletionFish asks fish's own completion (`complete -C LINE`, what
// Tab shows) with odu's completion turned on as the README says (`odu
// completion -c fish | source`), in a checkout with no run, then after
// one.
func TestCompletionFish(t *testing.T) {
	d := newDash(t, completeJustfile)
	if _, err := exec.LookPath("fish"); err != nil {
		t.Fatal("fish is missing: run `bash .ci/setup`")
	}
	fishIn := func(dir, line string) []string {
		t.Helper()
		cmd := exec.Command("fish", "--no-config", "-c", "odu completion -c fish | source; complete -C '"+line+"'")
		cmd.Dir, cmd.Env = dir, d.env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: complete -C %q: %v\n%s", line, err, out)
		}
		var words []string
		for l := range strings.Lines(string(out)) {
			w, _, _ := strings.Cut(strings.TrimSpace(l), "\t") // a word, then its description
			words = append(words, w)
		}
		return words
	}
	fish := func(line string) []string { return fishIn(d.dir, line) }
	if got := fish("odu reru"); !slices.Equal(got, []string{"rerun"}) {
		t.Errorf("fish: odu reru<Tab> offers %q, want [rerun]", got)
	}
	if got := fish("odu logs "); len(got) != 0 {
		t.Errorf("fish: odu logs <Tab> with no run offers %q, want nothing", got)
	}
	if got := fish("odu run dep"); !slices.Equal(got, []string{"deploy", "deploy@x86_64-linux"}) {
		t.Errorf("fish: odu run dep<Tab> with no run offers %q, want the justfile's recipe", got)
	}

	touch(t, d.stop)
	run := exec.Command(filepath.Join(d.bin, "odu"), "run", "--progress", "plain")
	run.Dir, run.Env = d.dir, d.env
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("odu run: %v\n%s", err, out)
	}
	if got, want := fish("odu logs "), []string{"build", "build@x86_64-linux", "lint", "lint@x86_64-linux"}; !slices.Equal(got, want) {
		t.Errorf("fish: odu logs <Tab> after a run offers %q, want %q", got, want)
	}
	if got, want := fish("odu rerun lint@"), []string{"lint@x86_64-linux"}; !slices.Equal(got, want) {
		t.Errorf("fish: odu rerun lint@<Tab> offers %q, want %q", got, want)
	}
	// From outside the checkout, -C names it.
	if got, want := fishIn(d.tmp, "odu -C repo logs l"), []string{"lint", "lint@x86_64-linux"}; !slices.Equal(got, want) {
		t.Errorf("fish: odu -C repo logs l<Tab> outside the checkout offers %q, want %q", got, want)
	}
}
