package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsie-mlf/lsie/internal/testenv"
)

// The web operator console in a real browser: the host runs the looped
// demo clip through the speech and face plugins with an API token, a
// telemetry source and an experiment; telemetry is posted, signed, while
// host/console/e2e/console.mjs drives Debian's Chromium through
// playwright-core over every page: login (a wrong token refused, then the
// right one), overview, live values arriving over the WebSocket (plotted
// points and transcript lines grow, segments close), experiments, the
// physiology states, health, sessions and a segment's detail, and a
// refused stored token back at the login form; no console error or CSP
// violation anywhere. Full-page screenshots stay in var/test-output/console/.
func TestConsoleInChromium(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not installed (apt-get install nodejs; scripts/setup.sh)")
	}
	chromium := os.Getenv("LSIE_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		testenv.Missing(t, "%s is missing (apt-get install chromium; scripts/setup.sh)", chromium)
	}
	pw := filepath.Join(repo, "var/node/node_modules/playwright-core")
	if _, err := os.Stat(filepath.Join(pw, "index.mjs")); err != nil {
		testenv.Missing(t, "%s is missing (scripts/fetch-playwright.sh)", pw)
	}
	demo := demoWithModels(t, "silero/silero_vad_v5.onnx", "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin",
		"blazeface/face_detection_front_128x128.onnx", "emotion/emotion.onnx")

	const (
		token  = "console-test-token-1"
		source = "polar"
		secret = "console-test-telemetry-secret"
		stream = "speech"
	)
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir, fmt.Sprintf(`segment {
  duration = "2s"
  max_close_delay = "30s"
}
store { sqlite = %q }
api {
  listen = "127.0.0.1:0"
  token  = %q
}
telemetry {
  source %q { secret = %q }
}
experiment "greeting" {
  arms       = ["warm", "neutral"]
  assignment = "thompson"
}
analytics {
  comodulation {
    a           = "physio:streamer"
    b           = "physio:watch"
    min_samples = 5
  }
}
rule "sound" {
  streams = ["speech"]
  when    = "acoustic.loudness_dbfs > -119.0"
  message = "the stream has sound"
}
stream %q {
  source   = "file:%s"
  realtime = true
  loop     = true
  video {
    fps       = 5
    max_width = 640
  }
  plugin "acoustic" {}
  plugin "au" { baseline_seconds = 1 }
  plugin "transcription" {}
  plugin "semantic" {
    intents = { civic = ["ask what you can do for your country"] }
  }
}
`, filepath.Join(dir, "lsie.db"), token, source, secret, stream, demo)))

	h.token = token
	// Segments first, so the sessions page has some to browse.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var sl segmentList
		if code := h.get(t, "/api/v1/streams/"+stream+"/segments", &sl); code == http.StatusOK && len(sl.Segments) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no segments of %s after 3 min; log:\n%s", stream, drain(h.stderr.lines))
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Telemetry: a stimulus marker for the experiment, then heart data
	// every 2 s while the browser runs, so the subject stays fresh.
	post := func(events []map[string]any) {
		body, err := json.Marshal(map[string]any{"events": events})
		if err != nil {
			t.Error(err)
			return
		}
		// From the heart goroutine too: t.Error, never t.Fatal.
		code, out, err := h.signedPost(source, secret, string(body), time.Now())
		if err != nil || code/100 != 2 {
			t.Errorf("POST /api/v1/telemetry: %d %v: %s", code, err, out)
		}
	}
	seq := 0
	heart := func() {
		var evs []map[string]any
		for i := 0; i < 2; i++ {
			seq++
			rr := make([]float64, 12)
			for j := range rr {
				rr[j] = 780 + float64((seq*7+j*13)%60) // 780..839 ms: about 74 bpm
			}
			evs = append(evs, map[string]any{"id": fmt.Sprintf("hr-%d", seq), "kind": "physiology", "stream_id": stream,
				"time": time.Now().UTC().Format(time.RFC3339Nano), "subject": "streamer", "rr_ms": rr})
		}
		// The other three states: a strap whose data is 30 s old (stale
		// after 10 s, absent after 60 s), one sending heart rate only
		// (no RMSSD without RR intervals).
		now := time.Now().UTC()
		evs = append(evs,
			map[string]any{"id": fmt.Sprintf("stale-%d", seq), "kind": "physiology", "stream_id": stream,
				"time": now.Add(-30 * time.Second).Format(time.RFC3339Nano), "subject": "strap", "rr_ms": []float64{800, 810, 805}},
			map[string]any{"id": fmt.Sprintf("hr-only-%d", seq), "kind": "physiology", "stream_id": stream,
				"time": now.Format(time.RFC3339Nano), "subject": "watch", "hr_bpm": 70 + seq%5})
		post(evs)
	}
	// Absent: heard from once, five minutes ago.
	post([]map[string]any{{"id": "gone-1", "kind": "physiology", "stream_id": stream,
		"time": time.Now().UTC().Add(-5 * time.Minute).Format(time.RFC3339Nano), "subject": "gone", "rr_ms": []float64{900, 910}}})
	post([]map[string]any{{"id": "stim-1", "kind": "stimulus", "stream_id": stream,
		"time": time.Now().UTC().Format(time.RFC3339Nano), "experiment": "greeting", "arm": "warm"}})
	heart()
	if t.Failed() {
		t.FailNow()
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				heart()
			}
		}
	}()
	defer func() { stop(); wg.Wait() }()

	shots := filepath.Join(repo, "var/test-output/console")
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)
	run, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(run, node, filepath.Join(repo, "host/console/e2e/console.mjs"))
	cmd.Env = append(os.Environ(),
		"LSIE_CONSOLE_URL="+h.base,
		"LSIE_CONSOLE_TOKEN="+token,
		"LSIE_SCREENSHOT_DIR="+shots,
		"LSIE_CONSOLE_STREAM="+stream,
		"LSIE_CONSOLE_SUBJECT=streamer",
		"LSIE_CONSOLE_STATES=streamer=fresh,strap=stale,gone=absent,watch=no-rmssd",
		"LSIE_CONSOLE_EXPERIMENT=greeting:warm,neutral",
		"LSIE_PLAYWRIGHT_CORE="+pw,
		"LSIE_CHROMIUM="+chromium,
	)
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("console.mjs:\n%s", strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("console.mjs: %v (screenshots in %s); host log:\n%s", err, shots, drain(h.stderr.lines))
	}
}
