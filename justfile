# odu's own CI: `odu run` runs the recipe marked [metadata("ci")] and
# everything it depends on; `odu dump` and `odu graph` show the pipeline.

[metadata("ci")]
ci: build vet fmt lint test fuzz
    @echo "odu: all green"

# Compile every package and the odu binary.
build:
    go build ./...

vet:
    go vet ./...

# Fail when a file is not gofmt-formatted, and name it.
fmt:
    #!/bin/sh
    unformatted=$(gofmt -l .)
    if [ -n "$unformatted" ]; then
        echo "gofmt needed:"; echo "$unformatted"; exit 1
    fi

# The linters of .golangci.yml (staticcheck, errorlint, errcheck, depguard), as .ci/run runs them.
lint:
    "$(go env GOPATH)/bin/golangci-lint" run ./...

# -count=1: the tests run the odu binary they build, which the test
# cache cannot see; a cached pass could hide a change.
#
# The whole test suite, with the race detector.
test: build
    go test -race -count=1 -timeout 15m ./...

# A short fuzzing pass over every fuzz target (ODU_FUZZTIME each, 10s).
fuzz: build
    bash .ci/fuzz

# Put odu on PATH: go install ./cmd/odu, into $(go env GOBIN) or $(go env GOPATH)/bin.
install:
    go install ./cmd/odu

# Static odu binaries for linux and darwin on amd64 and arm64, with SHA256SUMS, in dist/ (.ci/release).
release version="":
    bash .ci/release {{version}}

# Every benchmark of BENCHMARKS.md's summary (./bench and ./web: 5
# iterations each, the 2,001-node run once; 11 minutes on this 2-core machine,
# run it on a quiet machine), then that table from their output, with
# the run before beside it (bench/last.txt, which this run replaces).
bench:
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    {
        echo "date: $(date -u +%F)"
        ODU_BENCH_FLOOD_SECONDS=10 go test -count=1 -run '^$' -bench . -skip BigRun -benchtime 5x -timeout 0 ./bench ./web
        go test -count=1 -run '^$' -bench BigRun -benchtime 1x -timeout 0 ./bench
    } | tee "$out"
    go run ./bench/summary -previous bench/last.txt -update BENCHMARKS.md "$out"
    cp "$out" bench/last.txt
