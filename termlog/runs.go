package termlog

import "encoding/binary"

// A kept line's style runs are packed into a string, since a coloured
// log has a few runs a word and a pane keeps ten thousand lines: a run
// is the distance from the previous one's offset (a uvarint), a byte
// saying what kind each colour is, the attributes, and each colour's
// value in as few bytes as its kind needs (none for the default, one
// for an indexed colour, three for a 24-bit one). Four bytes for a
// typical run, where a struct takes sixteen.

// colour kinds in a packed run's kind byte: foreground in bits 0–1,
// background in bits 2–3.
const (
	kindDefault = iota
	kindIndexed
	kindRGB
)

func colourKind(c Color) byte {
	switch {
	case c == DefaultColor:
		return kindDefault
	case c&^0xff == colorIndexed:
		return kindIndexed
	default:
		return kindRGB
	}
}

func appendColour(b []byte, c Color) []byte {
	switch colourKind(c) {
	case kindIndexed:
		return append(b, byte(c))
	case kindRGB:
		return append(b, byte(c>>16), byte(c>>8), byte(c))
	}
	return b
}

// packRuns returns runs packed, appended to buf (which it may reuse).
func packRuns(buf []byte, rs []run) []byte {
	prev := int32(0)
	for _, r := range rs {
		buf = binary.AppendUvarint(buf, uint64(r.at-prev))
		prev = r.at
		buf = append(buf, colourKind(r.st.FG)|colourKind(r.st.BG)<<2, byte(r.st.Attr))
		buf = appendColour(buf, r.st.FG)
		buf = appendColour(buf, r.st.BG)
	}
	return buf
}

// readColour reads a colour of kind k from p.
func readColour(p string, k byte) (Color, string) {
	switch k {
	case kindIndexed:
		return colorIndexed | Color(p[0]), p[1:]
	case kindRGB:
		return colorRGB | Color(p[0])<<16 | Color(p[1])<<8 | Color(p[2]), p[3:]
	}
	return DefaultColor, p
}

// unpackRuns appends the runs packed in p to rs.
func unpackRuns(rs []run, p string) []run {
	at := int32(0)
	for len(p) > 0 {
		d, n := uvarint(p)
		at += int32(d)
		kind, attr := p[n], Attr(p[n+1])
		p = p[n+2:]
		var fg, bg Color
		fg, p = readColour(p, kind&3)
		bg, p = readColour(p, kind>>2&3)
		rs = append(rs, run{at, Style{FG: fg, BG: bg, Attr: attr}})
	}
	return rs
}

// uvarint reads a uvarint written by binary.AppendUvarint from s.
func uvarint(s string) (uint64, int) {
	var x uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<(7*i), i + 1
		}
		x |= uint64(c&0x7f) << (7 * i)
	}
	return x, len(s)
}
