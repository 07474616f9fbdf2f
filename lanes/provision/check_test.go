package provision_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/odu-ci/odu/internal/sshtest"
	"github.com/odu-ci/odu/lanes/provision"
	"github.com/odu-ci/odu/platform"
)

// odu doctor's checks of a host stop at the first that fails, the
// earlier ones passed: a host whose key is not trusted was reached; one
// that takes no key of the user's has a trusted key.
func TestCheckHostStopsWhereTheDialDid(t *testing.T) {
	key, other := sshtest.NewKey(t), sshtest.NewKey(t)
	s := sshtest.Start(t, sshtest.Options{Keys: []sshtest.Key{key}})
	home := func(id string, known string) string {
		dir := t.TempDir()
		ssh := filepath.Join(dir, ".ssh")
		if err := os.MkdirAll(ssh, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ssh, "config"), []byte("Host *\n  IdentitiesOnly yes\n  IdentityFile "+id+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ssh, "known_hosts"), []byte(known+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		name   string
		home   string
		failed string // the first check that fails
	}{
		{"unknown host key", home(key.Path, ""), "host key known"},
		{"no key accepted", home(other.Path, s.KnownHostsLine()), "authenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			checks := provision.CheckHost(ctx, s.Addr(), platform.Local(), tc.home, func(string) string { return "" }, "")
			for _, c := range checks {
				if c.Name == tc.failed {
					if c.OK || c.Skip {
						t.Errorf("%s: %+v, want it failed", c.Name, c)
					}
					return
				}
				if !c.OK {
					t.Fatalf("%s failed before %s: %+v", c.Name, tc.failed, c)
				}
			}
			t.Fatalf("no %q check in %+v", tc.failed, checks)
		})
	}
}
