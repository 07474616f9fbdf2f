package web

import (
	"embed"
	"net/http"
	"strings"
	"sync"
)

//go:embed assets
var assets embed.FS

var (
	cssOnce sync.Once
	css     []byte
)

func (s *Server) asset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		data, err := assets.ReadFile("assets/" + name)
		if err != nil {
			http.Error(w, "no such file", http.StatusNotFound)
			return
		}
		switch {
		case strings.HasSuffix(name, ".css"):
			cssOnce.Do(func() { css = append(append([]byte(paletteCSS()), '\n'), data...) })
			data = css
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
		case strings.HasSuffix(name, ".js"):
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		_, _ = w.Write(data)
	}
}
