// Package bench holds odu's end-to-end benchmarks: each runs the real odu
// binary against a baseline measured in the same run, and reports their
// ratio, since these machines are too noisy for absolute figures.
// BENCHMARKS.md has the commands and the figures.
package bench

// The benchmarks are all in _test.go files: this file only gives the
// package the comment that go doc shows.
