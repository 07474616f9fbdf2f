// Package bench holds odu's end-to-end benchmarks: each runs the real odu
// binary against a baseline measured in the same run, and reports their
// ratio, since these machines are too noisy for absolute figures.
// BENCHMARKS.md has the commands and the figures.
//
// The package has no code of its own, only benchmarks (its _test.go
// files): this file carries its comment, for go doc.
package bench
