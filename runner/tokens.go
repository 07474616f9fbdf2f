package runner

import "strings"

// TokenVars are the environment variables that hold a GitHub token. A
// token stays with the coordinator that posts statuses: no recipe sees
// one, whether it came with the coordinator's environment or is in a
// build host's own.
var TokenVars = []string{"GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}

// WithoutTokens returns env without the variables named in TokenVars.
func WithoutTokens(env []string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		for _, t := range TokenVars {
			if strings.HasPrefix(kv, t+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
