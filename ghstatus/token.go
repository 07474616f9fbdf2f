package ghstatus

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// FindToken returns a token for host and where it came from: $GH_TOKEN,
// $GITHUB_TOKEN, for an Enterprise host $GH_ENTERPRISE_TOKEN and
// $GITHUB_ENTERPRISE_TOKEN, then `gh auth token` when gh is installed.
func FindToken(ctx context.Context, host string, getenv Getenv) (token, from string) {
	names := []string{"GH_TOKEN", "GITHUB_TOKEN"}
	if host != "github.com" {
		names = append(names, "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")
	}
	for _, k := range names {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v, k
		}
	}
	gh, err := exec.LookPath("gh")
	if err != nil {
		return "", ""
	}
	// gh answers from its own config at once; the bound is for a gh that
	// hangs (a keyring prompt).
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gh, "auth", "token", "--hostname", host)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		return "", ""
	}
	if tok := strings.TrimSpace(string(out)); tok != "" {
		return tok, "gh auth token"
	}
	return "", ""
}
