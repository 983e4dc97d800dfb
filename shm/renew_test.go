package shm

import (
	"errors"
	"testing"
	"time"
)

// A lease kept for a restarted consumer gets a fresh deadline; only a lease
// that exists can be renewed.
func TestPoolRenew(t *testing.T) {
	r, p := newTestPool(t, 2)
	now := time.Now()
	s, gen := produce(t, r, p)
	p.Publish(s, gen, []ConsumerID{1, 2}, now.Add(-time.Second))
	if err := p.Renew(s, gen, 1, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if e := p.Expired(now); len(e) != 1 || e[0].Consumer != 2 {
		t.Fatalf("Expired after renewing consumer 1 = %+v, want consumer 2's only", e)
	}
	for name, err := range map[string]error{
		"other generation":  p.Renew(s, gen+2, 1, now),
		"unknown consumer":  p.Renew(s, gen, 3, now),
		"slot out of range": p.Renew(5, gen, 1, now),
	} {
		if !errors.Is(err, ErrNoLease) {
			t.Errorf("%s: %v, want ErrNoLease", name, err)
		}
	}
	if err := p.Release(s, gen, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Renew(s, gen, 1, now); !errors.Is(err, ErrNoLease) {
		t.Errorf("renewing a released lease: %v", err)
	}
}
