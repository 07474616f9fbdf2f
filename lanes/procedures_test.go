package lanes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/odu-ci/odu/platform"
	"github.com/odu-ci/odu/surface"
)

// Once the run is cancelled, a rerun is refused, and says why: nothing of
// a cancelled run starts again.
func TestRerunAfterCancelIsRefused(t *testing.T) {
	c, _ := start(t, `
[metadata("ci")]
ci: slow
    @echo ci

slow:
    @sleep 300
`, "")
	id := "slow@" + string(platform.Local())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Wait for slow to run.
	for {
		if n, _ := c.Store().Node(id); n.Status == surface.Running {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not start", id)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := c.CancelRun(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.Rerun(ctx, id)
	var e *surface.Error
	if !errors.As(err, &e) || e.Code != surface.CodeRefused || !strings.Contains(e.Message, "the run was cancelled") {
		t.Errorf("rerun after run.cancel: %v, want refused: the run was cancelled", err)
	}
	c.Wait(ctx)
	if n, _ := c.Store().Node(id); n.Status != surface.Cancelled {
		t.Errorf("%s after the run was cancelled: %s, want cancelled", id, n.Status)
	}
}
