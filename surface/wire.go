package surface

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// MaxFrame bounds one message on the wire, so that a peer cannot make
// odu allocate without limit. The largest legitimate frame is a snapshot
// of a big run (~500 bytes a node: 32 MiB holds 60,000 nodes); log chunks
// are at most MaxChunk bytes, about 350 KiB once encoded.
const MaxFrame = 32 << 20

// MaxChunk bounds the log bytes in one chunk: large enough that per-frame
// costs vanish at disk speed, small enough to interleave streams.
const MaxChunk = 256 << 10

// ErrFrameTooLarge reports a frame over MaxFrame.
var ErrFrameTooLarge = fmt.Errorf("frame longer than %d bytes", MaxFrame)

// ProtocolError reports a peer that does not speak the contract: a frame
// that is not JSON, or not a JSON-RPC 2.0 message. It ends the connection.
type ProtocolError struct {
	Frame []byte // the start of the offending frame
	Err   error
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("malformed frame %q: %v", e.Frame, e.Err)
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// frameReader reads newline-terminated frames of at most MaxFrame bytes.
type frameReader struct {
	r      *bufio.Reader
	buf    []byte
	budget *budget // a server's, shared by its connections; nil for a client
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next frame, without its newline. The slice is valid
// until the next call.
func (f *frameReader) next() ([]byte, error) {
	f.reset()
	for {
		line, err := f.r.ReadSlice('\n')
		if len(f.buf)+len(line) > MaxFrame+1 {
			return nil, ErrFrameTooLarge
		}
		switch {
		case err == nil:
			if len(f.buf) == 0 {
				return line[:len(line)-1], nil
			}
			if err := f.grow(len(line) - 1); err != nil {
				return nil, err
			}
			f.buf = append(f.buf, line[:len(line)-1]...)
			return f.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if err := f.grow(len(line)); err != nil {
				return nil, err
			}
			f.buf = append(f.buf, line...)
		case errors.Is(err, io.EOF) && len(f.buf)+len(line) > 0:
			return nil, io.ErrUnexpectedEOF // a frame cut short
		default:
			return nil, err
		}
	}
}

// message is any JSON-RPC 2.0 message. A request has ID and Method, a
// notification Method only, a response ID and Result or Error.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`

	chunk *ChunkNote // a nodeLog.chunk decoded on the fast path
}

// Error is a JSON-RPC error: what a procedure or a stream answers when it
// cannot do what was asked.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Error codes: JSON-RPC's own, and odu's in the server-defined range.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeUnknownNode    = -32001 // no node has that id
	CodeVersion        = -32002 // hello: another protocol or version
	CodeNotReady       = -32003 // a runner not configured yet, or configured twice
	CodeCancelled      = -32004 // the stream was cancelled, or the server stops
	// CodeRefused: a procedure that the node's state leaves nothing to do
	// for (cancel of a finished node), or that would not do what was
	// asked (rerun of a node skipped for its dependency); the message
	// says why and what to do instead.
	CodeRefused = -32005
)

func isRequest(m *message) bool      { return m.Method != "" && len(m.ID) > 0 }
func isNotification(m *message) bool { return m.Method != "" && len(m.ID) == 0 }
func isResponse(m *message) bool     { return m.Method == "" && len(m.ID) > 0 }

// chunkPrefix is how odu writes every nodeLog.chunk notification; frames
// that start with it are decoded without encoding/json, which is 20 times
// slower for base64 payloads (measured: 74 MB/s against 1.8 GB/s).
const chunkPrefix = `{"jsonrpc":"2.0","method":"nodeLog.chunk","params":{"stream":`

// appendChunk appends the frame of a chunk notification, newline
// included, in the form decodeChunk reads.
func appendChunk(buf []byte, c *ChunkNote) []byte {
	buf = append(buf, chunkPrefix...)
	buf = strconv.AppendInt(buf, c.Stream, 10)
	buf = append(buf, `,"attempt":`...)
	buf = strconv.AppendInt(buf, int64(c.Attempt), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, c.Offset, 10)
	buf = append(buf, `,"data":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, c.Data)
	return append(buf, "\"}}\n"...)
}

// decodeChunk decodes a frame appendChunk wrote; ok is false for any
// other frame, which then goes through the general decoder.
func decodeChunk(frame []byte) (c *ChunkNote, ok bool) {
	rest, ok := bytes.CutPrefix(frame, []byte(chunkPrefix))
	if !ok {
		return nil, false
	}
	c = &ChunkNote{}
	var n int64
	if n, rest, ok = cutInt(rest, `,"attempt":`); !ok {
		return nil, false
	}
	c.Stream = n
	if n, rest, ok = cutInt(rest, `,"offset":`); !ok {
		return nil, false
	}
	c.Attempt = int(n)
	if n, rest, ok = cutInt(rest, `,"data":"`); !ok {
		return nil, false
	}
	c.Offset = n
	b64, ok := bytes.CutSuffix(rest, []byte(`"}}`))
	if !ok || bytes.IndexByte(b64, '"') >= 0 {
		return nil, false
	}
	// The exact size, padding taken off: DecodedLen's bound of a full
	// chunk (262,146 for 262,144 bytes) is over MaxChunk, and every full
	// chunk then got a new buffer, not a pooled one.
	size := base64.StdEncoding.DecodedLen(len(b64))
	if n := len(b64); n >= 4 && n%4 == 0 && b64[n-1] == '=' {
		size--
		if b64[n-2] == '=' {
			size--
		}
	}
	if size <= MaxChunk {
		c.pooled = chunks.Get().(*[MaxChunk]byte)
		c.Data = c.pooled[:size]
	} else {
		c.Data = make([]byte, size) // a peer's chunk larger than odu's own
	}
	m, err := base64.StdEncoding.Decode(c.Data, b64)
	if err != nil {
		c.Release()
		return nil, false
	}
	c.Data = c.Data[:m]
	return c, true
}

// chunks are the buffers decoded chunks are reused from: at disk speed a
// fresh 256 KiB buffer per chunk made garbage enough to show in profiles
// (collection, and returning memory to the system).
var chunks = sync.Pool{New: func() any { return new([MaxChunk]byte) }}

// Release gives a decoded chunk's buffer back for reuse: its Data must not
// be used after. A chunk never released is collected as any garbage.
func (c *ChunkNote) Release() {
	if c.pooled != nil {
		chunks.Put(c.pooled)
		c.pooled, c.Data = nil, nil
	}
}

// cutInt reads a non-negative decimal integer followed by sep.
func cutInt(b []byte, sep string) (int64, []byte, bool) {
	i := bytes.Index(b, []byte(sep))
	if i <= 0 || i > 19 {
		return 0, nil, false
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil || n < 0 {
		return 0, nil, false
	}
	return n, b[i+len(sep):], true
}

// NoteRawChunk is a raw stream's chunk (NodeLogParams.Raw): a header
// frame, {"stream", "attempt", "offset", "length"} in the form
// appendRawHeader writes, followed by exactly length bytes of the log, at
// most MaxChunk, as they are (no newline after them).
const NoteRawChunk = "nodeLog.bytes"

// rawPrefix is how odu writes every raw chunk's header.
const rawPrefix = `{"jsonrpc":"2.0","method":"` + NoteRawChunk + `","params":{"stream":`

// appendRawHeader appends the header frame of a raw chunk of n bytes,
// newline included; the n bytes follow it on the wire.
func appendRawHeader(buf []byte, stream int64, attempt int, off int64, n int) []byte {
	buf = append(buf, rawPrefix...)
	buf = strconv.AppendInt(buf, stream, 10)
	buf = append(buf, `,"attempt":`...)
	buf = strconv.AppendInt(buf, int64(attempt), 10)
	buf = append(buf, `,"offset":`...)
	buf = strconv.AppendInt(buf, off, 10)
	buf = append(buf, `,"length":`...)
	buf = strconv.AppendInt(buf, int64(n), 10)
	return append(buf, "}}\n"...)
}

// decodeRawHeader decodes a header appendRawHeader wrote, frame being
// known to start with rawPrefix: the chunk, with Data not yet read, and
// its length. Any other form, or a length over MaxChunk, is a
// ProtocolError: the bytes that follow cannot be told from frames.
func decodeRawHeader(frame []byte) (*ChunkNote, int, error) {
	bad := func(why string) (*ChunkNote, int, error) {
		return nil, 0, &ProtocolError{Frame: head(frame), Err: errors.New(why)}
	}
	rest := frame[len(rawPrefix):]
	c := &ChunkNote{}
	var n int64
	var ok bool
	if n, rest, ok = cutInt(rest, `,"attempt":`); !ok {
		return bad("a raw chunk's header not in the form odu writes")
	}
	c.Stream = n
	if n, rest, ok = cutInt(rest, `,"offset":`); !ok {
		return bad("a raw chunk's header not in the form odu writes")
	}
	c.Attempt = int(n)
	if n, rest, ok = cutInt(rest, `,"length":`); !ok {
		return bad("a raw chunk's header not in the form odu writes")
	}
	c.Offset = n
	if n, rest, ok = cutInt(rest, `}}`); !ok || len(rest) != 0 {
		return bad("a raw chunk's header not in the form odu writes")
	}
	if n > MaxChunk {
		return bad(fmt.Sprintf("a raw chunk of %d bytes, over %d", n, MaxChunk))
	}
	return c, int(n), nil
}

// message reads the next message: a frame, and after a raw chunk's
// header the bytes it names, into a pooled buffer. raw says whether the
// reader takes raw chunks (a client, which asks for them); a server
// takes none.
func (f *frameReader) message(raw bool) (*message, error) {
	frame, err := f.next()
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(frame, []byte(rawPrefix)) {
		m, err := decodeMessage(frame)
		if err == nil && m.Method == NoteRawChunk {
			// Its bytes would be read as frames.
			return nil, &ProtocolError{Frame: head(frame), Err: errors.New("a raw chunk's header not in the form odu writes")}
		}
		return m, err
	}
	if !raw {
		return nil, &ProtocolError{Frame: head(frame), Err: errors.New("a raw chunk sent to a server")}
	}
	c, n, err := decodeRawHeader(frame)
	if err != nil {
		return nil, err
	}
	c.pooled = chunks.Get().(*[MaxChunk]byte)
	c.Data = c.pooled[:n]
	if _, err := io.ReadFull(f.r, c.Data); err != nil {
		c.Release()
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // the chunk cut short
		}
		return nil, err
	}
	return &message{JSONRPC: "2.0", Method: NoteChunk, chunk: c}, nil
}

// decodeMessage decodes one frame.
func decodeMessage(frame []byte) (*message, error) {
	if c, ok := decodeChunk(frame); ok {
		return &message{JSONRPC: "2.0", Method: NoteChunk, chunk: c}, nil
	}
	var m message
	if err := json.Unmarshal(frame, &m); err != nil {
		return nil, &ProtocolError{Frame: head(frame), Err: err}
	}
	switch {
	case m.JSONRPC != "2.0":
		return nil, &ProtocolError{Frame: head(frame), Err: errors.New(`not JSON-RPC 2.0 (no "jsonrpc": "2.0")`)}
	case !isRequest(&m) && !isNotification(&m) && !isResponse(&m):
		return nil, &ProtocolError{Frame: head(frame), Err: errors.New("neither a request, a notification nor a response")}
	case isResponse(&m) && m.Result == nil && m.Error == nil:
		return nil, &ProtocolError{Frame: head(frame), Err: errors.New("a response without result or error")}
	}
	return &m, nil
}

func head(frame []byte) []byte {
	if len(frame) > 80 {
		return append(bytes.Clone(frame[:80]), "..."...)
	}
	return bytes.Clone(frame)
}

// appendMessage appends a message's frame, newline included.
func appendMessage(buf []byte, m *message) ([]byte, error) {
	m.JSONRPC = "2.0"
	data, err := json.Marshal(m)
	if err != nil {
		return buf, err
	}
	buf = append(buf, data...)
	return append(buf, '\n'), nil
}

// params decodes a message's params into v; a request without params
// decodes as {}. It is called once per message: the raw params are not
// kept, so a stream that runs for the rest of the run does not hold a
// peer's large request.
func (m *message) params(v any) error {
	if len(m.Params) == 0 {
		return nil
	}
	raw := m.Params
	m.Params = nil
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{Code: CodeInvalidParams, Message: "invalid params for " + m.Method + ": " + err.Error()}
	}
	return nil
}

func idOf(n int64) json.RawMessage { return json.RawMessage(strconv.FormatInt(n, 10)) }
