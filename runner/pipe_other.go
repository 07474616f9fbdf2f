//go:build !linux

package runner

import "os"

// growPipe does nothing where pipes cannot be resized.
func growPipe(*os.File) {}

// pipeHolds cannot tell here: the output is cut at once after drainWait.
func pipeHolds(*os.File) bool { return false }

// pipeUnread cannot tell here: a cut output may have lost bytes.
func pipeUnread(*os.File) (n int, known bool) { return 0, false }
