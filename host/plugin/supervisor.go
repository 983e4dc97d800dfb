package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/model"
)

// RestartPolicy says how a Supervisor restarts its plugin.
type RestartPolicy struct {
	// Initial and Max bound the exponential backoff between restarts;
	// Jitter (0..1) spreads restarts of plugins that died together.
	Initial, Max time.Duration
	Jitter       float64
	// MaxCrashes within Window puts the plugin in error for good: its
	// streams carry on without it, and the operator gets a hint.
	MaxCrashes int
	Window     time.Duration
	// HealthInterval and HealthTimeout drive the Health RPC; two failures
	// in a row count as a hang and the process is killed.
	HealthInterval, HealthTimeout time.Duration
}

// DefaultRestartPolicy restarts quickly at first (a crash should cost well
// under a second of results) and backs off to 30 s.
func DefaultRestartPolicy() RestartPolicy {
	return RestartPolicy{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2,
		MaxCrashes: 5, Window: time.Minute, HealthInterval: 2 * time.Second, HealthTimeout: 2 * time.Second}
}

// Hooks let the host follow a plugin's life. They run on the supervisor's
// goroutine, one at a time.
type Hooks struct {
	// Started runs after each successful start; restart is false the first time.
	Started func(p *Process, restart bool)
	// Down runs as soon as the process's data plane breaks: stop sending.
	Down func(p *Process)
	// Exited runs once per process, after it is gone (its slots may now be reclaimed).
	Exited func(p *Process)
	// GaveUp runs once when the plugin is put in error for good.
	GaveUp func(name string)
}

// Supervisor keeps one plugin binary running for every stream that uses it.
type Supervisor struct {
	bin    Binary
	opts   Options
	policy RestartPolicy
	hooks  Hooks
	log    hclog.Logger

	mu       sync.Mutex
	cur      *Process
	health   model.Health
	hint     string
	restarts int
	crashes  []time.Time
	killNote string

	cancel context.CancelFunc
	done   chan struct{}
}

// NewSupervisor prepares a supervisor; Start runs the first process.
func NewSupervisor(bin Binary, opts Options, policy RestartPolicy, hooks Hooks) *Supervisor {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Supervisor{bin: bin, opts: opts, policy: policy, hooks: hooks, log: opts.Logger.Named(bin.Name),
		health: model.HealthStarting, done: make(chan struct{})}
}

// Start runs the first process synchronously, so a broken plugin fails the
// host's start with a clear error instead of a restart loop.
func (s *Supervisor) Start() (*Process, error) {
	p, err := Start(s.bin, s.opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cur, s.health = p, model.HealthOK
	s.mu.Unlock()
	return p, nil
}

// Run supervises until ctx is cancelled: health checks, restarts, backoff.
func (s *Supervisor) Run(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	defer close(s.done)
	backoff := s.policy.Initial
	for {
		p := s.Current()
		if p == nil {
			return
		}
		started := time.Now()
		s.watch(ctx, p)
		if ctx.Err() != nil {
			return
		}
		// A process that stayed up a whole window earns a fast restart again.
		if time.Since(started) >= s.policy.Window {
			backoff = s.policy.Initial
		}
		if s.hooks.Down != nil {
			s.hooks.Down(p)
		}
		// A plugin that closed its data plane but lives on is useless and
		// may still read slots: make sure it is gone before reclaiming.
		p.Kill()
		p.WaitExited(2 * time.Second)
		status := p.ExitStatus()
		tail := p.StderrTail()
		s.mu.Lock()
		note := s.killNote
		s.killNote = ""
		s.mu.Unlock()
		s.log.Error("plugin process exited", "status", status, "reason", note, "stderr_tail", strings.Join(tail, " | "))
		if s.hooks.Exited != nil {
			s.hooks.Exited(p)
		}
		// Release what the dead process still holds here: its data-plane
		// socket and go-plugin's client (a gRPC connection that would
		// otherwise keep redialling a socket nobody listens on: ~3
		// goroutines and an fd per restart).
		_ = p.Close()
		if s.recordCrash(status, note, tail) {
			s.gaveUp()
			return // error state: streams carry on without it
		}
		for {
			wait := jittered(backoff, s.policy.Jitter)
			backoff = min(2*backoff, s.policy.Max)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			np, err := Start(s.bin, s.opts)
			if err != nil {
				s.log.Error("restarting plugin failed", "error", err)
				if s.recordCrash("start failed: "+err.Error(), "", nil) {
					s.gaveUp()
					return
				}
				continue
			}
			s.mu.Lock()
			s.cur, s.health, s.hint = np, model.HealthOK, ""
			s.restarts++
			s.mu.Unlock()
			s.log.Info("plugin restarted", "restarts", s.restarts, "after", wait)
			if s.hooks.Started != nil {
				s.hooks.Started(np, true)
			}
			break
		}
	}
}

// watch returns when p has exited, killing it if it fails health checks.
func (s *Supervisor) watch(ctx context.Context, p *Process) {
	tick := time.NewTicker(s.policy.HealthInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.Exited():
			return
		case <-tick.C:
			hctx, cancel := context.WithTimeout(ctx, s.policy.HealthTimeout)
			err := p.Healthy(hctx)
			cancel()
			if err == nil {
				failures = 0
				continue
			}
			failures++
			s.log.Warn("plugin health check failed", "error", err, "failures", failures)
			if failures >= 2 {
				s.Kill("health check failed twice: " + err.Error())
			}
		}
	}
}

// recordCrash notes a crash and reports whether the plugin is now in error.
func (s *Supervisor) recordCrash(status, note string, tail []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.crashes = append(s.crashes, now)
	for len(s.crashes) > 0 && now.Sub(s.crashes[0]) > s.policy.Window {
		s.crashes = s.crashes[1:]
	}
	what := status
	if note != "" {
		what = note + "; " + status
	}
	if len(tail) > 0 {
		what += "; last stderr: " + strings.Join(tail[max(0, len(tail)-5):], " | ")
	}
	if len(s.crashes) >= s.policy.MaxCrashes {
		s.health = model.HealthError
		s.hint = fmt.Sprintf("plugin %q crashed %d times within %s and was given up; fix it and restart the host (%s)",
			s.bin.Name, len(s.crashes), s.policy.Window, what)
		s.cur = nil
		return true
	}
	s.health = model.HealthRecovering
	s.hint = "restarting after: " + what
	return false
}

func (s *Supervisor) gaveUp() {
	s.log.Error("plugin given up", "hint", s.hintText())
	if s.hooks.GaveUp != nil {
		s.hooks.GaveUp(s.bin.Name)
	}
}

func (s *Supervisor) hintText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hint
}

func jittered(d time.Duration, j float64) time.Duration {
	if j <= 0 {
		return d
	}
	f := 1 + j*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}

// Current is the running process, or nil while restarting or given up.
func (s *Supervisor) Current() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Kill ends the current process now (it is hung); a restart follows.
func (s *Supervisor) Kill(reason string) {
	s.mu.Lock()
	p := s.cur
	s.killNote = reason
	s.mu.Unlock()
	if p != nil {
		s.log.Error("killing plugin", "reason", reason)
		p.Kill()
	}
}

// Status reports health, an operator hint and the restart count.
func (s *Supervisor) Status() (model.Health, string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health, s.hint, s.restarts
}

// Binary is the supervised executable.
func (s *Supervisor) Binary() Binary { return s.bin }

// Close stops supervising and the current process.
func (s *Supervisor) Close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if p := s.Current(); p != nil {
		_ = p.Close()
	}
}
