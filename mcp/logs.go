package mcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/odu-ci/odu/internal/face"
	"github.com/odu-ci/odu/lanes/runstate"
	"github.com/odu-ci/odu/surface"
)

// Bounds of what a log read returns: a model's context is the scarce
// thing, and a log can be gigabytes.
const (
	defaultLimit = 64 << 10 // bytes a read returns unless asked for fewer or more
	maxLimit     = 1 << 20  // bytes a read returns at most
	defaultTail  = 50       // lines of a tail unless asked
	maxTail      = 2000     // lines of a tail at most
	// tailWindow is how far back from a log's end a tail looks for its
	// lines: lines longer than that on average are cut.
	tailWindow = 256 << 10
)

// LogsIn asks for a node's log.
type LogsIn struct {
	Node     string `json:"node" jsonschema:"the node: RECIPE, RECIPE@PLATFORM or MODULE::RECIPE (as odu run takes them), or .setup@PLATFORM for a lane's setup log"`
	Offset   int64  `json:"offset,omitempty" jsonschema:"the byte offset to read from (0: the start); next_offset of a previous read goes on from there"`
	Limit    int    `json:"limit,omitempty" jsonschema:"at most this many bytes (default 65536, at most 1048576)"`
	Tail     int    `json:"tail,omitempty" jsonschema:"instead of offset and limit: the last this many lines (at most 2000)"`
	KeepANSI bool   `json:"keep_ansi,omitempty" jsonschema:"keep ANSI escape sequences (colours); they are stripped by default"`
	Run      string `json:"run,omitempty" jsonschema:"the run: latest (the default: the live run, or else the last recorded one), a ref <sha7>#<n> as run and runs give it, or at least 4 hex digits of a commit (its newest run)"`
	Attempt  int    `json:"attempt,omitempty" jsonschema:"this attempt of the node (1 is its first run, each rerun one more); default: its newest. An earlier attempt is kept whole when a rerun starts the next"`
}

// LogsOut says where the bytes returned (the result's text) are in the log.
type LogsOut struct {
	Node       string `json:"node" jsonschema:"the node's id"`
	Attempt    int    `json:"attempt,omitempty" jsonschema:"the attempt the log is of"`
	Status     string `json:"status" jsonschema:"the node's status now (its newest attempt's)"`
	Offset     int64  `json:"offset" jsonschema:"the byte offset of the text returned"`
	NextOffset int64  `json:"next_offset" jsonschema:"the byte offset after it: read on from here"`
	EOF        bool   `json:"eof" jsonschema:"the text reaches the end of the log as it is now"`
	Finished   bool   `json:"finished" jsonschema:"the node is finished: its log will not grow"`
	Run        RunID  `json:"run"`
}

func (s *server) logs(ctx context.Context, _ *sdk.CallToolRequest, in LogsIn) (*sdk.CallToolResult, LogsOut, error) {
	if in.Offset < 0 || in.Limit < 0 || in.Tail < 0 || in.Attempt < 0 {
		return nil, LogsOut{}, errors.New("offset, limit, tail and attempt cannot be negative")
	}
	if in.Tail > 0 && (in.Offset > 0 || in.Limit > 0) {
		return nil, LogsOut{}, errors.New("give tail, or offset and limit, not both")
	}
	f, err := s.findRef(ctx, in.Run, false)
	if err != nil {
		return nil, LogsOut{}, userError(err)
	}
	defer f.close()
	id, path, err := face.PickLog(f.st, in.Node)
	if err != nil {
		return nil, LogsOut{}, userError(err)
	}
	out := LogsOut{Node: id, Run: f.id(), Offset: in.Offset}
	n := f.st.Node(id)
	earlier := false // an earlier attempt: over, and its file is all there is of it
	if in.Attempt != 0 {
		if path, err = attemptLog(f, n, id, in.Attempt); err != nil {
			return nil, out, userError(err)
		}
		earlier = in.Attempt != n.Attempt
	}
	if n != nil {
		out.Attempt, out.Status = n.Attempt, string(n.Status)
		out.Finished = n.Status.Terminal() && !f.last.Unfinished[id]
		if earlier {
			out.Attempt, out.Finished = in.Attempt, true
		} else if n.Status == surface.Skipped {
			return nil, out, fmt.Errorf("%s was skipped (%s): it never ran, so it has no log", id, n.Reason)
		}
	}
	limit := in.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	var data []byte
	switch {
	case in.Tail > 0 && earlier:
		data, out.Offset, err = fileTail(f.root, id, path, min(in.Tail, maxTail))
		out.EOF = true
	case in.Tail > 0:
		data, out.Offset, err = f.tail(ctx, id, path, min(in.Tail, maxTail))
		out.EOF = true
	case earlier:
		data, out.EOF, err = fileRead(f.root, id, path, in.Offset, min(limit, maxLimit))
	default:
		data, out.EOF, err = f.read(ctx, id, path, in.Offset, min(limit, maxLimit))
	}
	if err != nil {
		return nil, out, err
	}
	if !out.EOF {
		data = wholeRunes(data)
	}
	out.NextOffset = out.Offset + int64(len(data))
	return text(logText(data, in.KeepANSI)), out, nil
}

// attemptLog returns where attempt k of node n (id) of f's run is kept,
// as `odu logs --attempt` finds it ([runstate.AttemptLog]): an attempt
// the node never had, or one that left no file, is an error that says
// which there are.
func attemptLog(f *found, n *surface.Node, id string, k int) (string, error) {
	if n == nil || n.Log == "" {
		return "", &hinted{msg: fmt.Sprintf("attempt %d: %s has no attempts, only its log", k, id), hint: "Leave out attempt."}
	}
	if k > n.Attempt {
		had := fmt.Sprintf("%d attempts", n.Attempt)
		if n.Attempt == 1 {
			had = "1 attempt"
		}
		return "", &hinted{msg: fmt.Sprintf("attempt %d: %s of %s has had %s", k, id, f.id(), had),
			hint: fmt.Sprintf("Give an attempt from 1 to %d.", n.Attempt)}
	}
	rel := runstate.AttemptLog(n.Log, n.Attempt, k)
	if _, err := os.Lstat(filepath.Join(f.root, rel)); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("attempt %d of %s left no log (%s): it never ran, or its run is older than odu's history of attempts", k, id, rel)
	}
	return rel, nil
}

// logText is a log's bytes as text: valid UTF-8, without ANSI escapes
// unless keep.
func logText(data []byte, keep bool) string {
	s := strings.ToValidUTF8(string(data), "\uFFFD")
	if !keep {
		s = ansi.Strip(s)
	}
	return s
}

// wholeRunes drops a character cut short at the end of data: the next
// read starts with it.
func wholeRunes(data []byte) []byte {
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				return data[:i]
			}
			break
		}
	}
	return data
}

// read returns up to limit bytes of a log from offset, and whether they
// reach its end. A live run's log comes over its surface; a finished
// run's from its file.
func (f *found) read(ctx context.Context, id, path string, offset int64, limit int) ([]byte, bool, error) {
	if f.live() {
		return liveRead(ctx, f.cl, id, offset, limit)
	}
	return fileRead(f.root, id, path, offset, limit)
}

func liveRead(ctx context.Context, cl *surface.Client, id string, from int64, limit int) ([]byte, bool, error) {
	ls, err := cl.Log(surface.NodeLogParams{ID: id, From: from, NoFollow: true})
	if err != nil {
		return nil, false, fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer ls.Close()
	var buf bytes.Buffer
	for buf.Len() < limit {
		c, err := ls.Next(ctx)
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read the log of %s: %w", id, err)
		}
		buf.Write(c.Data)
		c.Release()
	}
	data := buf.Bytes()[:limit]
	return data, false, nil
}

func fileRead(root, id, path string, from int64, limit int) ([]byte, bool, error) {
	fd, err := runstate.OpenState(filepath.Join(root, path), os.O_RDONLY)
	if err != nil {
		return nil, false, fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("read the log of %s: %w", id, err)
	}
	if from > fi.Size() {
		// As a live run's log answers (the surface's node.log).
		return nil, false, fmt.Errorf("read the log of %s: from %d is past the end of the log (%d bytes)", id, from, fi.Size())
	}
	if from == fi.Size() {
		return nil, true, nil
	}
	data := make([]byte, min(int64(limit), fi.Size()-from))
	n, err := fd.ReadAt(data, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("read the log of %s: %w", id, err)
	}
	return data[:n], from+int64(n) >= fi.Size(), nil
}

// tail returns the last lines of a log, and the offset they start at.
func (f *found) tail(ctx context.Context, id, path string, lines int) ([]byte, int64, error) {
	if !f.live() {
		return fileTail(f.root, id, path, lines)
	}
	// Read to the end, keeping the last window: a running node's size is
	// not known until it finishes.
	from := int64(0)
	if n := f.st.Node(id); n != nil && n.Status.Terminal() {
		from = max(0, n.LogSize-tailWindow)
	}
	ls, err := f.cl.Log(surface.NodeLogParams{ID: id, From: from, NoFollow: true})
	if err != nil {
		return nil, 0, fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer ls.Close()
	var data []byte
	start := from
	for {
		c, err := ls.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read the log of %s: %w", id, err)
		}
		data = append(data, c.Data...)
		c.Release()
		if cut := len(data) - tailWindow; cut > 0 {
			data = append(data[:0:0], data[cut:]...)
			start += int64(cut)
		}
	}
	cut := lastLines(data, lines)
	return data[cut:], start + int64(cut), nil
}

// fileTail returns the last lines of a log's file, and the offset they
// start at.
func fileTail(root, id, path string, lines int) ([]byte, int64, error) {
	fd, err := runstate.OpenState(filepath.Join(root, path), os.O_RDONLY)
	if err != nil {
		return nil, 0, fmt.Errorf("read the log of %s: %w", id, err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("read the log of %s: %w", id, err)
	}
	start := max(0, fi.Size()-tailWindow)
	data := make([]byte, fi.Size()-start)
	n, err := fd.ReadAt(data, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("read the log of %s: %w", id, err)
	}
	data = data[:n]
	cut := lastLines(data, lines)
	return data[cut:], start + int64(cut), nil
}

// lastLines returns where the last n lines of data start (a last line
// without its newline counts).
func lastLines(data []byte, n int) int {
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			n--
			if n == 0 {
				return i + 1
			}
		}
	}
	return 0
}
