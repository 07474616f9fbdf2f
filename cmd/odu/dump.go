package main

import (
	"context"
	"runtime/debug"
)

// DumpCmd prints the resolved pipeline as JSON.
type DumpCmd struct {
	PipelineFlags
}

// Help is the long description of `odu dump`.
func (*DumpCmd) Help() string {
	return `Print the resolved pipeline as JSON: the root recipe, the platforms, and every node
with its id (RECIPE@PLATFORM), the command that runs it and the ids it waits for,
in topological order.`
}

// Examples are shown by `odu dump --help`.
func (*DumpCmd) Examples() []string {
	return []string{
		"odu dump",
		"odu dump e2e                        # e2e and what it depends on",
		"odu dump --no-deps ci::test@x86_64-linux",
		"odu dump | jq -r '.nodes[].id'",
	}
}

// Run prints the pipeline. The process ends with it: the collector
// waits until then (or until the heap reaches pipelineMemory), as while
// the pipeline is built, so that writing a big one does not start a
// collection that frees nothing the process still needs.
func (c *DumpCmd) Run(ctx context.Context, env *Env) error {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(pipelineMemory))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	_, pl, err := c.pipeline(ctx, env)
	if err != nil {
		return err
	}
	return pl.WriteJSON(env.Stdout)
}

// GraphCmd prints the pipeline as a Mermaid flowchart.
type GraphCmd struct {
	PipelineFlags
}

// Help is the long description of `odu graph`.
func (*GraphCmd) Help() string {
	return `Print the pipeline as a Mermaid flowchart: an arrow from each node to the nodes that
wait for it, a subgraph per platform. GitHub renders it in a ` + "```mermaid" + ` block.`
}

// Examples are shown by `odu graph --help`.
func (*GraphCmd) Examples() []string {
	return []string{
		"odu graph",
		"odu graph --platform x86_64-linux --platform aarch64-darwin > pipeline.mmd",
	}
}

// Run prints the flowchart.
func (c *GraphCmd) Run(ctx context.Context, env *Env) error {
	_, pl, err := c.pipeline(ctx, env)
	if err != nil {
		return err
	}
	return pl.WriteMermaid(env.Stdout)
}
