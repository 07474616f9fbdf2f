package web

import (
	"fmt"
	"image/color"
	"net/http"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/odu-ci/odu/internal/look"
	"github.com/odu-ci/odu/surface"
)

// lookMsg is how the page draws statuses: the dashboard's glyphs, in its
// order.
type lookMsg struct {
	Glyphs map[surface.Status]string `json:"glyphs"`
	Order  []surface.Status          `json:"order"`
}

func (s *Server) look(w http.ResponseWriter, _ *http.Request) {
	m := lookMsg{Glyphs: map[surface.Status]string{}, Order: look.Order}
	for _, st := range look.Order {
		m.Glyphs[st] = look.Glyph(st)
	}
	writeJSON(w, m)
}

// ansiIndex returns the ANSI colour a status has on the dashboard.
func ansiIndex(c color.Color) (int, bool) {
	if b, ok := c.(ansi.BasicColor); ok {
		return int(b), true
	}
	return 0, false
}

// xterm's 16 colours, as the page shows them on its dark background.
var basic = [16]string{
	"#2e3436", "#ef5350", "#8ae234", "#fce94f", "#729fcf", "#ad7fa8", "#34e2e2", "#d3d7cf",
	"#8a8f98", "#ff6e67", "#a6f06a", "#fff27a", "#94c0ff", "#e1a6dc", "#7af5f5", "#eeeeec",
}

// paletteCSS is the style sheet of the terminal's colours, the classes
// termlog's HTML uses (term-fg31, term-bg42, term-fgx208…), and of the
// statuses, from the dashboard's colours.
func paletteCSS() string {
	var b strings.Builder
	for i, c := range basic {
		fg, bg := 30+i, 40+i
		if i >= 8 {
			fg, bg = 90+i-8, 100+i-8
		}
		fmt.Fprintf(&b, ".term-fg%d{color:%s}.term-bg%d{background-color:%s}\n", fg, c, bg, c)
		fmt.Fprintf(&b, ".term-fgx%d{color:%s}.term-bgx%d{background-color:%s}\n", i, c, i, c)
	}
	steps := [6]int{0, 95, 135, 175, 215, 255}
	for i := 16; i < 232; i++ {
		n := i - 16
		c := fmt.Sprintf("#%02x%02x%02x", steps[n/36], steps[n/6%6], steps[n%6])
		fmt.Fprintf(&b, ".term-fgx%d{color:%s}.term-bgx%d{background-color:%s}\n", i, c, i, c)
	}
	for i := 232; i < 256; i++ {
		v := 8 + (i-232)*10
		fmt.Fprintf(&b, ".term-fgx%d{color:#%02x%02x%02x}.term-bgx%d{background-color:#%02x%02x%02x}\n", i, v, v, v, i, v, v, v)
	}
	p := look.New(true)
	for _, st := range look.Order {
		if i, ok := ansiIndex(p.Status(st).GetForeground()); ok && i < 16 {
			fmt.Fprintf(&b, ".st-%s{color:%s}\n", st, basic[i])
		}
	}
	return b.String()
}
