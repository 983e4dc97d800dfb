package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// writeConfig writes the host's config into the output folder and returns
// its path and the stream ids.
func writeConfig(o options, dbPath string) (string, []string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by cmd/soak.\nsegment {\n  duration = %q\n}\nstore {\n  sqlite = %q\n}\napi {\n  listen = \"127.0.0.1:0\"\n}\n", o.segment.String(), dbPath)
	clips := (o.streams + 1) / 2
	patterns := []string{"smpte", "ball"}
	var ids []string
	for i := range o.streams {
		var id, src, loop string
		if i < clips {
			id, src, loop = fmt.Sprintf("clip%d", i+1), "file://"+o.clip, "  loop     = true\n"
		} else {
			n := i - clips
			id, src = fmt.Sprintf("tone%d", n+1), fmt.Sprintf("test://%s?width=640&height=360&fps=30&audio=440", patterns[n%len(patterns)])
		}
		ids = append(ids, id)
		fmt.Fprintf(&b, `
stream %q {
  source   = %q
  realtime = true
%s  video {
    fps       = 5
    max_width = 640
  }
  plugin "visual" {}
  plugin "acoustic" {}
  plugin "au" {}
  plugin "transcription" {}
  plugin "semantic" {
    intents = {
      civic  = ["ask what you can do for your country"]
      thanks = ["thank you for the donation", "thanks everyone"]
    }
    gate_threshold = 0.5
  }
}
`, id, src, loop)
	}
	path := filepath.Join(o.out, "lsie.hcl")
	return path, ids, os.WriteFile(path, []byte(b.String()), 0o644)
}

// hostEnv are the variables lsie-host reads in place of its flags and
// config fields (README, "Using it").
var hostEnv = []string{"LSIE_PLUGINS", "LSIE_CONFIG", "LSIE_LOG_LEVEL", "LSIE_LOG_FORMAT", "LSIE_EXIT_WHEN_DONE",
	"LSIE_QUIET", "LSIE_LEASE_TIMEOUT", "LSIE_API_TOKEN", "LSIE_API_LISTEN"}

// host is the lsie-host process under test.
type host struct {
	cmd    *exec.Cmd
	base   string // http://addr of its API
	client *http.Client
	stdout *segmentCounter
	stderr *logWatcher
	done   chan struct{} // closed when it has exited
	err    error         // its exit, once done is closed
}

// startHost starts the host (its own process group, so a Ctrl-C reaches
// only the soak, which then stops the host itself) and waits for its API.
func startHost(ctx context.Context, o options, cfgPath string) (*host, error) {
	stdoutFile, err := os.Create(filepath.Join(o.out, "host.stdout"))
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(o.out, "host.log"))
	if err != nil {
		stdoutFile.Close()
		return nil, err
	}
	cmd := exec.Command(o.host, "--plugins", o.plugins, "--config", cfgPath, "--log-format", "json", "--log-level", "info")
	// The host runs in the soak's folder (the repository root): plugins
	// find var/models there. The host's own LSIE_* variables would
	// override the flags and the config (a quiet table, another API
	// address): the soak's settings apply; plugins' variables pass.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(hostEnv, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h := &host{cmd: cmd, client: &http.Client{Timeout: 10 * time.Second}, done: make(chan struct{}),
		stdout: &segmentCounter{w: stdoutFile, seen: map[string]map[int64]int{}},
		stderr: &logWatcher{w: logFile, addr: make(chan string, 1)}}
	cmd.Stdout, cmd.Stderr = h.stdout, h.stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		stdoutFile.Close()
		logFile.Close()
		return nil, err
	}
	go func() {
		h.err = cmd.Wait()
		stdoutFile.Close()
		logFile.Close()
		close(h.done)
	}()
	select {
	case a := <-h.stderr.addr:
		h.base = "http://" + a
		return h, nil
	case <-h.done:
		return nil, fmt.Errorf("the host exited before its API listened: %v; see %s", h.err, logFile.Name())
	case <-ctx.Done():
	case <-time.After(2 * time.Minute):
	}
	h.kill()
	return nil, fmt.Errorf("the host's API did not listen within 2 minutes; see %s", logFile.Name())
}

func (h *host) pid() int { return h.cmd.Process.Pid }

func (h *host) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// exitErr is how the host exited (nil: status 0); call after done.
func (h *host) exitErr() error {
	<-h.done
	return h.err
}

// kill SIGKILLs a host still running and waits for it.
func (h *host) kill() {
	if !h.exited() {
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}

func (h *host) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// health reads GET /api/v1/health (503 with a body when not ok).
func (h *host) health(ctx context.Context) (model.HostHealth, error) {
	var hh model.HostHealth
	b, err := h.get(ctx, "/api/v1/health")
	if err != nil {
		return hh, err
	}
	err = json.Unmarshal(b, &hh)
	return hh, err
}

// goroutines reads go_goroutines from GET /metrics (-1 when absent).
func (h *host) goroutines(ctx context.Context) (int, error) {
	b, err := h.get(ctx, "/metrics")
	if err != nil {
		return -1, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return -1, nil
}

func (h *host) hasGoroutines(ctx context.Context) bool {
	n, err := h.goroutines(ctx)
	return err == nil && n >= 0
}

// segmentCounter keeps the host's stdout (its segment table: one line per
// closed segment, "STREAM INDEX ...", a header every 20 lines, transcript
// lines indented) and counts the segments printed per stream and index.
type segmentCounter struct {
	mu      sync.Mutex
	w       *os.File
	partial []byte
	seen    map[string]map[int64]int
}

func (c *segmentCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.w.Write(p)
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := string(c.partial[:i])
		c.partial = c.partial[i+1:]
		if line == "" || line[0] == ' ' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		idx, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // the header
		}
		if c.seen[f[0]] == nil {
			c.seen[f[0]] = map[int64]int{}
		}
		c.seen[f[0]][idx]++
	}
	return len(p), nil
}

// printed returns a copy of the indexes printed per stream (with counts).
func (c *segmentCounter) printed() map[string]map[int64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[int64]int, len(c.seen))
	for id, m := range c.seen {
		out[id] = make(map[int64]int, len(m))
		for k, v := range m {
			out[id][k] = v
		}
	}
	return out
}

func (c *segmentCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.seen {
		for _, v := range m {
			n += v
		}
	}
	return n
}

// logWatcher keeps the host's stderr (JSON log lines, and plain "lsie: "
// summary lines), finds the API address and counts warnings and errors.
type logWatcher struct {
	mu           sync.Mutex
	w            *os.File
	partial      []byte
	addr         chan string
	sentAddr     bool
	warn, errors int
	tally        map[string]int // "level: message" → lines
	plain        []string       // lines that are not JSON (the exit summary)
}

func (l *logWatcher) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		l.partial = l.partial[i+1:]
		var m struct {
			Message string `json:"@message"`
			Level   string `json:"@level"`
			Addr    any    `json:"addr"`
		}
		if json.Unmarshal(line, &m) != nil {
			if s := strings.TrimSpace(string(line)); s != "" && len(l.plain) < 20 {
				l.plain = append(l.plain, s)
			}
			continue
		}
		switch m.Level {
		case "warn":
			l.warn++
		case "error":
			l.errors++
		}
		if m.Level == "warn" || m.Level == "error" {
			if l.tally == nil {
				l.tally = map[string]int{}
			}
			l.tally[m.Level+": "+m.Message]++
		}
		if m.Message == "api listening" && !l.sentAddr {
			l.sentAddr = true
			l.addr <- fmt.Sprint(m.Addr)
		}
	}
	return len(p), nil
}

// levels counts the warnings and errors and names the commonest (up to 6
// messages, most frequent first).
func (l *logWatcher) levels() (warn, errors int, top string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs := slices.Collect(maps.Keys(l.tally))
	slices.SortFunc(msgs, func(a, b string) int {
		if c := cmp.Compare(l.tally[b], l.tally[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for i, m := range msgs {
		if i == 6 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%q ×%d", m, l.tally[m]))
	}
	return l.warn, l.errors, strings.Join(parts, ", ")
}

func (l *logWatcher) summary() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.plain...)
}
