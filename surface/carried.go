package surface

// FinishedLog is a log that an earlier run wrote and finished, at path,
// as a run that carries its node over serves it: attempt's size bytes,
// complete. Nothing writes it; the file is read as it is, never emptied.
func FinishedLog(path string, attempt int, size int64) *Log {
	if attempt < 1 {
		attempt = 1
	}
	return &Log{path: path, attempt: attempt, size: size, finished: true, view: true, changed: make(chan struct{})}
}
