package provision

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// The runner's stderr passes whole; the sweep's line, however it is cut
// into writes, reaches the setup log once, and nothing else does.
func TestSweepLinesReachTheSetupLog(t *testing.T) {
	var out bytes.Buffer
	var said []string
	w := &sweepLines{w: &out, say: func(format string, a ...any) { said = append(said, fmt.Sprintf(format, a...)) }}
	in := "odu runner: no runner serves /x\nodu runner: stopped 5 processes left by a runner that died (pid 7), in 53ms\nplain\n"
	for i := 0; i < len(in); i += 7 {
		if _, err := w.Write([]byte(in[i:min(i+7, len(in))])); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if out.String() != in {
		t.Errorf("passed on %q, want %q", out.String(), in)
	}
	if want := []string{"stopped 5 processes left by a runner that died (pid 7), in 53ms"}; !slices.Equal(said, want) {
		t.Errorf("said %q, want %q", said, want)
	}
}
