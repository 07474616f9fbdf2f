package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	kongcompletion "github.com/jotaen/kong-completion"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/repo"
)

// Tab completion. The shell runs odu with COMP_LINE (and COMP_POINT)
// set, as `odu completion` tells it to (github.com/jotaen/kong-completion
// prints the code for bash, zsh and fish); odu prints the words that fit
// and exits (github.com/willabides/kongplete, from the kong model:
// commands, flags, enum values). What only the project knows comes from
// the predictors below, which read files and nothing else:
//
//   - node ids (logs, rerun, cancel): the checkout's last record, which
//     the live run writes when it starts, so it is the live run's;
//   - recipes and RECIPE@PLATFORM (run, dump, graph, --root): the last
//     record's recipes, or, when the checkout has none, just's dump of the
//     justfile (just parses it and runs nothing), bounded by
//     [justDumpBudget];
//   - platforms (--platform): the hosts file, as odu run reads it.
//
// Completion never runs a recipe, never dials a host or the live run's
// socket, and never writes.

// CompletionCmd prints the code that turns completion on in a shell
// (kong-completion's command, with odu's help).
type CompletionCmd struct {
	kongcompletion.Completion
}

// Help is the long description of `odu completion`.
func (*CompletionCmd) Help() string {
	return `Say how to turn on tab completion in bash, zsh or fish (without a shell, the login
shell's); with -c, print the code to put in the shell's startup file. Tab then
completes commands and flags, recipes and RECIPE@PLATFORM (odu run, dump, graph), the
node ids of the live or last run (odu logs, rerun, cancel) and the hosts file's
platforms (--platform). Completion reads files only: it runs no recipe and dials no
host.`
}

// Examples are shown by `odu completion --help`.
func (*CompletionCmd) Examples() []string {
	return []string{
		"source <(odu completion -c bash)    # in ~/.bashrc",
		"source <(odu completion -c zsh)     # in ~/.zshrc, after compinit",
		"odu completion -c fish | source     # in ~/.config/fish/config.fish",
	}
}

// justDumpBudget bounds the one slow source of words, `just --dump` (the
// fast just answers in ~10 ms; npm's node wrapper in ~0.5 s): past it,
// `odu run <TAB>` offers no recipes rather than keep the shell waiting.
const justDumpBudget = 200 * time.Millisecond

// completeRequest answers a completion request, if odu was started for
// one: it prints the words and exits through parser.Exit. args are odu's
// arguments: bash's `complete -C` passes the command's name, the word it
// will replace and the word before it.
func completeRequest(parser *kong.Kong, args []string) {
	line, ok := os.LookupEnv("COMP_LINE")
	if !ok {
		return
	}
	if p, err := strconv.Atoi(os.Getenv("COMP_POINT")); err == nil && p >= 0 && p < len(line) {
		line = line[:p]
	}
	if len(args) >= 2 {
		// bash splits words at COMP_WORDBREAKS too, "@" and ":" among
		// them: it replaces only what follows the last one ("x" of
		// "lint@x"), so the words must not repeat what precedes it.
		last := line[strings.LastIndexByte(line, ' ')+1:]
		if cut := len(last) - len(args[1]); cut > 0 && strings.HasSuffix(last, args[1]) {
			stdout := parser.Stdout
			parser.Stdout = &trimLines{w: stdout, prefix: last[:cut]}
			defer func() { parser.Stdout = stdout }()
		}
	}
	kongplete.Complete(parser,
		kongplete.WithPredictor("node", predictor(nodeWords)),
		kongplete.WithPredictor("selector", predictor(selectorWords)),
		kongplete.WithPredictor("recipe", predictor(recipeWords)),
		kongplete.WithPredictor("platform", predictor(platformWords)),
	)
}

// predictor turns a function of the checkout's directory into a
// [complete.Predictor].
func predictor(words func(ctx context.Context, dir string) []string) complete.Predictor {
	return complete.PredictFunc(func(complete.Args) []string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return words(ctx, completionDir(os.Getenv("COMP_LINE")))
	})
}

// completionDir is the directory odu would work in: -C's, when the
// line has one, else the current one. It reads the whole line: the
// arguments a predictor gets start after the command's name.
func completionDir(line string) string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	words := strings.Fields(line)
	dir := ""
	for i, w := range words {
		switch {
		case (w == "-C" || w == "--chdir") && i+1 < len(words):
			dir = words[i+1]
		case strings.HasPrefix(w, "--chdir="):
			dir = strings.TrimPrefix(w, "--chdir=")
		}
	}
	if dir == "" {
		return wd
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(wd, dir)
	}
	return dir
}

// lastRun reads the checkout's last record: the live run's, or the last
// one's.
func lastRun(ctx context.Context, dir string) (runstate.Last, bool) {
	root, err := repo.Root(ctx, dir)
	if err != nil {
		return runstate.Last{}, false
	}
	last, err := runstate.ReadLast(root)
	return last, err == nil
}

// nodeWords are the ids of the last run's nodes, and the names of those
// on one platform only (a bare name selects them unambiguously).
func nodeWords(ctx context.Context, dir string) []string {
	last, ok := lastRun(ctx, dir)
	if !ok {
		return nil
	}
	var ids []string
	count := map[string]int{}
	for _, n := range last.State.Nodes {
		ids = append(ids, n.ID)
		count[n.Name]++
	}
	for _, n := range last.State.Nodes {
		if count[n.Name] == 1 {
			ids = append(ids, n.Name)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// recipeWords are the recipes a selector may name: the last run's, else
// the justfile's.
func recipeWords(ctx context.Context, dir string) []string {
	if last, ok := lastRun(ctx, dir); ok {
		var out []string
		for _, n := range last.State.Nodes {
			out = append(out, n.Recipe)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	ctx, cancel := context.WithTimeout(ctx, justDumpBudget)
	defer cancel()
	root, err := repo.Root(ctx, dir)
	if err != nil {
		return nil
	}
	just, err := dag.FindJust(ctx)
	if err != nil {
		return nil
	}
	jf, err := just.Load(ctx, root, "")
	if err != nil {
		return nil
	}
	var out []string
	for name, r := range jf.Recipes {
		if !r.Private {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// selectorWords are the recipes, and each on every platform odu knows
// of: the hosts file's and the last run's.
func selectorWords(ctx context.Context, dir string) []string {
	recipes := recipeWords(ctx, dir)
	plats := platformWords(ctx, dir)
	if last, ok := lastRun(ctx, dir); ok {
		plats = append(plats, last.State.Run.Platforms...)
		slices.Sort(plats)
		plats = slices.Compact(plats)
	}
	out := slices.Clone(recipes)
	for _, r := range recipes {
		for _, p := range plats {
			out = append(out, r+"@"+p)
		}
	}
	return out
}

// platformWords are the hosts file's platforms (this machine's when
// there is none).
func platformWords(context.Context, string) []string {
	h, _ := os.UserHomeDir()
	if e := os.Getenv("HOME"); e != "" {
		h = e
	}
	cfg, err := hosts.LoadHosts(nil, os.Getenv, h)
	if err != nil {
		return []string{string(platform.Local())}
	}
	var out []string
	for p := range cfg.Pools {
		out = append(out, string(p))
	}
	slices.Sort(out)
	return out
}

// trimLines writes lines without prefix: the words for bash, which
// replaces only what follows its last word break.
type trimLines struct {
	w      io.Writer
	prefix string
}

func (t *trimLines) Write(p []byte) (int, error) {
	var out []byte
	for line := range bytes.Lines(p) {
		out = append(out, bytes.TrimPrefix(line, []byte(t.prefix))...)
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
