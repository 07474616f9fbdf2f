package lanes_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/dag"
	"github.com/odu-ci/odu/lanes"
	"github.com/odu-ci/odu/lanes/hosts"
	"github.com/odu-ci/odu/platform"
)

// TestStartRefusesLocalLaneOfAnotherPlatform: a platform with no host
// would run on this machine; the coordinator refuses it for any platform
// but this machine's, whatever its caller checked, so that no path runs
// a lane's nodes here and reports them green for another platform.
func TestStartRefusesLocalLaneOfAnotherPlatform(t *testing.T) {
	var other platform.Platform
	for _, p := range platform.Known() {
		if p != platform.Local() {
			other = p
			break
		}
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "justfile"), []byte("[metadata(\"ci\")]\nbuild:\n    touch ran\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, jf, err := dag.Load(context.Background(), root, "")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := dag.Resolve(jf, dag.Options{Platforms: []platform.Platform{other}})
	if err != nil {
		t.Fatal(err)
	}
	for _, laneHosts := range []map[string]string{nil, {string(other): hosts.Localhost}} {
		c, err := lanes.Start(context.Background(), lanes.Options{
			Root: root, Pipeline: pl, SHA: sha, Workspace: root, WorkDir: t.TempDir(),
			Grace: time.Second, Exe: "/nonexistent/odu", Env: os.Environ(), Hosts: laneHosts,
		})
		if err == nil {
			finish(t, c)
			c.CloseLogs()
			t.Fatalf("Start with hosts %v ran %s on this machine (%s); want it refused", laneHosts, other, platform.Local())
		}
		var lp *hosts.LocalPlatformError
		if !errors.As(err, &lp) || lp.Platform != other {
			t.Errorf("Start with hosts %v = %v, want a LocalPlatformError for %s", laneHosts, err, other)
		}
		if want := "but this machine is " + string(platform.Local()); !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %q does not say %q", err, want)
		}
	}
}
