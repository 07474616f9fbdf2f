package main

import (
	"os"
	"testing"
)

// touch creates the empty file path, which a recipe under test waits
// for, and fails the test when it cannot: a recipe never released would
// hold the test until its deadline. It may be called from a cleanup.
func touch(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Errorf("release the recipe: %v", err)
	}
}
