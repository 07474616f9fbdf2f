package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/odu-ci/odu/surface"
)

// A lane whose link dropped is worth a line of progress: that it is
// reconnecting (its nodes run on meanwhile), and that it is back; so is
// a lane waiting in line for a slot of its pool (queued, and who holds
// the slots, again when that changes), and the end of the wait; and a
// lane that moves off a host lost for good, and runs again elsewhere. Its
// other phases (connecting, pushing the runner) are in its setup log.

// lanePrinter is a printer that shows a lane reconnecting.
type lanePrinter interface{ lane(l surface.Lane) }

// showLane shows a lane's change of phase when it is news: reconnecting
// or queued, or the end of it.
func showLane(p printer, phases map[string]surface.Phase, l surface.Lane) {
	prev := phases[l.Platform]
	phases[l.Platform] = l.Phase
	news := func(ph surface.Phase) bool {
		return ph == surface.PhaseReconnecting || ph == surface.PhaseQueued || ph == surface.PhaseMoving
	}
	if (prev == l.Phase && l.Phase != surface.PhaseQueued) || (!news(l.Phase) && !news(prev)) {
		return
	}
	if lp, ok := p.(lanePrinter); ok {
		lp.lane(l)
	}
}

// laneTransition is the JSON line of a lane's change of phase.
type laneTransition struct {
	Time  time.Time     `json:"time"`
	Lane  string        `json:"lane"`
	Host  string        `json:"host"`
	Phase surface.Phase `json:"phase"`
	Error string        `json:"error,omitempty"`
	Moved string        `json:"moved,omitempty"`
}

func (p jsonPrinter) lane(l surface.Lane) {
	data, _ := json.Marshal(laneTransition{Time: time.Now().UTC(), Lane: l.Platform, Host: l.Host, Phase: l.Phase, Error: l.Error, Moved: l.Moved})
	fmt.Fprintf(p.w, "%s\n", data)
}

func (p *plainPrinter) lane(l surface.Lane) {
	what := "lane " + l.Platform + " on " + l.Host + " " + string(l.Phase)
	if l.Error != "" {
		what += " (" + l.Error + ")"
	} else if l.Moved != "" {
		what += " (" + l.Moved + ")"
	}
	fmt.Fprintf(p.w, "%s %s\n", stamp(time.Now()), what)
}
