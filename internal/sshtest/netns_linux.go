package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A server with Options.NetNS listens inside a network namespace of its
// own, reached from the test's namespace through a veth pair:
//
//	test process (host side: odh<n>, 10.213.<n>.1/30) ── veth ── netns odu-sshtest-<pid>-net<n> (odn<n>, 10.213.<n>.2/30)
//
// Only the listening socket lives in the namespace (it is made by a
// thread that enters it, and that thread is thrown away), so connections
// reach sshd only through the veth, and [Server.LinkDown] cuts them at the
// network level: the namespace side of the veth goes down (taking down
// the host side would reroute the traffic instead), packets are dropped,
// nobody is told. Only addresses of the namespace the harness made are
// used; [Server.Stop] deletes the namespace, and with it the veth pair.

var netnsSeq atomic.Int32

// netns is a server's network namespace.
type netns struct {
	name     string
	hostIf   string
	nsIf     string
	hostAddr string // the test's end
	addr     string // the server's end
}

// newNetns makes a namespace and a veth pair into it, with a /30 of
// 10.213.0.0/16 that no interface of the test's namespace uses yet.
func newNetns() (*netns, error) {
	n := int(netnsSeq.Add(1))
	used, _ := exec.Command("ip", "-4", "-o", "addr").Output()
	sub := -1
	for i := 0; i < 256; i++ {
		c := (os.Getpid() + n*37 + i) % 256
		if !strings.Contains(string(used), " 10.213."+strconv.Itoa(c)+".") {
			sub = c
			break
		}
	}
	if sub < 0 {
		return nil, fmt.Errorf("no free subnet in 10.213.0.0/16")
	}
	id := strconv.Itoa(os.Getpid()%100000) + "x" + strconv.Itoa(n)
	ns := &netns{
		name:     prefix + "net" + strconv.Itoa(n),
		hostIf:   "odh" + id,
		nsIf:     "odn" + id,
		hostAddr: fmt.Sprintf("10.213.%d.1", sub),
		addr:     fmt.Sprintf("10.213.%d.2", sub),
	}
	steps := [][]string{
		{"netns", "add", ns.name},
		{"link", "add", ns.hostIf, "type", "veth", "peer", "name", ns.nsIf, "netns", ns.name},
		{"addr", "add", ns.hostAddr + "/30", "dev", ns.hostIf},
		{"link", "set", ns.hostIf, "up"},
		{"-n", ns.name, "addr", "add", ns.addr + "/30", "dev", ns.nsIf},
		{"-n", ns.name, "link", "set", ns.nsIf, "up"},
		{"-n", ns.name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			_ = ns.remove() // best effort: the setup error is the news
			return nil, fmt.Errorf("make a network namespace (needs root and iproute2): %w", err)
		}
	}
	return ns, nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// listen opens a TCP listener on the namespace's address, inside it.
func (ns *netns) listen() (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		// This thread enters the namespace and is never used again: a
		// goroutine that ends locked to its thread takes the thread with
		// it, so no other goroutine ever runs in the namespace.
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns.name)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("enter %s: %w", ns.name, err)}
			return
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ns.addr, "0"))
		done <- result{ln, err}
	}()
	r := <-done
	return r.ln, r.err
}

// setLink takes the namespace side of the veth up or down.
func (ns *netns) setLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip("-n", ns.name, "link", "set", ns.nsIf, state)
}

// remove deletes the namespace; its end of the veth goes with it, and
// the other end with its peer.
func (ns *netns) remove() error {
	err := ip("netns", "del", ns.name)
	// The host side goes with its peer; should it not, remove it.
	_ = exec.Command("ip", "link", "del", ns.hostIf).Run()
	return err
}

// sweepNetns deletes the namespaces left by test processes that are gone.
func sweepNetns() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && orphaned(f[0]) {
			_ = ip("netns", "del", f[0]) // best effort: the next sweep tries again
		}
	}
}
