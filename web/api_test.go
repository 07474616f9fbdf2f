package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestActionRefusals: a change the page did not send as it does (no run
// named, a node the run has not, a body that is not JSON) is refused
// with what is wrong, while a run is live; it changes nothing.
func TestActionRefusals(t *testing.T) {
	c := newCheckout(t, "[metadata(\"ci\")]\nci:\n    "+gate("go")+"\n")
	s := serve(t, c.dir, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := c.start(ctx, t)
	post := func(path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "POST", s.base+path+"?token="+s.token, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", s.base)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, tc := range []struct {
		path, body string
		code       int
		says       string
	}{
		{"/api/cancel", `{}`, 400, "name the run: ref"},
		{"/api/rerun", `{"node":"ci@x86_64-linux"}`, 400, "name the run: ref"},
		{"/api/cancel", `{"ref":"0000000#9"}`, 409, "run 0000000#9 is over"},
		{"/api/rerun", `{"ref":"live","node":"nope"}`, 404, `the run has no node "nope"`},
		{"/api/cancel", `not json`, 400, "bad request"},
	} {
		code, msg := post(tc.path, tc.body)
		if code != tc.code || !strings.Contains(msg, tc.says) {
			t.Errorf("POST %s %s = %d %q, want %d saying %q", tc.path, tc.body, code, msg, tc.code, tc.says)
		}
	}
	c.open(t, "go")
	r.wait(t, 30*time.Second)
	if r.err != nil || !strings.Contains(r.output(), "ci@x86_64-linux success") {
		t.Errorf("the run, after the refused changes: %v\n%s\nwant ci to succeed", r.err, r.output())
	}
}
