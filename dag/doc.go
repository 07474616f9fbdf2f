// Package dag turns a repository's justfile into a pipeline: the DAG of
// nodes odu runs, one per recipe invocation per platform.
//
// It owns three steps, each usable alone:
//
//   - [Just.Load] runs `just --dump --dump-format json` (the only I/O here,
//     besides reading the justfile's sources to find recipe lines, which
//     the dump does not carry) and [DecodeDump] reads it into a
//     [Justfile]. Decoding never panics on any input.
//   - [Resolve] picks the root (the one recipe carrying [metadata("ci")],
//     or --root) and expands its dependency closure into [Node]s for each
//     platform, in a deterministic topological order.
//   - [Pipeline.Select] narrows a pipeline to what [Selector]s pick, with or
//     without their dependencies.
//
// How recipes map to nodes, decided once here for every face of odu:
//
//   - A recipe with a body is a node, the root included; one without a
//     body only groups its dependencies, which take its place.
//   - Every node runs as `just --no-deps NAMEPATH [ARGS]` in the
//     repository root, so just, not odu, interprets the recipe: shebang and
//     [script] recipes, private recipes, [no-cd] (which then runs in the
//     repository root) and [working-directory] all run as just runs them.
//   - A dependency with literal arguments, (build "release"), is its own
//     node named build(release) (see [NodeName]); one with an expression
//     for an argument, or mapped over a list, is refused, since its value
//     would depend on where it is evaluated.
//   - Dependencies after `&&` are nodes that wait for the recipe, unless
//     they already run before it; `just --no-deps` would skip them.
//   - [confirm] recipes are refused unless the user passes --yes, which
//     runs them with `just --yes`: a CI run has nobody to answer.
//   - [parallel] changes nothing: odu runs independent nodes in parallel
//     anyway.
//   - [metadata("odu:shard=N")] sets [Node.Shards]: the recipe runs as up
//     to N shards (see lanes/shards.go); its node is their aggregate.
//   - Operating-system attributes ([linux], [macos], [unix], ...) leave a
//     recipe out of platforms it does not run on. just leaves recipes for
//     other systems out of its dump altogether, so a recipe that exists
//     only for macOS is unknown to a coordinator on Linux.
//
// Every error is a bad input the user can fix, and has a Hint method that
// says how.
package dag
