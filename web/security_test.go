package web

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusals: nobody without the token reads or acts, a rebinding
// Host is refused, a cross-origin change is refused, and what is served
// carries a strict Content-Security-Policy.
func TestRefusals(t *testing.T) {
	c := newCheckout(t, "[metadata(\"ci\")]\nci:\n    echo hi\n")
	s := serve(t, c.dir, "127.0.0.1:0")
	port := s.base[strings.LastIndexByte(s.base, ':')+1:]
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookie := &http.Cookie{Name: "odu_token_" + port, Value: s.token}

	do := func(method, path string, edit func(*http.Request)) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, s.base+path, strings.NewReader(`{"ref":"live","node":"ci@x"}`))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(req)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	withCookie := func(r *http.Request) { r.AddCookie(cookie) }
	for _, tc := range []struct {
		name, method, path string
		edit               func(*http.Request)
		want               int
	}{
		{"page without token", "GET", "/", nil, 403},
		{"script without token", "GET", "/app.js", nil, 403},
		{"board without token", "GET", "/api/board", nil, 403},
		{"log without token", "GET", "/api/log?ref=live&node=ci", nil, 403},
		{"wrong token", "GET", "/?token=" + strings.Repeat("0", len(s.token)), nil, 403},
		{"wrong cookie", "GET", "/", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookie.Name, Value: "x" + s.token}) }, 403},
		{"token in the URL", "GET", "/?token=" + s.token, nil, 303},
		{"cookie", "GET", "/", withCookie, 200},
		{"rebinding Host", "GET", "/", func(r *http.Request) { withCookie(r); r.Host = "attacker.example:" + port }, 403},
		{"rebinding Host with the token", "GET", "/?token=" + s.token, func(r *http.Request) { r.Host = "attacker.example:" + port }, 403},
		{"Host of another port", "GET", "/", func(r *http.Request) { withCookie(r); r.Host = "127.0.0.1:1" }, 403},
		{"localhost", "GET", "/", func(r *http.Request) { withCookie(r); r.Host = "localhost:" + port }, 200},
		{"POST from another origin", "POST", "/api/cancel", func(r *http.Request) { withCookie(r); r.Header.Set("Origin", "http://attacker.example") }, 403},
		{"POST without an origin", "POST", "/api/rerun", withCookie, 403},
		{"POST without the token", "POST", "/api/cancel", func(r *http.Request) { r.Header.Set("Origin", s.base) }, 403},
		// No run is live: the change is refused, but not as forbidden.
		{"POST from the page", "POST", "/api/cancel", func(r *http.Request) { withCookie(r); r.Header.Set("Origin", s.base) }, 409},
	} {
		resp := do(tc.method, tc.path, tc.edit)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s = %d, want %d", tc.name, tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: Content-Security-Policy = %q, want default-src 'none' and script-src 'self'", tc.name, csp)
		}
		if tc.want == 303 {
			var got *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == cookie.Name {
					got = c
				}
			}
			if got == nil || got.Value != s.token || !got.HttpOnly || got.SameSite != http.SameSiteStrictMode {
				t.Errorf("%s: cookie %+v, want the token, HttpOnly, SameSite=Strict", tc.name, got)
			}
			if loc := resp.Header.Get("Location"); loc != "/" {
				t.Errorf("%s: Location %q, want / (the token out of the URL)", tc.name, loc)
			}
		}
	}
	fi, err := os.Stat(filepath.Join(c.dir, ".ci", "odu.web.token"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestHostDefaultPort: served on port 80, a browser's Host (and Origin)
// leave the port out; the page answers, and a foreign name is still
// refused.
func TestHostDefaultPort(t *testing.T) {
	tok := strings.Repeat("ab", 24)
	s, err := New(Options{Root: t.TempDir(), Token: tok}, "127.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, host, origin string
		want                 int
	}{
		{"GET", "127.0.0.1", "", 303},    // the token in the URL becomes a cookie
		{"GET", "127.0.0.1:80", "", 303}, // the token in the URL becomes a cookie
		{"GET", "localhost", "", 303},    // the token in the URL becomes a cookie
		{"GET", "attacker.example", "", 403},
		{"GET", "127.0.0.1:8080", "", 403},
		// A change from the page: its origin leaves the port out too. No
		// run is live in the empty root: refused, but not as forbidden.
		{"POST", "127.0.0.1", "http://127.0.0.1", 409},
		{"POST", "127.0.0.1:80", "http://127.0.0.1", 409},
		{"POST", "127.0.0.1", "http://attacker.example", 403},
	} {
		req := httptest.NewRequest(tc.method, "http://"+tc.host+"/?token="+tok, strings.NewReader(`{"ref":"live"}`))
		if tc.method == "POST" {
			req = httptest.NewRequest(tc.method, "http://"+tc.host+"/api/cancel?token="+tok, strings.NewReader(`{"ref":"live"}`))
		}
		req.Host = tc.host
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s with Host %q, Origin %q = %d %s, want %d", tc.method, tc.host, tc.origin, rec.Code, strings.TrimSpace(rec.Body.String()), tc.want)
		}
	}
}
