package repo_test

import (
	"testing"

	"github.com/odu-ci/odu/repo"
)

func TestShort(t *testing.T) {
	for in, want := range map[string]string{
		"e1b8e87a5d1f0c2b9e3a4f5d6c7b8a9e0f1d2c3b": "e1b8e87",
		"e1b8e87": "e1b8e87",
		"abc":     "abc",
		"":        "",
	} {
		if got := repo.Short(in); got != want {
			t.Errorf("Short(%q) = %q, want %q", in, got, want)
		}
	}
}
