package runner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/runner"
	"github.com/odu-ci/odu/surface"
)

// TestConfigureRefusesAnotherPlatform: a runner runs its nodes where it
// is, so it refuses a lane of another platform (a localhost lane for
// aarch64-darwin on a Linux machine, say) instead of reporting them green
// for a platform they were never run on.
func TestConfigureRefusesAnotherPlatform(t *testing.T) {
	other := otherPlatform(t)
	for _, plat := range []string{string(other), ""} {
		cfg := surface.Config{
			SHA: "0123456789abcdef0123456789abcdef01234567", Platform: plat,
			Workspace: t.TempDir(), LogDir: t.TempDir(),
			Nodes: []surface.NodeSpec{{ID: "build@" + plat, Name: "build", Recipe: "build", Command: []string{"true"}}},
		}
		err := (&runner.Runner{}).Configure(context.Background(), cfg)
		want := "this runner runs on " + string(platform.Local()) + ", not on the lane's platform \"" + plat + "\""
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Configure(platform %q) = %v, want an error saying %q", plat, err, want)
		}
	}
}

// otherPlatform returns a known platform that is not this machine's.
func otherPlatform(t *testing.T) platform.Platform {
	for _, p := range platform.Known() {
		if p != platform.Local() {
			return p
		}
	}
	t.Fatal("platform.Known lists only this machine's platform")
	return ""
}
