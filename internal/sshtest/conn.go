package sshtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// accept starts an sshd -i for every connection until the listener is
// closed.
func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors, or the like: the client that was
			// not accepted retries or fails; the next one may work.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.serve(c.(*net.TCPConn))
	}
}

// serve starts sshd -i on c. Its own copy of the socket is all that
// keeps the connection open, so killing it drops the connection.
func (s *Server) serve(c *net.TCPConn) {
	f, err := c.File()
	c.Close()
	if err != nil {
		s.logf("take connection from %s: %v", c.RemoteAddr(), err)
		return
	}
	defer f.Close()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.refusing {
		return // closing f drops the connection: the host is unreachable
	}
	logFile, err := os.OpenFile(s.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer logFile.Close()
	cmd := exec.Command(sshdPath, "-i", "-f", s.cfg, "-E", s.log)
	cmd.Stdin = f
	cmd.Stdout = f
	cmd.Stderr = logFile // what sshd says before it opens its log
	cmd.SysProcAttr = s.cg.procAttr()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(logFile, "sshtest: start sshd -i: %v\n", err)
		return
	}
	cn := &conn{pid: cmd.Process.Pid, done: make(chan struct{})}
	s.conns[cn.pid] = cn
	s.wg.Go(func() {
		cmd.Wait()
		s.mu.Lock()
		delete(s.conns, cn.pid)
		s.mu.Unlock()
		close(cn.done)
	})
}

// logf adds a line of the harness's own to the server's log.
func (s *Server) logf(format string, args ...any) {
	f, err := os.OpenFile(s.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "sshtest: "+format+"\n", args...)
}

// KillConnections drops every live connection as a cut link would: it
// kills each connection's sshd processes (SIGKILL to the process group of
// its sshd -i) and waits until they are gone. Clients see their connection
// closed; the sessions' processes are not signalled: their stdin ends and
// their next write gets SIGPIPE, as on a real host, and one that does
// neither lives on until [Server.Stop]. It returns how many
// connections it killed.
func (s *Server) KillConnections() int {
	s.mu.Lock()
	var conns []*conn
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	killed := 0
	for _, c := range conns {
		// The group id stays sshd -i's while it or any member lives, and
		// the waiter drops it from s.conns right after reaping it.
		if err := syscall.Kill(-c.pid, syscall.SIGKILL); err == nil {
			killed++
		}
	}
	deadline := time.After(stopWait)
	for _, c := range conns {
		select {
		case <-c.done:
		case <-deadline:
			s.t.Errorf("kill connections to %s: sshd %d did not end within %v", s.Host, c.pid, stopWait)
			return killed
		}
	}
	return killed
}

// Connections reports how many connections are live: accepted, and
// their sshd -i still running.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Refuse makes the server drop every new connection as soon as it is
// accepted (true), as a host that is down or unreachable would, or
// serve them again (false). Live connections are not touched.
func (s *Server) Refuse(refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusing = refuse
}

// Processes describes the processes in the server's cgroup, one per
// line ("PID COMMAND LINE"): everything it started that still runs,
// sessions and what they left behind (detached daemons included). An
// empty list means nothing of the server is left on the host.
func (s *Server) Processes() []string {
	pids, _ := s.cg.pids()
	var out []string
	for _, pid := range pids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %s", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))))
	}
	return out
}

// Lose makes the host lost for good, as one that crashed and stays down:
// the server stops listening (a new connection is refused), and every
// process it started (connections, sessions, what they left running)
// is killed; its files stay, for the test to read what ran there, until
// [Server.Stop] removes them.
func (s *Server) Lose() {
	s.mu.Lock()
	s.stopped, s.lost = true, true
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	if s.cg != nil {
		if err := s.cg.killAll(stopWait); err != nil {
			s.t.Errorf("lose %s: %v", s.Host, err)
		}
	}
	if !waitGroup(&s.wg, stopWait) {
		s.t.Errorf("lose %s: its sshd processes did not end within %v", s.Host, stopWait)
	}
}
