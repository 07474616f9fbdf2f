package surface

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary bytes to what reads a peer's frames: the
// frame reader and the message decoder. Nothing may panic; every frame is
// either a message or an error; a chunk odu writes decodes to itself.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"v","client":"c"}}` + "\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"nodeLog.chunk","params":{"stream":3,"attempt":1,"offset":0,"data":"aGVsbG8="}}` + "\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","id":2,"result":{}}` + "\n" + `{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"no"}}` + "\n"))
	f.Add([]byte("{nope\n\n\x00\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data))
		for {
			frame, err := fr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("next: unexpected error %v", err)
				}
				break
			}
			m, err := decodeMessage(frame)
			if err != nil {
				var pe *ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("decodeMessage(%q) = %v, not a ProtocolError", frame, err)
				}
				continue
			}
			if m.chunk != nil {
				c := m.chunk
				again, ok := decodeChunk(bytes.TrimSuffix(appendChunk(nil, c), []byte("\n")))
				if !ok || again.Stream != c.Stream || again.Attempt != c.Attempt || again.Offset != c.Offset || !bytes.Equal(again.Data, c.Data) {
					t.Fatalf("chunk %+v does not survive a round trip", c)
				}
				again.Release()
				c.Release()
				continue
			}
			if !isRequest(m) && !isNotification(m) && !isResponse(m) {
				t.Fatalf("decodeMessage(%q) accepted %+v, neither request, notification nor response", frame, m)
			}
			// What a server or client then does with it: params decode or
			// fail with an error for the peer, never a panic.
			var p NodeLogParams
			if err := m.params(&p); err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalidParams {
					t.Fatalf("params(%q) = %v", m.Params, err)
				}
			}
			streamOf(m)
			streamID(m.ID)
		}
	})
}

// A full chunk decodes into a pooled buffer: the bound base64 gives for
// its size is over MaxChunk, and was once taken for its size.
func TestDecodeChunkPooled(t *testing.T) {
	for _, size := range []int{MaxChunk, MaxChunk - 1, MaxChunk - 2, 1, 2, 3} {
		data := bytes.Repeat([]byte{0xfe}, size)
		frame := bytes.TrimSuffix(appendChunk(nil, &ChunkNote{Stream: 1, Attempt: 1, Data: data}), []byte("\n"))
		c, ok := decodeChunk(frame)
		if !ok {
			t.Fatalf("%d bytes: not decoded", size)
		}
		if c.pooled == nil {
			t.Errorf("%d bytes: not decoded into a pooled buffer", size)
		}
		if !bytes.Equal(c.Data, data) {
			t.Errorf("%d bytes: decoded %d bytes, not the same", size, len(c.Data))
		}
		c.Release()
	}
}
