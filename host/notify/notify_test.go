package notify

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/telemetry"
	"github.com/lsie-mlf/lsie/internal/testenv"
)

const secret = "0123456789abcdef-notify"

// receiver is a webhook receiver on addr that verifies signatures the way
// the host's telemetry webhook does and answers the first fail requests
// with 500.
type receiver struct {
	mu    sync.Mutex
	got   []Body
	fail  int
	bad   int // requests with a bad signature
	calls int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v := telemetry.NewVerifier(telemetry.Config{Sources: []telemetry.Source{{Name: "lsie", Secret: secret}}}, time.Now)
	r.Header.Set(telemetry.HeaderSource, "lsie")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if _, err := v.Verify(r.Header, body); err != nil {
		rc.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.fail > 0 {
		rc.fail--
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	var b Body
	if err := json.Unmarshal(body, &b); err != nil || r.Header.Get(HeaderDelivery) != b.Delivery {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, b)
}

func (rc *receiver) bodies() []Body {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Body(nil), rc.got...)
}

func alert(end bool) model.Alert {
	a := model.Alert{ID: "cam1-crowd-1", Rule: "crowd", StreamID: "cam1", Severity: "warning", Message: "crowd",
		Start: time.Second, Fired: 2 * time.Second, Values: map[string]any{"objects.count('person')": 3.0}}
	if end {
		d := 5 * time.Second
		a.End = &d
	}
	return a
}

// A receiver down for 30 s, then answering 500 twice, gets the alert's
// start and end exactly once each, in order, signed; a restart of the host
// in between loses nothing.
func TestDeliveryThroughOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // down: connections refused
	cfg := config.Notify{Name: "ops", URL: "http://" + addr + "/hook", Secret: secret, RetryMin: time.Second, RetryMax: 5 * time.Second,
		MaxAttempts: 20}
	dir := filepath.Join(t.TempDir(), "ops")
	r, err := Open(cfg, dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Enqueue(alert(false)); err != nil {
		t.Fatal(err)
	}
	// The host restarts while the receiver is down: the queue is on disk.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	testenv.Eventually(t, time.Minute, "a failed attempt", func() bool { return r.Health().Counters["retries"] > 0 })
	cancel()
	<-done
	r.Close()
	r, err = Open(cfg, dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Enqueue(alert(true)); err != nil {
		t.Fatal(err)
	}
	if h := r.Health(); h.Counters["queued"] != 2 {
		t.Fatalf("after the restart: %+v", h)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	downUntil := time.Now().Add(30 * time.Second)
	testenv.Eventually(t, time.Minute, "30 s of outage", func() bool { return time.Now().After(downUntil) })
	if h := r.Health(); h.Health != model.HealthDegraded || !strings.Contains(h.Hint, "retrying") {
		t.Errorf("during the outage: %+v", h)
	}
	rc := &receiver{fail: 2}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	testenv.Eventually(t, 2*time.Minute, "both deliveries", func() bool { return len(rc.bodies()) == 2 })
	got := rc.bodies()
	if got[0].Event != EventStart || got[1].Event != EventEnd || got[0].Delivery != "cam1-crowd-1/alert_start" ||
		got[1].Alert.End == nil || got[0].Alert.Values["objects.count('person')"] != 3.0 {
		t.Errorf("delivered %+v", got)
	}
	testenv.Eventually(t, time.Minute, "the queue to empty", func() bool { return r.Health().Counters["queued"] == 0 })
	if h := r.Health(); h.Counters["delivered"] != 2 || h.Counters["failed"] != 0 || h.Health != model.HealthOK {
		t.Errorf("health %+v", h)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 || rc.calls != 4 {
		t.Errorf("%d requests (%d badly signed), want 4: two 500s, two deliveries", rc.calls, rc.bad)
	}
}

// A delivery that exhausts its attempts is kept as failed, listed, and
// the receiver is degraded; the next one still goes.
func TestDeliveryExhausted(t *testing.T) {
	rc := &receiver{fail: 3}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	cfg := config.Notify{Name: "ops", URL: "http://" + ln.Addr().String() + "/hook", Secret: secret,
		RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond, MaxAttempts: 3}
	dir := filepath.Join(t.TempDir(), "ops")
	r, err := Open(cfg, dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	if err := r.Enqueue(alert(false)); err != nil {
		t.Fatal(err)
	}
	if err := r.Enqueue(alert(true)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the end delivered", func() bool { return len(rc.bodies()) == 1 })
	f := r.Failed()
	if len(f) != 1 || f[0].Event != EventStart || f[0].Alert != "cam1-crowd-1" || !strings.Contains(f[0].LastError, "3 attempts") {
		t.Fatalf("failed %+v", f)
	}
	if h := r.Health(); h.Health != model.HealthDegraded || h.Counters["failed"] != 1 {
		t.Errorf("health %+v", h)
	}
	// Still listed, and counted, after a restart.
	cancel()
	<-done
	r.Close()
	r2, err := Open(cfg, dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Failed()) != 1 || r2.Health().Counters["failed"] != 1 || r2.Health().Counters["queued"] != 0 {
		t.Errorf("after a restart: failed %+v, health %+v", r2.Failed(), r2.Health())
	}
	if !r.Wants("crowd") || (&Receiver{cfg: config.Notify{Rules: []string{"door*"}}}).Wants("crowd") {
		t.Error("Wants")
	}
}
