package termlog

import "strconv"

// Color is a cell's foreground or background colour: the default, one of
// the 256 indexed colours (0–7 the basic ones, 8–15 their bright forms),
// or a 24-bit one.
type Color uint32

const (
	colorIndexed = 1 << 24
	colorRGB     = 2 << 24
)

// DefaultColor is the terminal's own colour.
const DefaultColor Color = 0

// Indexed returns indexed colour n (0–255).
func Indexed(n uint8) Color { return colorIndexed | Color(n) }

// RGB returns a 24-bit colour.
func RGB(r, g, b uint8) Color { return colorRGB | Color(r)<<16 | Color(g)<<8 | Color(b) }

// Index returns the colour's index, when it is an indexed one.
func (c Color) Index() (uint8, bool) { return uint8(c), c&^0xff == colorIndexed }

// RGB returns the colour's components, when it is a 24-bit one.
func (c Color) RGB() (r, g, b uint8, ok bool) {
	return uint8(c >> 16), uint8(c >> 8), uint8(c), c&^0xffffff == colorRGB
}

// Attr is a set of text attributes.
type Attr uint8

// The attributes SGR sets.
const (
	Bold Attr = 1 << iota
	Faint
	Italic
	Underline
	Blink
	Reverse
	Strike
)

// Style is how a cell is drawn. The zero Style is the terminal's default.
type Style struct {
	FG, BG Color
	Attr   Attr
}

// sgr applies SGR parameters to s.
func (s *Style) sgr(ps []int) {
	if len(ps) == 0 {
		*s = Style{}
		return
	}
	for i := 0; i < len(ps); i++ {
		switch p := ps[i]; {
		case p == 0:
			*s = Style{}
		case p == 1:
			s.Attr |= Bold
		case p == 2:
			s.Attr |= Faint
		case p == 3:
			s.Attr |= Italic
		case p == 4 || p == 21:
			s.Attr |= Underline
		case p == 5 || p == 6:
			s.Attr |= Blink
		case p == 7:
			s.Attr |= Reverse
		case p == 9:
			s.Attr |= Strike
		case p == 22:
			s.Attr &^= Bold | Faint
		case p == 23:
			s.Attr &^= Italic
		case p == 24:
			s.Attr &^= Underline
		case p == 25:
			s.Attr &^= Blink
		case p == 27:
			s.Attr &^= Reverse
		case p == 29:
			s.Attr &^= Strike
		case p >= 30 && p <= 37:
			s.FG = Indexed(uint8(p - 30))
		case p == 39:
			s.FG = DefaultColor
		case p >= 40 && p <= 47:
			s.BG = Indexed(uint8(p - 40))
		case p == 49:
			s.BG = DefaultColor
		case p >= 90 && p <= 97:
			s.FG = Indexed(uint8(p - 90 + 8))
		case p >= 100 && p <= 107:
			s.BG = Indexed(uint8(p - 100 + 8))
		case p == 38 || p == 48 || p == 58:
			c, n, ok := extColor(ps[i+1:])
			i += n
			switch {
			case !ok:
			case p == 38:
				s.FG = c
			case p == 48:
				s.BG = c
			} // 58, the underline's colour, is read and not kept
		}
	}
}

// extColor reads the arguments of an extended colour (5;n or 2;r;g;b),
// and returns the colour and how many arguments it took.
func extColor(ps []int) (Color, int, bool) {
	switch {
	case len(ps) >= 2 && ps[0] == 5:
		return Indexed(uint8(ps[1])), 2, ps[1] <= 255
	case len(ps) >= 4 && ps[0] == 2:
		return RGB(uint8(ps[1]), uint8(ps[2]), uint8(ps[3])), 4, ps[1] <= 255 && ps[2] <= 255 && ps[3] <= 255
	}
	return 0, len(ps), false // malformed: the rest is its
}

// AppendSGR appends the SGR sequence that sets s from the default state:
// `ESC[0;…m`, or `ESC[0m` for the default style.
func (s Style) AppendSGR(b []byte) []byte {
	b = append(b, "\x1b[0"...)
	for _, a := range [...]struct {
		a Attr
		p string
	}{{Bold, ";1"}, {Faint, ";2"}, {Italic, ";3"}, {Underline, ";4"}, {Blink, ";5"}, {Reverse, ";7"}, {Strike, ";9"}} {
		if s.Attr&a.a != 0 {
			b = append(b, a.p...)
		}
	}
	b = appendColor(b, s.FG, 30)
	b = appendColor(b, s.BG, 40)
	return append(b, 'm')
}

func appendColor(b []byte, c Color, base int) []byte {
	num := func(b []byte, n int) []byte { return strconv.AppendInt(append(b, ';'), int64(n), 10) }
	if n, ok := c.Index(); ok {
		switch {
		case n < 8:
			return num(b, base+int(n))
		case n < 16:
			return num(b, base+60+int(n)-8)
		}
		return num(num(num(b, base+8), 5), int(n))
	}
	if r, g, bl, ok := c.RGB(); ok {
		return num(num(num(num(num(b, base+8), 2), int(r)), int(g)), int(bl))
	}
	return b
}

// appendHTMLAttrs appends the class and style attributes of a span in
// style s, each after a space. Indexed colours and attributes are
// classes (term-fg31, term-fg91, term-fgx208, term-bg41, term-bold…, a
// style sheet gives them colours); 24-bit colours are inline styles.
func (s Style) appendHTMLAttrs(b []byte) []byte {
	b = append(b, ` class="`...)
	n := len(b)
	class := func(b []byte, c string) []byte {
		if len(b) > n {
			b = append(b, ' ')
		}
		return append(b, c...)
	}
	for _, a := range [...]struct {
		a Attr
		c string
	}{{Bold, "term-bold"}, {Faint, "term-faint"}, {Italic, "term-italic"}, {Underline, "term-underline"}, {Blink, "term-blink"}, {Reverse, "term-reverse"}, {Strike, "term-strike"}} {
		if s.Attr&a.a != 0 {
			b = class(b, a.c)
		}
	}
	for _, c := range [...]struct {
		c    Color
		name string
		base int
	}{{s.FG, "term-fg", 30}, {s.BG, "term-bg", 40}} {
		if i, ok := c.c.Index(); ok {
			b = class(b, c.name)
			switch {
			case i < 8:
				b = strconv.AppendInt(b, int64(c.base+int(i)), 10)
			case i < 16:
				b = strconv.AppendInt(b, int64(c.base+60+int(i)-8), 10)
			default:
				b = strconv.AppendInt(append(b, 'x'), int64(i), 10)
			}
		}
	}
	if len(b) == n {
		b = b[:n-len(` class="`)]
	} else {
		b = append(b, '"')
	}
	var css []byte
	for _, c := range [...]struct {
		c    Color
		prop string
	}{{s.FG, "color"}, {s.BG, "background-color"}} {
		if r, g, bl, ok := c.c.RGB(); ok {
			css = append(css, c.prop...)
			css = append(css, ":#"...)
			for _, v := range [...]uint8{r, g, bl} {
				css = append(css, "0123456789abcdef"[v>>4], "0123456789abcdef"[v&15])
			}
			css = append(css, ';')
		}
	}
	if len(css) > 0 {
		b = append(b, ` style="`...)
		b = append(b, css...)
		b = append(b, '"')
	}
	return b
}
