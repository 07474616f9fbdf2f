package surface

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary bytes to what reads a peer's frames: the
// frame reader and the message decoder, raw chunks included. Nothing may
// panic; every frame is either a message or an error; a chunk odu writes,
// base64 or raw, decodes to itself.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"hello","params":{"protocol":1,"version":"v","client":"c"}}` + "\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","method":"nodeLog.chunk","params":{"stream":3,"attempt":1,"offset":0,"data":"aGVsbG8="}}` + "\n"))
	f.Add([]byte(`{"jsonrpc":"2.0","id":2,"result":{}}` + "\n" + `{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"no"}}` + "\n"))
	f.Add([]byte("{nope\n\n\x00\xff"))
	f.Add(append(appendRawHeader(nil, 3, 1, 0, 5), "he\nlo"...))                                          // a raw chunk
	f.Add(append(appendRawHeader(nil, 3, 1, 0, 5), "he"...))                                              // cut short
	f.Add(appendRawHeader(nil, 3, 1, 0, MaxChunk+1))                                                      // too long
	f.Add([]byte(`{"jsonrpc":"2.0","method":"nodeLog.bytes","params":{"length":2,"stream":3}}` + "\nhi")) // another form
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data))
		for {
			m, err := fr.message(true)
			if err != nil {
				var pe *ProtocolError
				if errors.As(err, &pe) {
					continue // the connection would end; the frames after still must not panic
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("message: unexpected error %v", err)
				}
				break
			}
			if m.chunk != nil {
				c := m.chunk
				again, ok := decodeChunk(bytes.TrimSuffix(appendChunk(nil, c), []byte("\n")))
				if !ok || again.Stream != c.Stream || again.Attempt != c.Attempt || again.Offset != c.Offset || !bytes.Equal(again.Data, c.Data) {
					t.Fatalf("chunk %+v does not survive a round trip", c)
				}
				again.Release()
				if len(c.Data) <= MaxChunk {
					wire := append(appendRawHeader(nil, c.Stream, c.Attempt, c.Offset, len(c.Data)), c.Data...)
					m, err := newFrameReader(bytes.NewReader(wire)).message(true)
					if err != nil || m.chunk == nil || m.chunk.Stream != c.Stream || m.chunk.Attempt != c.Attempt || m.chunk.Offset != c.Offset || !bytes.Equal(m.chunk.Data, c.Data) {
						t.Fatalf("chunk %+v does not survive a raw round trip: %v", c, err)
					}
					m.chunk.Release()
				}
				c.Release()
				continue
			}
			if !isRequest(m) && !isNotification(m) && !isResponse(m) {
				t.Fatalf("message() accepted %+v, neither request, notification nor response", m)
			}
			if m.Method == NoteRawChunk {
				t.Fatalf("message() passed a raw chunk's header on as a message: %+v", m)
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
