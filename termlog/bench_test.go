package termlog

import (
	"fmt"
	"strings"
	"testing"
)

// benchLines is 64 KiB of coloured lines, as the dashboard's flood
// benchmark writes them.
func benchLines() []byte {
	var line strings.Builder
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&line, "\x1b[3%dmword%d\x1b[0m ", i%7+1, i)
	}
	line.WriteString("\n")
	return []byte(strings.Repeat(line.String(), 64<<10/line.Len()))
}

// BenchmarkWrite is the write path: coloured lines, in 64 KiB writes.
func BenchmarkWrite(b *testing.B) {
	data := benchLines()
	l := New(Options{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		l.Write(data)
	}
}

// BenchmarkWriteProgress is a three-line progress display redrawn with
// CUU, as in testdata/progress3.log.
func BenchmarkWriteProgress(b *testing.B) {
	var s strings.Builder
	s.WriteString("\n\n\n")
	for i := range 300 {
		fmt.Fprintf(&s, "\x1b[3A\r\x1b[32mcrate-a\x1b[0m [%-20s] %3d%%\x1b[K\n", strings.Repeat("=", i%21), i%101)
		fmt.Fprintf(&s, "\x1b[32mcrate-b\x1b[0m [%-20s] %3d%%\x1b[K\n", strings.Repeat("=", (i/2)%21), i%101)
		fmt.Fprintf(&s, "\x1b[32mcrate-c\x1b[0m [%-20s] %3d%%\x1b[K\n", strings.Repeat("=", (i/3)%21), i%101)
	}
	data := []byte(s.String())
	l := New(Options{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		l.Write(data)
	}
}
