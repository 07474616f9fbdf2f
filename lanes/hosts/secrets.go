package hosts

import (
	"fmt"
	"slices"
	"strings"
)

// MinSecret is the shortest secret value odu accepts: a shorter one would
// match in too many places to be masked without shredding the logs. The
// runner refuses one too (runner.MinSecret).
const MinSecret = 6

// Secret is an environment variable of the coordinator that the recipes
// of every lane get, masked in their output: `odu run --secret NAME`, or
// the hosts file's "secrets" list.
//
// Its value goes to a lane only inside the runner's configure message,
// over the runner's stdin (a pipe, or the SSH session): never on a command
// line, in a file on the host, in the run's state or its record.
type Secret struct {
	Name  string
	Value string
}

// LoadSecrets reads the values of the secrets named (by --secret flags,
// then the hosts file; repeats count once) from the coordinator's
// environment.
func LoadSecrets(names []string, getenv func(string) (string, bool)) ([]Secret, error) {
	var out []Secret
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		if !validSecretName(name) {
			return nil, &SecretError{Name: name, Problem: "is not an environment variable name",
				hint: "Name a variable of odu's environment: letters, digits and _, not starting with a digit."}
		}
		v, ok := getenv(name)
		switch {
		case !ok:
			return nil, &SecretError{Name: name, Problem: "is not set in odu's environment",
				hint: "Export it before `odu run` (export " + name + "=...), or leave it out of --secret and the hosts file's \"secrets\"."}
		case len(v) < MinSecret:
			return nil, &SecretError{Name: name, Problem: fmt.Sprintf("is %d characters long, under the %d a secret needs to be masked safely", len(v), MinSecret),
				hint: "A value that short would be masked everywhere it appears in the logs. Pass it as an ordinary variable if it is not secret, or use a longer one."}
		}
		out = append(out, Secret{Name: name, Value: v})
	}
	return out, nil
}

// SecretError reports a secret that cannot be passed. It names the
// variable, never its value.
type SecretError struct {
	Name    string
	Problem string
	hint    string
}

func (e *SecretError) Error() string { return "secret " + e.Name + " " + e.Problem }

// Hint says what to do.
func (e *SecretError) Hint() string { return e.hint }

// SecretEnv returns the secrets as KEY=VALUE, for a runner's
// configuration, and their names.
func SecretEnv(secrets []Secret) (env, names []string) {
	for _, s := range secrets {
		env = append(env, s.Name+"="+s.Value)
		names = append(names, s.Name)
	}
	return env, names
}

// WithoutSecrets returns env without the secrets' variables: a local
// runner gets them in its configuration, as a remote one does, not in
// its process environment.
func WithoutSecrets(env []string, secrets []Secret) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		for _, s := range secrets {
			if strings.HasPrefix(kv, s.Name+"=") {
				return true
			}
		}
		return false
	})
}
