package ghstatus

import (
	"context"
	"slices"
	"testing"

	"github.com/odu-ci/odu/runner"
)

// TestTokensFoundAreTokensStripped: every variable FindToken reads a
// token from is one the runner keeps from recipes (runner.TokenVars): a
// name added here and not there would hand recipes the token odu posts
// with.
func TestTokensFoundAreTokensStripped(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no gh: every variable is asked
	var asked []string
	getenv := func(k string) string { asked = append(asked, k); return "" }
	for _, host := range []string{"github.com", "ghe.example.com"} {
		FindToken(context.Background(), host, getenv)
	}
	if len(asked) == 0 {
		t.Fatal("FindToken read no variable")
	}
	for _, k := range asked {
		if !slices.Contains(runner.TokenVars, k) {
			t.Errorf("FindToken reads a token from $%s, which runner.TokenVars does not keep from recipes", k)
		}
	}
}
