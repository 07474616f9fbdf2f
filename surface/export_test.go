package surface

// SetTestHookDraining sets the hook called when a connection's server
// stops and starts answering its procedures in flight; nil removes it.
func SetTestHookDraining(f func()) { testHookDraining = f }

// FrameBudget is the most a server's connections may hold in frames.
const FrameBudget = frameBudget

// FrameBytes returns the bytes the server's connections hold in frames
// now, and the most they ever held.
func (s *Server) FrameBytes() (held, peak int64) {
	b := s.budget()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held, b.peak
}
