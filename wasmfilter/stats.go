package wasmfilter

import (
	"sync"
	"sync/atomic"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Stats count a rule's evaluations since it was loaded.
type Stats struct {
	Allow, Deny, Abstain uint64
	// Errors counts failed evaluations by class.
	Errors map[Class]uint64
	// Discarded counts instances thrown away after a failure.
	Discarded uint64
	// LogDropped counts log writes cut by the log limit.
	LogDropped uint64
	// Instances is the current number of instances.
	Instances int
}

type stats struct {
	allow, deny, abstain, discarded, logDropped atomic.Uint64
	mu                                          sync.Mutex
	errors                                      map[Class]uint64
}

func (s *stats) count(e pipeline.Effect) {
	switch e {
	case pipeline.Allow:
		s.allow.Add(1)
	case pipeline.Deny:
		s.deny.Add(1)
	default:
		s.abstain.Add(1)
	}
}

func (s *stats) failed(c Class) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errors == nil {
		s.errors = make(map[Class]uint64)
	}
	s.errors[c]++
}

// Stats returns a snapshot of the rule's counters.
func (r *Rule) Stats() Stats {
	s := Stats{
		Allow:      r.stats.allow.Load(),
		Deny:       r.stats.deny.Load(),
		Abstain:    r.stats.abstain.Load(),
		Discarded:  r.stats.discarded.Load(),
		LogDropped: r.stats.logDropped.Load(),
		Errors:     map[Class]uint64{},
	}
	r.stats.mu.Lock()
	for c, n := range r.stats.errors {
		s.Errors[c] = n
	}
	r.stats.mu.Unlock()
	if r.pool != nil {
		s.Instances = r.pool.size()
	}
	return s
}
