package surface

import (
	"fmt"
	"runtime/debug"
	"sync"
)

// Memory in total.
//
// Each connection reads its frames through a 64 KiB buffer; a frame
// longer than that is gathered in a buffer of its own, up to MaxFrame.
// One peer can so make a server hold 32 MiB, and n peers n times that: 8
// clients each sending a 32 MiB line took a coordinator from 14 MB to
// 668 MB, which it kept. So a server's connections share one budget for
// the frames they gather ([frameBudget] bytes): a frame that would take
// more than is left is refused, and its connection ends with a
// [BusyError]. A face's requests are a few hundred bytes and never need
// the budget; the one large request, a runner's configuration, comes from
// a runner's only peer. A gathered frame's buffer is given back once the
// frame is handled, never kept by its connection, and the memory is
// returned to the system when no frame holds any.

// frameBudget is the bytes a server's connections may hold in gathered
// frames at once: one frame of MaxFrame, and room beside it.
const frameBudget = MaxFrame + MaxFrame/2

// keepFrame is the largest gathered buffer a budgeted connection keeps
// for its next frame; larger ones are given back at once.
const keepFrame = 64 << 10

// returnAbove is the gathered bytes given back after which the memory is
// returned to the system at once, rather than over minutes by Go's
// scavenger.
const returnAbove = 1 << 20

// BusyError reports a frame refused because the server's connections
// already hold as many bytes of frames as it allows.
type BusyError struct{ Size, Held int64 }

func (e *BusyError) Error() string {
	return fmt.Sprintf("refused a frame of over %d bytes: the server's connections hold %d bytes of frames, of the %d they may hold at once",
		e.Size, e.Held, frameBudget)
}

// budget counts the bytes a server's connections hold in gathered frames.
type budget struct {
	mu       sync.Mutex
	held     int64
	peak     int64 // the most ever held: for tests
	returned int64 // bytes given back since memory was last returned
}

// take takes n bytes for a frame that has reached size bytes.
func (b *budget) take(n, size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held+n > frameBudget {
		return &BusyError{Size: size, Held: b.held}
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	return nil
}

func (b *budget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.held -= n
	b.returned += n
	free := b.held == 0 && b.returned >= returnAbove
	if free {
		b.returned = 0
	}
	b.mu.Unlock()
	if free {
		// The frames are garbage now: without this, the heap they
		// grew stays the process's for minutes.
		debug.FreeOSMemory()
	}
}

// grow makes room in f.buf for n more bytes, taking what a larger buffer
// costs from the budget, if f has one.
func (f *frameReader) grow(n int) error {
	need := len(f.buf) + n
	if need <= cap(f.buf) {
		return nil
	}
	size := min(max(need, 2*cap(f.buf)), MaxFrame+1)
	if f.budget != nil {
		if err := f.budget.take(int64(size-cap(f.buf)), int64(need)); err != nil {
			return err
		}
	}
	buf := make([]byte, len(f.buf), size)
	copy(buf, f.buf)
	f.buf = buf
	return nil
}

// reset readies f for the next frame: a large buffer is given back (a
// client keeps one that holds log chunks, which it reads at disk speed).
func (f *frameReader) reset() {
	f.buf = f.buf[:0]
	if f.budget != nil && cap(f.buf) > keepFrame || cap(f.buf) > 4*MaxChunk {
		f.release()
	}
}

// release gives f's buffer back, and its bytes to the budget.
func (f *frameReader) release() {
	c := cap(f.buf)
	f.buf = nil
	if f.budget != nil {
		f.budget.give(int64(c))
	}
}
