package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/odu-ci/odu/lanes/runstate"
)

// Options configure a [Server].
type Options struct {
	Root    string // the checkout's root
	Version string // odu's version, said at hello
	Token   string // what every request must carry
}

// Server is odu web's HTTP handler.
type Server struct {
	opt  Options
	mux  *http.ServeMux
	port string
	// names are the host names, besides IP literals and localhost, that
	// the Host header may carry: the one --addr gave.
	names map[string]bool
}

// cookie is the name of the cookie that carries the token, per port:
// browsers share cookies between ports of one host.
func (s *Server) cookie() string { return "odu_token_" + s.port }

// New returns a server for the checkout at opt.Root, served at addr (as
// listened on: its port is what Host must name).
func New(opt Options, addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %s: %w", addr, err)
	}
	s := &Server{opt: opt, port: port, names: map[string]bool{"localhost": true}}
	if _, err := netip.ParseAddr(host); err != nil && host != "" {
		s.names[strings.ToLower(host)] = true
	}
	s.routes()
	return s, nil
}

// Security headers of every answer. The page's script and styles are its
// own files; log lines carry 24-bit colours as style attributes
// (termlog's HTML), which style-src-attr lets through: an attribute can
// colour text, never run script.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if why := s.refuse(r); why != "" {
		http.Error(w, "odu web: forbidden: "+why, http.StatusForbidden)
		return
	}
	// A first visit brings the token in the URL: it becomes a cookie, and
	// the page is loaded again without it, so that it stays out of the
	// history and of every Referer.
	if r.URL.Path == "/" && r.URL.Query().Has("token") {
		http.SetCookie(w, &http.Cookie{Name: s.cookie(), Value: s.opt.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// refuse says why a request is refused, or "".
func (s *Server) refuse(r *http.Request) string {
	if !s.hostOK(r.Host) {
		return "the Host header does not name this server"
	}
	if !s.tokenOK(r) {
		return "no valid token: open the URL odu web printed"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if !s.sameOrigin(r.Header.Get("Origin"), r.Host) {
			return "a change must come from this server's own page"
		}
	}
	return ""
}

// hostOK checks the Host header against DNS rebinding: a page of another
// site that resolves its name to this address says its own name there.
// An IP literal or localhost, at the port served, cannot be such a name.
func (s *Server) hostOK(hostport string) bool {
	host, port, ok := s.splitHost(hostport)
	if !ok || port != s.port {
		return false
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return s.names[strings.ToLower(host)]
}

// splitHost splits a Host header: a browser leaves out port 80, which
// is this server's port then.
func (s *Server) splitHost(hostport string) (host, port string, ok bool) {
	host, port, err := net.SplitHostPort(hostport)
	if err == nil {
		return host, port, true
	}
	if s.port == "80" && hostport != "" {
		return hostport, "80", true
	}
	return "", "", false
}

// sameOrigin says whether origin (a request's Origin header) is this
// server's page at host (its Host header, checked by hostOK): the same
// name and port, port 80 written or not.
func (s *Server) sameOrigin(origin, host string) bool {
	rest, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		return false
	}
	oh, op, ok1 := s.splitHost(rest)
	hh, hp, ok2 := s.splitHost(host)
	return ok1 && ok2 && op == hp && strings.EqualFold(oh, hh)
}

func (s *Server) tokenOK(r *http.Request) bool {
	got := r.URL.Query().Get("token")
	if got == "" {
		if c, err := r.Cookie(s.cookie()); err == nil {
			got = c.Value
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.opt.Token)) == 1
}

// Token returns the checkout's token for odu web, kept in .ci/odu.web.token
// (0600, the user's alone) so that a page stays authorised when odu web
// restarts; the first call makes it.
func Token(root string) (string, error) {
	if err := runstate.MkdirState(root, runstate.StateDir); err != nil {
		return "", err
	}
	path := filepath.Join(root, runstate.StateDir, "odu.web.token")
	if f, err := runstate.OpenState(path, os.O_RDONLY); err == nil {
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, 256))
		if tok := strings.TrimSpace(string(data)); err == nil && len(tok) >= 32 {
			return tok, nil
		}
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	f, err := runstate.OpenState(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return "", fmt.Errorf("keep odu web's token: %w", err)
	}
	_, werr := f.WriteString(tok + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("keep odu web's token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("keep odu web's token: %w", err)
	}
	return tok, nil
}

// Loopback reports whether addr (host:port) listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// URL is the address a user opens: the server's, with the token. A
// server on every address (0.0.0.0, ::) is named by loopback's.
func URL(ln net.Listener, token string) string {
	addr := ln.Addr().String()
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return "http://" + addr + "/?token=" + token
}

// Serve serves s on ln until ctx is done; the streams it serves end with
// ctx, and it waits for them a few seconds at most.
func Serve(ctx context.Context, ln net.Listener, s *Server) error {
	hs := &http.Server{
		Handler:           s,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The streams' handlers end with ctx. A connection that never sent a
	// request (a browser's preconnect) is idle to Shutdown only once it
	// is 5 s old: what is left after a second is closed, and a page
	// reconnects and resumes by offset all the same.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = hs.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
