// Package notify posts alerts to receivers (config.Notify): each alert's
// start and end, as a JSON body signed with HMAC-SHA256 the way incoming
// telemetry is (X-LSIE-Timestamp, X-LSIE-Signature), from a queue on disk
// (host/spool) so that neither a receiver outage nor a host restart loses
// one. Deliveries go in order, retried with exponential backoff and jitter
// until a 2xx answer; one that exhausts its attempts is kept as failed
// (the spool's rejected/ folder, with why), counted in health, and served
// by the API, never dropped (docs/RULES.md).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/rules"
	"github.com/lsie-mlf/lsie/host/spool"
	"github.com/lsie-mlf/lsie/host/telemetry"
)

// HeaderDelivery names a delivery (alert id and event): a receiver that
// saw it already (the host died between its answer and the removal from
// the queue) can tell.
const HeaderDelivery = "X-LSIE-Delivery"

// Events of a delivery.
const (
	EventStart = "alert_start"
	EventEnd   = "alert_end"
)

// Body is what a receiver gets.
type Body struct {
	Event    string      `json:"event"`
	Delivery string      `json:"delivery"`
	Alert    model.Alert `json:"alert"`
}

// entry is a queued delivery with its tries so far.
type entry struct {
	Body     Body      `json:"body"`
	Attempts int       `json:"-"` // the head's, in memory
	Queued   time.Time `json:"queued"`
}

// Failed is a delivery that exhausted its attempts.
type Failed struct {
	Receiver  string    `json:"receiver"`
	Delivery  string    `json:"delivery"`
	Event     string    `json:"event"`
	Alert     string    `json:"alert_id"`
	Rule      string    `json:"rule"`
	StreamID  string    `json:"stream_id"`
	LastError string    `json:"last_error"`
	Queued    time.Time `json:"queued"`
}

// Receiver delivers to one notify block. Enqueue may be called from any
// goroutine; Run delivers.
type Receiver struct {
	cfg    config.Notify
	log    hclog.Logger
	client *http.Client
	now    func() time.Time

	mu sync.Mutex // owns sp and the counters below
	sp *spool.Spool
	// delivered, retries and failed count since start; failed also the
	// deliveries found failed on disk.
	delivered, retries, failed int64
	lastError                  string
	wake                       chan struct{}
}

// Open opens the receiver's queue in dir (created), with what an earlier
// run left in it.
func Open(cfg config.Notify, dir string, log hclog.Logger) (*Receiver, error) {
	sp, err := spool.Open(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("notify %q: queue: %w", cfg.Name, err)
	}
	r := &Receiver{cfg: cfg, log: log.With("receiver", cfg.Name), sp: sp, now: time.Now,
		client: &http.Client{Timeout: 10 * time.Second}, wake: make(chan struct{}, 1)}
	r.failed = int64(len(r.failedOnDisk()))
	return r, nil
}

// Name is the notify block's name.
func (r *Receiver) Name() string { return r.cfg.Name }

// Wants tells whether the rule's alerts go to this receiver.
func (r *Receiver) Wants(rule string) bool { return rules.MatchAny(r.cfg.Rules, rule) }

// Enqueue queues an alert's start (End nil) or end, durably: when it
// returns nil the delivery survives a restart.
func (r *Receiver) Enqueue(a model.Alert) error {
	ev := EventStart
	if a.End != nil {
		ev = EventEnd
	}
	b, err := json.Marshal(entry{Body: Body{Event: ev, Delivery: a.ID + "/" + ev, Alert: a}, Queued: r.now().UTC()})
	if err != nil {
		return fmt.Errorf("notify %q: %w", r.cfg.Name, err)
	}
	r.mu.Lock()
	_, err = r.sp.Append(b)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("notify %q: queue: %w", r.cfg.Name, err)
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close releases the queue; Run must have returned.
func (r *Receiver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sp.Close()
}

// Run delivers the queue, oldest first, until ctx ends.
func (r *Receiver) Run(ctx context.Context) {
	// The head's tries live here: its record on disk stays as queued (a
	// restart starts the count over, which only adds tries).
	var headSeq uint64
	headAttempts := 0
	for {
		r.mu.Lock()
		rec, ok := r.sp.Oldest()
		var data []byte
		var err error
		if ok {
			data, err = r.sp.Read(rec)
		}
		r.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			}
			continue
		}
		var e entry
		if err == nil {
			err = json.Unmarshal(data, &e)
		}
		if err != nil {
			r.reject(rec, "unreadable queue record: "+err.Error())
			continue
		}
		if rec.Seq == headSeq {
			e.Attempts = headAttempts
		}
		wait, done := r.attempt(ctx, rec, &e)
		headSeq, headAttempts = rec.Seq, e.Attempts
		if done {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// attempt posts e once. done: it left the queue (delivered or failed for
// good); else wait before the next try.
func (r *Receiver) attempt(ctx context.Context, rec spool.Record, e *entry) (wait time.Duration, done bool) {
	err := r.post(ctx, e.Body)
	if ctx.Err() != nil {
		return 0, false
	}
	e.Attempts++
	if err == nil {
		r.mu.Lock()
		rmErr := r.sp.Remove(rec)
		r.delivered++
		r.mu.Unlock()
		if rmErr != nil {
			r.log.Error("delivered, but not taken off the queue: it may go again", "delivery", e.Body.Delivery, "error", rmErr)
		}
		r.log.Debug("delivered", "delivery", e.Body.Delivery, "attempts", e.Attempts)
		return 0, true
	}
	r.mu.Lock()
	r.retries++
	r.lastError = err.Error()
	r.mu.Unlock()
	if e.Attempts >= r.cfg.MaxAttempts {
		r.reject(rec, fmt.Sprintf("%d attempts, last: %s", e.Attempts, err))
		return 0, true
	}
	d := r.cfg.RetryMin << min(e.Attempts-1, 30)
	d = min(max(d, r.cfg.RetryMin), r.cfg.RetryMax)
	d = time.Duration(float64(d) * (0.5 + rand.Float64())) // jitter: receivers recovering are not stampeded
	r.log.Warn("delivery failed; retrying", "delivery", e.Body.Delivery, "attempt", e.Attempts, "wait", d, "error", err)
	return d, false
}

func (r *Receiver) post(ctx context.Context, b Body) error {
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts, sig := telemetry.Sign(r.cfg.Secret, r.now(), body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telemetry.HeaderTimestamp, ts)
	req.Header.Set(telemetry.HeaderSignature, sig)
	req.Header.Set(HeaderDelivery, b.Delivery)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

func (r *Receiver) reject(rec spool.Record, why string) {
	r.mu.Lock()
	err := r.sp.Reject(rec, why)
	r.failed++
	r.mu.Unlock()
	r.log.Error("delivery failed for good; kept", "why", why, "error", err)
}

// Health is the receiver's state: queued, delivered, retries, failed.
func (r *Receiver) Health() model.ComponentHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := model.ComponentHealth{Name: r.cfg.Name, Kind: "notify", Health: model.HealthOK, Counters: map[string]int64{
		"queued": r.sp.Len(), "delivered": r.delivered, "retries": r.retries, "failed": r.failed}}
	switch {
	case r.failed > 0:
		h.Health, h.Hint = model.HealthDegraded, fmt.Sprintf("%d deliveries failed for good (GET /api/v1/notifications/failed)", r.failed)
	case r.sp.Len() > 0 && r.lastError != "":
		h.Health, h.Hint = model.HealthDegraded, "retrying: "+r.lastError
	}
	return h
}

// Failed lists the deliveries that exhausted their attempts.
func (r *Receiver) Failed() []Failed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failedOnDisk()
}

func (r *Receiver) failedOnDisk() []Failed {
	payloads, why := r.sp.ReadRejected()
	out := make([]Failed, 0, len(payloads))
	for i, data := range payloads {
		var e entry
		if data != nil {
			if err := json.Unmarshal(data, &e); err != nil {
				why[i] = "unreadable: " + err.Error()
			}
		}
		out = append(out, Failed{Receiver: r.cfg.Name, Delivery: e.Body.Delivery, Event: e.Body.Event, Alert: e.Body.Alert.ID,
			Rule: e.Body.Alert.Rule, StreamID: e.Body.Alert.StreamID, Queued: e.Queued, LastError: why[i]})
	}
	return out
}
