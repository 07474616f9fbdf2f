package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/odu-ci/odu/mcp"
)

// McpCmd serves MCP on stdio, for coding agents.
type McpCmd struct {
	Repo string `placeholder:"DIR" help:"Serve the checkout in DIR instead of the one odu is started in."`
}

// Help is the long description of `odu mcp`.
func (*McpCmd) Help() string {
	return `Serve this checkout's runs to a coding agent over the Model Context Protocol, on stdin
and stdout: configure it in the agent as the command odu with the argument mcp (README:
Agents (MCP)). Its tools: pipeline, run, status, wait, logs, runs, rerun, cancel.

Nothing runs until the agent asks. A run it starts is an odu run of its own, which goes
on when the agent disconnects; a terminal attaches to it as to any run.`
}

// Examples are shown by `odu mcp --help`.
func (*McpCmd) Examples() []string {
	return []string{"odu mcp", "odu mcp --repo ~/src/project"}
}

// Run serves until the client goes away.
func (c *McpCmd) Run(ctx context.Context, env *Env) error {
	dir := env.Dir
	if c.Repo != "" {
		dir = c.Repo
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(env.Dir, dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return &usageError{msg: "--repo " + c.Repo + ": no such directory", hint: "Give the directory of a checkout."}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find odu's own binary: %w", err)
	}
	opts := mcp.Options{Dir: dir, Exe: exe, Version: version(),
		Pipeline: func(ctx context.Context, req mcp.PipelineRequest, w io.Writer) error {
			f := PipelineFlags{JustfileFlags: JustfileFlags{Root: req.Root}, Platform: req.Platforms, NoDeps: req.NoDeps, Selectors: req.Selectors}
			in := *env
			in.Dir = dir
			_, pl, err := f.pipeline(ctx, &in)
			if err != nil {
				return err
			}
			return pl.WriteJSON(w)
		}}
	return mcp.Serve(ctx, opts, env.Stdin, env.Stdout)
}
