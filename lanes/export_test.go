package lanes

import "time"

// MarkSlow marks the nodes overdue at now, as the coordinator does every
// second with the clock's time: for tests, which cannot wait a minute.
func (c *Coordinator) MarkSlow(now time.Time) { c.markSlow(now) }
