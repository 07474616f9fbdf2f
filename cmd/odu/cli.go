package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/odu-ci/odu/internal/hint"
)

// CLI is odu's command line. A command is listed here only once it works.
type CLI struct {
	Chdir       string           `short:"C" placeholder:"DIR" help:"Run as if odu was started in DIR."`
	ShowVersion kong.VersionFlag `name:"version" help:"Show odu's version."`

	Run     RunCmd     `cmd:"" help:"Run the pipeline on every configured platform."`
	Status  StatusCmd  `cmd:"" help:"Show the nodes of the live run, or of the last one."`
	Logs    LogsCmd    `cmd:"" help:"Print a node's log; follow it with -f."`
	Monitor MonitorCmd `cmd:"" help:"Follow the live run from another terminal."`
	Web     WebCmd     `cmd:"" help:"Show the runs in a browser: the board, a run's nodes, their logs."`
	Wait    WaitCmd    `cmd:"" help:"Wait for the live run to be over; exit 1 unless all is green."`
	Runs    RunsCmd    `cmd:"" help:"List the recorded runs, newest first; prune old ones."`
	Rerun   RerunCmd   `cmd:"" help:"Run a node, and what depends on it, again."`
	Cancel  CancelCmd  `cmd:"" help:"Stop a node, or the whole run."`
	Dump    DumpCmd    `cmd:"" help:"Print the resolved pipeline as JSON."`
	Graph   GraphCmd   `cmd:"" help:"Print the pipeline as a Mermaid flowchart."`
	Doctor  DoctorCmd  `cmd:"" help:"Check that odu has what it needs, and say how to fix what is missing."`
	Hosts   HostsCmd   `cmd:"" help:"Show the pools of build hosts: their slots and who holds them."`
	Protect ProtectCmd `cmd:"" help:"Make a branch's protection on GitHub require exactly the nodes."`
	Mcp     McpCmd     `cmd:"" help:"Serve the runs to coding agents over the Model Context Protocol (stdio)."`
	Version VersionCmd `cmd:"" help:"Show odu's version."`

	Completion CompletionCmd `cmd:"" help:"Print the code that turns on tab completion in bash, zsh or fish."`

	Runner RunnerCmd `cmd:"" hidden:"" help:"Run a lane's nodes for a coordinator (started by odu run)."`
}

// Env is what every command works with: its streams and directory. It is
// bound into kong, so commands receive it as a parameter of Run.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Dir    string // the directory odu works in (-C applied), absolute
	Getenv func(string) string
}

const description = `odu runs a repository's CI from its justfile: the recipe marked [metadata("ci")] and everything it depends on, one node per recipe per platform.`

// ExitError ends odu with Code; it prints Err if there is one. A red
// pipeline, a failed doctor check and an interrupted run end this way.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// exitRequest is what kong's exit hook panics with, so that Main (not
// kong) decides how odu ends, and tests can drive Main in-process.
type exitRequest struct{ code int }

// Main runs odu with args and returns its exit code: 0 for success, 1 for
// a red pipeline or a failed check, 2 for a usage or configuration error,
// 130 for an interrupted run.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	last := &lastWords{}
	ctx, stop := withSignals(context.Background(), stderr, last)
	defer stop()

	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	var cli CLI
	parser, err := kong.New(&cli, append(parseOptions(),
		kong.Name("odu"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Help(printHelp),
		kong.Vars{"version": versionInfo().String(), "run_help": runHelp},
		kong.Exit(func(code int) { panic(exitRequest{code}) }),
		kong.Bind(env, last),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)...)
	if err != nil {
		panic(err) // the CLI struct itself is wrong: a bug, caught by any test
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = req.code
		}
	}()
	completeRequest(parser, args) // exits when the shell asked for words
	args = helpArgs(args)
	kctx, err := parser.Parse(args)
	if err != nil {
		var perr *kong.ParseError
		if errors.As(err, &perr) {
			kctx = perr.Context
		}
		msg, hint := explainParse(parser.Model, kctx, args)
		if msg == "" {
			msg, hint = explainMissing(kctx, err)
		}
		if msg == "" {
			msg, hint = err.Error(), fmt.Sprintf("Run `odu%s --help` for usage.", commandOf(kctx))
		}
		fmt.Fprintf(stderr, "odu: %s\nhint: %s\n", msg, hint)
		return 2
	}
	if env.Dir, err = workDir(cli.Chdir); err != nil {
		return report(stderr, err)
	}
	return report(stderr, kctx.Run())
}

// commandOf names the command a parse error happened in, for the hint:
// as the user typed it, without a hidden default subcommand (`odu runs`
// is `odu runs list`, which no help lists).
func commandOf(kctx *kong.Context) string {
	if kctx == nil {
		return ""
	}
	var path string
	for n := kctx.Selected(); n != nil && n.Type == kong.CommandNode; n = n.Parent {
		if !n.Hidden {
			path = " " + n.Name + path
		}
	}
	return path
}

func workDir(chdir string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the current directory: %w", err)
	}
	if chdir == "" {
		return wd, nil
	}
	if !filepath.IsAbs(chdir) {
		chdir = filepath.Join(wd, chdir)
	}
	if fi, err := os.Stat(chdir); err != nil || !fi.IsDir() {
		return "", &usageError{msg: "-C " + chdir + ": no such directory", hint: "Give a directory inside the repository to run in."}
	}
	return chdir, nil
}

// usageError is a bad flag value caught by the command line itself.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Hint() string  { return e.hint }

// report is the one place an error becomes a message and an exit code.
// Every error a command returns is the user's to fix (a justfile, a
// flag, a missing tool) and exits 2, unless it is an *ExitError, which
// carries its own code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	code := 2
	var exit *ExitError
	if errors.As(err, &exit) {
		code = exit.Code
		if exit.Err == nil {
			return code
		}
	}
	fmt.Fprintf(stderr, "odu: %s\n", err)
	if h := hint.Of(err); h != "" {
		fmt.Fprintf(stderr, "hint: %s\n", h)
	}
	return code
}

// withSignals returns a context that the first SIGINT, SIGTERM or SIGHUP
// (the terminal closed) cancels, so that commands stop gracefully; a
// second one exits at once, after last's words.
func withSignals(parent context.Context, stderr io.Writer, last *lastWords) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "odu: interrupted again, exiting now")
			last.say()
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
