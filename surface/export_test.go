package surface

// SetTestHookDraining sets the hook called when a connection's server
// stops and starts answering its procedures in flight; nil removes it.
func SetTestHookDraining(f func()) { testHookDraining = f }
