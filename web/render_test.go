package web

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/odu-ci/odu/termlog"
)

// page is what a page holds of a log: its lines, as diffs set them.
type page struct {
	lines []string
	off   int64
}

func (p *page) apply(t *testing.T, msg []byte) {
	t.Helper()
	var d struct {
		O int64
		N int
		L [][2]json.RawMessage
	}
	if err := json.Unmarshal(msg, &d); err != nil {
		t.Fatalf("a diff is not JSON: %v\n%s", err, msg)
	}
	for len(p.lines) < d.N {
		p.lines = append(p.lines, "")
	}
	p.lines = p.lines[:d.N]
	for _, l := range d.L {
		var i int
		var h string
		if json.Unmarshal(l[0], &i) != nil || json.Unmarshal(l[1], &h) != nil {
			t.Fatalf("a line of a diff: %s", l)
		}
		p.lines[i] = h
	}
	p.off = d.O
}

// progressLog is a log as build tools write it: colours, \r progress,
// a multi-line progress display redrawn in place (up, erase), a redraw
// that erases below itself, and many plain lines.
func progressLog(rng *rand.Rand) []byte {
	var b strings.Builder
	for step := range 60 {
		switch rng.IntN(6) {
		case 0:
			for i := range 30 {
				fmt.Fprintf(&b, "\033[32mline\033[0m %d.%d\n", step, i)
			}
		case 1:
			for pct := 0; pct <= 100; pct += 25 {
				fmt.Fprintf(&b, "\rdownloading %3d%%", pct)
			}
			b.WriteString("\n")
		case 2:
			b.WriteString("a: 0%\nb: 0%\nc: 0%\n")
			for pct := 10; pct <= 100; pct += 30 {
				fmt.Fprintf(&b, "\033[3Aa: %d%%\033[K\nb: %d%%\033[K\nc: %d%%\033[K\n", pct, pct, pct)
			}
		case 3:
			// A display that redraws shorter: up, erase below, redraw.
			b.WriteString("x1\nx2\nx3\nx4\n\033[4A\033[Jdone x\n")
		case 4:
			for i := range 700 {
				fmt.Fprintf(&b, "plain %d %d\n", step, i)
			}
			b.WriteString("\033[600A\033[1;31mrewritten\033[0m\033[600B\n")
		case 5:
			// A display that erases itself twice over: the second move
			// reaches lines the first could not.
			for i := range 1200 {
				fmt.Fprintf(&b, "long %d %d\n", step, i)
			}
			b.WriteString("\033[500A\033[J\033[500A\033[J\033[500A\033[1;33mrewound\033[0m\033[500B\n")
		}
	}
	return []byte(b.String())
}

// TestRendererDiffs: a page fed the diffs of a log, in chunks of any
// size, resumed at any offset by a fresh renderer (odu web restarted),
// ends with exactly the lines termlog makes of the whole log.
func TestRendererDiffs(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		data := progressLog(rng)
		ref := termlog.New(termlog.Options{MaxLines: 1 << 20})
		ref.Write(data)
		var want []string
		for i := range ref.End() {
			want = append(want, string(ref.Line(i).AppendHTML(nil)))
		}

		p := &page{}
		resumeAt := int64(rng.IntN(len(data)))
		r := newRenderer()
		var buf []byte
		flush := func() { buf = r.diff(buf[:0], 1); p.apply(t, buf) }
		for off := 0; off < len(data); {
			n := min(len(data)-off, 1+rng.IntN(9000))
			if int64(off) <= resumeAt && resumeAt < int64(off+n) {
				// The connection drops here: a new renderer replays the
				// bytes the page has, unsent, and goes on from there.
				k := int(p.off)
				r = newRenderer()
				r.write(data[:k], func() {})
				r.diff(nil, 1)
				off = k
				resumeAt = -1
				continue
			}
			r.write(data[off:off+n], flush)
			flush()
			off += n
		}
		if len(p.lines) != len(want) {
			t.Errorf("seed %d: the page has %d lines, want %d", seed, len(p.lines), len(want))
		}
		for i := range min(len(p.lines), len(want)) {
			if p.lines[i] != want[i] {
				t.Errorf("seed %d: line %d = %q, want %q", seed, i, p.lines[i], want[i])
				break
			}
		}
	}
}
