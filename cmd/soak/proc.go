package main

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/lsie-mlf/lsie/internal/proctest"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	_ "modernc.org/sqlite" // the "sqlite" driver, for the lock
)

type proc struct {
	pid  int
	name string
}

func (p proc) String() string { return fmt.Sprintf("%s(%d)", p.name, p.pid) }

// pluginProcs lists the host's children that are plugins (by
// /proc/PID/comm), ordered by name.
func pluginProcs(hostPID int) []proc {
	var out []proc
	for _, pid := range proctest.Children(hostPID) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))[0] == "Z" {
			continue // gone, or a zombie not yet reaped
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(comm)); slices.Contains(pluginNames, name) {
			out = append(out, proc{pid: pid, name: name})
		}
	}
	slices.SortFunc(out, func(a, b proc) int { return strings.Compare(a.name, b.name) })
	return out
}

// gone reports whether pid has exited (a zombie counts).
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Contains(string(stat), ") Z ")
}

type procStats struct {
	rssKB, threads, fds int
}

// readProc reads VmRSS and Threads from /proc/PID/status and counts
// /proc/PID/fd.
func readProc(pid int) (procStats, error) {
	var st procStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			st.rssKB, _ = strconv.Atoi(f[0])
		case "Threads":
			st.threads, _ = strconv.Atoi(f[0])
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return st, err
	}
	st.fds = len(fds)
	return st, nil
}

// report prints the minute's lines: one per process, then the store and
// the restarts.
func (s *soak) report(ctx context.Context, h *host) {
	if h.exited() {
		return
	}
	procs := append([]proc{{pid: h.pid(), name: "host"}}, pluginProcs(h.pid())...)
	g, gerr := h.goroutines(ctx)
	for _, p := range procs {
		st, err := readProc(p.pid)
		if err != nil {
			s.logf("proc %-13s pid %-7d gone (%v)", p.name, p.pid, err)
			continue
		}
		extra := ""
		if p.name == "host" {
			switch {
			case gerr != nil:
				extra = fmt.Sprintf("  goroutines ? (%v)", gerr)
			case g >= 0:
				extra = fmt.Sprintf("  goroutines %5d", g)
			}
		}
		s.logf("proc %-13s pid %-7d rss %7.1f MB  fds %4d  threads %3d%s", p.name, p.pid, float64(st.rssKB)/1024, st.fds, st.threads, extra)
	}
	var seen []string
	for _, n := range pluginNames {
		if !slices.ContainsFunc(procs, func(p proc) bool { return p.name == n }) {
			seen = append(seen, n)
		}
	}
	if len(seen) > 0 {
		s.logf("proc not running now: %s", strings.Join(seen, ", "))
	}
	hh, err := h.health(ctx)
	s.logf("store %s  host %s  restarts %s  kills %s  locks %d  segments printed %d",
		describeStore(hh, err), hh.Status, restarts(hh), s.describeKills(), s.locks.Load(), h.stdout.total())
}

func storeHealth(hh model.HostHealth) (model.ComponentHealth, bool) {
	for _, c := range hh.Components {
		if c.Kind == "store" {
			return c, true
		}
	}
	return model.ComponentHealth{}, false
}

func describeStore(hh model.HostHealth, err error) string {
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	c, ok := storeHealth(hh)
	if !ok {
		return "? (no store component)"
	}
	out := fmt.Sprintf("%s spool_records %d", c.Health, c.Counters["spool_records"])
	if n := c.Counters["consecutive_failures"]; n > 0 {
		out += fmt.Sprintf(" consecutive_failures %d", n)
	}
	return out
}

// restarts sums the plugin components' restarts: "3 (au 1, visual 2)".
func restarts(hh model.HostHealth) string {
	total := int64(0)
	var parts []string
	for _, c := range hh.Components {
		if c.Kind != "plugin" {
			continue
		}
		n := c.Counters["restarts"]
		total += n
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.Name, n))
		}
		if c.Health != model.HealthOK {
			parts = append(parts, fmt.Sprintf("%s %s", c.Name, c.Health))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprint(total)
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func (s *soak) describeKills() string {
	total := 0
	var parts []string
	for _, n := range pluginNames {
		if k := s.kills[n]; k > 0 {
			total += k
			parts = append(parts, fmt.Sprintf("%s %d", n, k))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// lockStore holds the SQLite file with BEGIN EXCLUSIVE for lock-for (what
// a backup or VACUUM does), then commits. Cancelling ctx cuts the hold
// short; the commit always runs.
func (s *soak) lockStore(ctx context.Context, h *host) {
	db, err := sql.Open("sqlite", s.dbPath+"?_pragma=busy_timeout(60000)")
	if err != nil {
		s.logf("lock: %v", err)
		return
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		s.logf("lock: %v", err)
		return
	}
	defer conn.Close()
	t0 := time.Now()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		s.logf("lock: BEGIN EXCLUSIVE: %v", err)
		return
	}
	held := time.Now()
	s.logf("lock: BEGIN EXCLUSIVE on the store (acquired in %.1fs), holding %s", held.Sub(t0).Seconds(), s.o.lockFor)
	t := time.NewTimer(s.o.lockFor)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	hh, herr := h.health(hctx)
	cancel()
	s.logf("lock: store before the release: %s", describeStore(hh, herr))
	if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		s.logf("lock: COMMIT: %v", err)
		return
	}
	s.locks.Add(1)
	s.logf("lock: COMMIT after %.1fs: store released", time.Since(held).Seconds())
}
