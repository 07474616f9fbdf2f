package web

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRender: a log of 200-byte lines through the renderer, diffed
// every MiB, as a page that follows a fast log gets it.
func BenchmarkRender(b *testing.B) {
	var sb strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&sb, "%08d %s\n", i, strings.Repeat("x", 190))
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	r := newRenderer()
	var buf []byte
	for range b.N {
		r.write(data, func() { buf = r.diff(buf[:0], 1) })
		buf = r.diff(buf[:0], 1)
	}
}
