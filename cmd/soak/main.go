// Command soak runs lsie-host for a long time under faults and checks that
// nothing was lost (issue #15; not run in CI).
//
// It starts the built host (bin/lsie-host) on live streams — half looping
// the demo clip (faces and speech), half test:// patterns with a tone —
// each analysed by all five plugins, with a SQLite store in the output
// folder. While it runs it SIGKILLs a random plugin process every
// -kill-every (a random interval in a range) and holds the SQLite file
// with BEGIN EXCLUSIVE for -lock-for every -lock-every (what a backup
// does). Every minute it prints one line per process (host and each
// plugin: RSS, open fds, threads; the host's goroutines from /metrics),
// the store's spool depth and the plugin restarts.
//
// At the end it stops the host with SIGINT, requires a clean exit, reads
// the database back and prints, per stream and run, the stored segment
// indexes against the contiguous UTC grid and against the segments the
// host printed; then the gap records and the partial reasons; and last
//
//	segments expected N stored N missing M duplicates D
//
// exiting non-zero when anything is missing or duplicated or the host did
// not exit cleanly. Everything it prints also goes to soak.log in the
// output folder, beside the config, the host's log (host.log), its
// segment table (host.stdout) and the database.
//
//	go run ./cmd/soak                                  # 1 h, 4 streams
//	go run ./cmd/soak -duration 4m -kill-every 40s-70s -lock-every 90s -streams 2
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pluginNames are the plugins every stream runs (bin/plugins/NAME).
var pluginNames = []string{"visual", "acoustic", "au", "transcription", "semantic"}

type options struct {
	host, plugins, clip, out string
	duration                 time.Duration
	killMin, killMax         time.Duration
	lockEvery, lockFor       time.Duration
	streams                  int
	segment                  time.Duration
	seed                     uint64
}

func main() {
	var o options
	var killEvery string
	flag.StringVar(&o.host, "host", "bin/lsie-host", "lsie-host binary")
	flag.StringVar(&o.plugins, "plugins", "bin/plugins", "plugins directory (visual, acoustic, au, transcription, semantic)")
	flag.StringVar(&o.clip, "clip", "var/media/demo.mp4", "clip the clip streams loop (faces and speech)")
	flag.DurationVar(&o.duration, "duration", time.Hour, "how long the host runs under faults")
	flag.StringVar(&killEvery, "kill-every", "2m-5m", `interval between plugin kills: "MIN-MAX" (uniform random) or one duration; "0" disables`)
	flag.DurationVar(&o.lockEvery, "lock-every", 10*time.Minute, "interval between store locks (0 disables)")
	flag.DurationVar(&o.lockFor, "lock-for", 10*time.Second, "how long each lock holds BEGIN EXCLUSIVE")
	flag.IntVar(&o.streams, "streams", 4, "live streams: the first half loop the clip, the rest are test patterns with a 440 Hz tone")
	flag.DurationVar(&o.segment, "segment", 2*time.Second, "segment duration")
	flag.StringVar(&o.out, "out", "", "output folder (default: a new temporary folder; kept either way)")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed for the kill intervals and victims (0: from the clock)")
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected argument %q", flag.Arg(0))
	}
	var err error
	if o.killMin, o.killMax, err = parseRange(killEvery); err != nil {
		fatalf("-kill-every: %v", err)
	}
	if o.streams < 1 {
		fatalf("-streams: at least 1")
	}
	if o.lockEvery > 0 && o.lockFor <= 0 {
		fatalf("-lock-for: must be positive")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	ok, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
	os.Exit(2)
}

// parseRange reads "2m-5m" or "3m" ("0": disabled).
func parseRange(s string) (lo, hi time.Duration, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = time.ParseDuration(strings.TrimSpace(a)); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(b)); err != nil {
			return 0, 0, err
		}
	}
	if lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX with 0 <= MIN <= MAX", s)
	}
	return lo, hi, nil
}

// soak is one run: the host under test and what happened to it.
type soak struct {
	o      options
	start  time.Time
	outMu  sync.Mutex
	out    io.Writer
	dbPath string
	ids    []string // stream ids, in config order
	rng    *rand.Rand
	kills  map[string]int
	locks  atomic.Int32 // stores locked and released
}

// logf prints one line prefixed with the time since the start.
func (s *soak) logf(format string, args ...any) {
	d := time.Since(s.start)
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.out, "[%3dm%02ds] %s\n", int(d/time.Minute), int(d%time.Minute/time.Second), fmt.Sprintf(format, args...))
}

func run(o options) (bool, error) {
	if o.out == "" {
		dir, err := os.MkdirTemp("", "lsie-soak-")
		if err != nil {
			return false, err
		}
		o.out = dir
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return false, err
	}
	var err error
	for _, p := range []*string{&o.out, &o.host, &o.plugins, &o.clip} {
		if *p, err = filepath.Abs(*p); err != nil {
			return false, err
		}
	}
	for _, f := range append([]string{o.host, o.clip}, pluginPaths(o.plugins)...) {
		if _, err := os.Stat(f); err != nil {
			return false, fmt.Errorf("%w (run make build; the clip comes from make demo)", err)
		}
	}
	logFile, err := os.Create(filepath.Join(o.out, "soak.log"))
	if err != nil {
		return false, err
	}
	defer logFile.Close()
	s := &soak{o: o, start: time.Now(), out: io.MultiWriter(os.Stdout, logFile), dbPath: filepath.Join(o.out, "lsie.db"),
		rng: rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)), kills: map[string]int{}}

	cfgPath, ids, err := writeConfig(o, s.dbPath)
	if err != nil {
		return false, err
	}
	s.ids = ids
	kills, locks := "no plugin kills", "no store locks"
	if o.killMax > 0 {
		kills = "kill a plugin every " + describeRange(o.killMin, o.killMax)
	}
	if o.lockEvery > 0 {
		locks = fmt.Sprintf("lock the store %s every %s", o.lockFor, o.lockEvery)
	}
	s.logf("soak: %d streams (%s) × plugins %s, %s segments, for %s; %s, %s; seed %d",
		len(ids), strings.Join(ids, ", "), strings.Join(pluginNames, ","), o.segment, o.duration, kills, locks, o.seed)
	s.logf("out: %s (config lsie.hcl, host log host.log, segment table host.stdout, database lsie.db, this output soak.log)", o.out)

	// Ctrl-C ends the faults early; the host is still stopped and checked.
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	h, err := startHost(sigCtx, o, cfgPath)
	if err != nil {
		return false, err
	}
	defer h.kill() // only on an error path: a clean stop has waited already
	s.logf("host: pid %d, API %s", h.pid(), h.base)
	hasGoroutines := h.hasGoroutines(sigCtx)
	if hasGoroutines {
		s.logf("per minute: one line per process (RSS from VmRSS, open fds, threads; the host's goroutines from /metrics go_goroutines), then the store and restarts")
	} else {
		s.logf("per minute: one line per process (RSS from VmRSS, open fds, threads); the host's /metrics has no go_goroutines, so no goroutine count")
	}

	alive := s.faults(sigCtx, h)
	s.report(context.Background(), h)

	clean := true
	if !alive {
		clean = false
		s.logf("FAIL: the host exited during the soak: %v (see %s)", h.exitErr(), filepath.Join(o.out, "host.log"))
	} else {
		s.settle(h)
		if err := s.stopHost(h); err != nil {
			clean = false
			s.logf("FAIL: %v", err)
		}
	}
	for _, l := range h.stderr.summary() {
		s.logf("host stderr: %s", l)
	}
	warns, errs, top := h.stderr.levels()
	s.logf("host log: %d warnings, %d errors (%s)", warns, errs, filepath.Join(o.out, "host.log"))
	if top != "" {
		s.logf("host log: %s", top)
	}

	res, err := s.verify(context.Background(), h.stdout.printed())
	if err != nil {
		return false, fmt.Errorf("reading the store: %w", err)
	}
	s.logf("out: %s", o.out)
	s.outMu.Lock()
	fmt.Fprintf(s.out, "segments expected %d stored %d missing %d duplicates %d\n", res.expected, res.stored, res.missing, res.duplicates)
	s.outMu.Unlock()
	return clean && res.missing == 0 && res.duplicates == 0, nil
}

func pluginPaths(dir string) []string {
	out := make([]string, len(pluginNames))
	for i, n := range pluginNames {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

func describeRange(lo, hi time.Duration) string {
	if lo == hi {
		return lo.String()
	}
	return lo.String() + "–" + hi.String()
}

// faults runs the soak's clock: kills, locks and the minute reports until
// the duration is over, ctx is cancelled (Ctrl-C) or the host exits. It
// returns whether the host is still running, once no lock is held.
func (s *soak) faults(ctx context.Context, h *host) bool {
	end := time.NewTimer(s.o.duration)
	defer end.Stop()
	minute := time.NewTicker(time.Minute)
	defer minute.Stop()
	kill := newTimer(s.nextKill())
	defer kill.Stop()
	lock := newTimer(s.o.lockEvery)
	defer lock.Stop()

	var locks sync.WaitGroup
	defer locks.Wait()
	lockCtx, cancelLock := context.WithCancel(ctx)
	defer cancelLock()
	for {
		select {
		case <-ctx.Done():
			s.logf("interrupted: stopping the faults early")
			return !h.exited()
		case <-h.done:
			return false
		case <-end.C:
			s.logf("duration over")
			return !h.exited()
		case <-minute.C:
			s.report(ctx, h)
		case <-kill.C:
			s.killPlugin(h)
			kill.Reset(s.nextKill())
		case <-lock.C:
			locks.Add(1)
			go func() {
				defer locks.Done()
				s.lockStore(lockCtx, h)
			}()
			lock.Reset(s.o.lockEvery)
		}
	}
}

// newTimer returns a timer firing after d, or never for d <= 0.
func newTimer(d time.Duration) *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	if d > 0 {
		t.Reset(d)
	}
	return t
}

func (s *soak) nextKill() time.Duration {
	if s.o.killMax <= 0 {
		return 0
	}
	return s.o.killMin + time.Duration(s.rng.Int64N(int64(s.o.killMax-s.o.killMin)+1))
}

// killPlugin SIGKILLs one running plugin process, chosen at random.
func (s *soak) killPlugin(h *host) {
	procs := pluginProcs(h.pid())
	if len(procs) == 0 {
		s.logf("kill: no plugin process running (all restarting?); skipped")
		return
	}
	p := procs[s.rng.IntN(len(procs))]
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
		s.logf("kill: %s (pid %d): %v", p.name, p.pid, err)
		return
	}
	s.kills[p.name]++
	s.logf("kill: SIGKILL %s (pid %d)", p.name, p.pid)
}

// settle waits (up to a minute) for the store to be healthy with an empty
// spool before the stop, so that the stop tests a clean shutdown rather
// than a lock's aftermath; it says what it saw either way.
func (s *soak) settle(h *host) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		hh, err := h.health(ctx)
		if err == nil {
			if st, ok := storeHealth(hh); ok && st.Health == "ok" && st.Counters["spool_records"] <= 1 {
				return
			}
		}
		select {
		case <-ctx.Done():
			s.logf("store not settled a minute after the faults stopped (stopping anyway): %v", describeStore(hh, err))
			return
		case <-time.After(time.Second):
		}
	}
}

// stopHost sends SIGINT and waits for a clean exit (status 0) within two
// minutes; it kills the host otherwise.
func (s *soak) stopHost(h *host) error {
	s.logf("stop: SIGINT to the host")
	plugins := pluginProcs(h.pid())
	t0 := time.Now()
	if err := h.cmd.Process.Signal(os.Interrupt); err != nil {
		return fmt.Errorf("SIGINT: %w", err)
	}
	select {
	case <-h.done:
	case <-time.After(2 * time.Minute):
		h.kill()
		return errors.New("the host did not exit within 2 minutes of SIGINT; killed")
	}
	if err := h.exitErr(); err != nil {
		return fmt.Errorf("the host exited uncleanly after SIGINT: %v", err)
	}
	// Orphans are re-parented: look for the pids seen before the stop.
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range plugins {
		for !gone(p.pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("plugin %s (pid %d) still running 10 s after the host exited", p.name, p.pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s.logf("stop: the host exited cleanly (status 0) in %.1fs", time.Since(t0).Seconds())
	return nil
}
