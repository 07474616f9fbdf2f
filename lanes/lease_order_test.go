package lanes

import (
	"slices"
	"testing"
	"time"

	"github.com/odu-ci/odu/runner/hostside"
)

func TestLeaseOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	// host makes a candidate: its slots held (true) or free (false), and
	// when a slot of it was last leased (minutes after t0; -1 for never).
	host := func(addr string, order, used int, held ...bool) *candidate {
		cd := &candidate{addr: addr, order: order, slots: len(held)}
		for i, h := range held {
			s := hostside.Slot{N: i + 1, Held: h}
			if used >= 0 && i == 0 {
				s.Used = t0.Add(time.Duration(used) * time.Minute)
			}
			cd.info.Slots = append(cd.info.Slots, s)
		}
		return cd
	}
	warmed := func(cd *candidate) *candidate { cd.warm = true; return cd }
	tests := []struct {
		name  string
		cands []*candidate
		warm  bool
		want  []string
	}{{
		name:  "only hosts with a free slot",
		cands: []*candidate{host("a", 0, 1, true), host("b", 1, 2, false), host("c", 2, 3, true, true)},
		want:  []string{"b"},
	}, {
		name:  "every host's first slot before anyone's second",
		cands: []*candidate{host("big", 0, 1, true, false, false, false), host("small", 1, 5, false)},
		want:  []string{"small", "big"},
	}, {
		name:  "then the least recently leased",
		cands: []*candidate{host("a", 0, 9, false), host("b", 1, 3, false), host("c", 2, -1, false)},
		want:  []string{"c", "b", "a"},
	}, {
		name:  "then the pool's order",
		cands: []*candidate{host("a", 0, -1, false), host("b", 1, -1, false)},
		want:  []string{"a", "b"},
	}, {
		name:  "a rerun after the run: the hosts with the commit's workspace first",
		cands: []*candidate{host("a", 0, -1, false), host("b", 1, 5, true, false), warmed(host("c", 2, 9, false))},
		warm:  true,
		want:  []string{"c", "a", "b"},
	}, {
		name:  "not otherwise",
		cands: []*candidate{host("a", 0, -1, false), warmed(host("c", 2, 9, false))},
		want:  []string{"a", "c"},
	}, {
		name:  "a full pool: none",
		cands: []*candidate{host("a", 0, 1, true), host("b", 1, 2, true)},
		want:  nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, cd := range leaseOrder(tt.cands, tt.warm) {
				got = append(got, cd.addr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("leaseOrder = %q, want %q", got, tt.want)
			}
		})
	}
}
