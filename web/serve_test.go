package web

import (
	"net"
	"testing"
)

// TestStopWithAPreconnect: a browser opens connections it sends nothing
// on yet (a preconnect); odu web stopping with one open ends without an
// error (it was "context deadline exceeded": Shutdown waits until such a
// connection is 5 s old, longer than it waited).
func TestStopWithAPreconnect(t *testing.T) {
	c := newCheckout(t, "")
	s := serve(t, c.dir, "127.0.0.1:0")
	conn, err := net.Dial("tcp", s.base[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s.stop() // fails the test with Serve's error
}
