package analytics

import (
	"sort"
	"sync"
	"time"
)

// DefaultHistoryCap is the per-key sample cap of a zero History: 20 minutes
// of samples at 10 per second, well above a co-modulation window.
const DefaultHistoryCap = 12000

// History is a bounded, time-ordered buffer of samples per key (for
// example AU intensity per face, "au:face0.au12"), safe for concurrent use.
// The zero value is ready with DefaultHistoryCap.
type History struct {
	mu        sync.Mutex
	maxPerKey int
	m         map[string][]Sample
}

// NewHistory returns a History keeping at most capPerKey samples per key
// (the newest); capPerKey <= 0 means DefaultHistoryCap.
func NewHistory(capPerKey int) *History {
	return &History{maxPerKey: capPerKey}
}

func (h *History) limit() int {
	if h.maxPerKey <= 0 {
		return DefaultHistoryCap
	}
	return h.maxPerKey
}

// Add inserts samples under key, keeping the key's samples ordered by time
// (equal times keep insertion order) and dropping the oldest beyond the cap.
func (h *History) Add(key string, samples ...Sample) {
	if len(samples) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string][]Sample{}
	}
	s := h.m[key]
	for _, p := range samples {
		// Samples mostly arrive in order: append, else insert after the
		// last sample not later than p.
		i := len(s)
		if i > 0 && p.T.Before(s[i-1].T) {
			i = sort.Search(len(s), func(j int) bool { return s[j].T.After(p.T) })
		}
		s = append(s, Sample{})
		copy(s[i+1:], s[i:])
		s[i] = p
	}
	if over := len(s) - h.limit(); over > 0 {
		s = append(s[:0:0], s[over:]...)
	}
	h.m[key] = s
}

// Range returns a copy of key's samples with from < T <= to, oldest first
// (the same half-open window as Physiology and CoModulate).
func (h *History) Range(key string, from, to time.Time) []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[key]
	lo := sort.Search(len(s), func(i int) bool { return s[i].T.After(from) })
	hi := sort.Search(len(s), func(i int) bool { return s[i].T.After(to) })
	if lo >= hi {
		return nil
	}
	return append([]Sample(nil), s[lo:hi]...)
}

// Prune drops all samples with T before the given time, and keys left empty.
func (h *History) Prune(before time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, s := range h.m {
		i := sort.Search(len(s), func(i int) bool { return !s[i].T.Before(before) })
		switch {
		case i == len(s):
			delete(h.m, k)
		case i > 0:
			h.m[k] = append(s[:0:0], s[i:]...)
		}
	}
}

// Keys returns the keys holding samples, sorted.
func (h *History) Keys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.m))
	for k := range h.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Len returns the number of samples held under key.
func (h *History) Len(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m[key])
}
