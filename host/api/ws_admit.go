package api

import (
	"net/netip"
	"slices"
)

// Admission of sockets that have not authenticated yet: bounded per client
// address and in all, apart from the live slots (see ws.go).

// wsPending is one socket waiting for its auth message.
type wsPending struct {
	addr string
	seq  uint64
	// evict closes it with 4429; admit's caller runs it in a goroutine of
	// its own, as a close handshake takes up to seconds.
	evict func()
}

// admit counts p in as waiting for its auth message. When its address
// already has maxPendingPerAddr waiting, or all addresses maxPending, it
// returns the socket to evict in its place: the oldest of p's address, or
// else the oldest of the address with the most waiting (the oldest socket
// among them on a tie). The victim is no longer counted; the caller
// evicts it.
func (ep *wsEndpoint) admit(p *wsPending) (victim *wsPending) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.seq++
	p.seq = ep.seq
	if q := ep.pending[p.addr]; len(q) >= ep.lim.maxPendingPerAddr {
		victim = q[0]
	} else if ep.npending >= ep.lim.maxPending {
		for _, q := range ep.pending {
			if victim == nil || len(q) > len(ep.pending[victim.addr]) ||
				(len(q) == len(ep.pending[victim.addr]) && q[0].seq < victim.seq) {
				victim = q[0]
			}
		}
	}
	if victim != nil {
		ep.unpendLocked(victim)
	}
	ep.pending[p.addr] = append(ep.pending[p.addr], p)
	ep.npending++
	return victim
}

// unpend counts p out of the waiting sockets, if it still is in.
func (ep *wsEndpoint) unpend(p *wsPending) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.unpendLocked(p)
}

func (ep *wsEndpoint) unpendLocked(p *wsPending) {
	q := ep.pending[p.addr]
	i := slices.Index(q, p)
	if i < 0 {
		return
	}
	if len(q) == 1 {
		delete(ep.pending, p.addr)
	} else {
		ep.pending[p.addr] = slices.Delete(q, i, i+1)
	}
	ep.npending--
}

// pendingByAddr returns how many sockets wait for their auth message, in
// all and by client address.
func (ep *wsEndpoint) pendingByAddr() (int, map[string]int) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	by := make(map[string]int, len(ep.pending))
	for a, q := range ep.pending {
		by[a] = len(q)
	}
	return ep.npending, by
}

// wsClientAddr is the address a client's unauthenticated sockets are
// counted by: its IP, or for IPv6 its /64, which one host commonly holds
// whole. A RemoteAddr that does not parse counts as itself.
func wsClientAddr(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}
