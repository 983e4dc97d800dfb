package host

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/topic"
)

// Bounds of topic delivery per (stream, consumer). The window keeps the
// plugin's per-stream queue from filling (dataplane.StreamQueue); the
// event bound (config `event_bound`, this default) is how far a slow
// consumer may fall behind before events are recorded as text_dropped
// instead of held: consumers never block producers.
const (
	messageWindow     = 16
	defaultEventBound = 256
)

// envelope is one message waiting for, or in flight to, a consumer.
type envelope struct {
	m *pluginv1.Message
	// event: lossless and Assigned to its segment; otherwise a partial.
	event bool
	key   string // producer + topic, for coalescing partials
	seq   uint64 // delivery seq while in flight
}

// messageState is a consumer's side of the plugin graph. It lives under the
// consumer's mu.
type messageState struct {
	queue    []*envelope          // in publish order
	partial  map[string]*envelope // the queued partial per key, replaced in place
	inFlight map[uint64]*envelope
	seq      uint64
	stopped  bool
	bound    int // events queued + in flight

	delivered, textDropped, coalesced, redelivered, published, rejected int64

	// Lossless restarts of a producer: marks are the final events the
	// current process published that a successor could publish again (the
	// input they came from is not answered yet, as far as horizon says);
	// dedup are the marks of dead processes, which a restarted one must not
	// publish twice (republished counts those it did).
	marks, dedup []pubMark
	horizon      [inputKinds]time.Duration
	republished  int64
}

// Input kinds a consumer answers: the horizon of what it has answered is
// kept per kind (messageState.horizon).
const (
	inputVideo = iota
	inputAudio
	inputMessage
	inputKinds
)

// maxPubMarks bounds marks and dedup each.
const maxPubMarks = 1024

// pubMark is one final event a producer published.
type pubMark struct {
	topic, family string
	pts, end      time.Duration
}

// covers reports whether a message at [pts, end) is the one m marks: the
// same media time, or (an utterance found again from a slightly different
// onset) an overlapping span.
func (m pubMark) covers(pts, end time.Duration) bool {
	return m.pts == pts || (pts < m.end && m.pts < end)
}

func markOf(msg *pluginv1.Message) pubMark {
	pts := time.Duration(msg.GetPtsNs())
	return pubMark{topic: msg.GetTopic(), family: topicFamily(msg.GetTopic()), pts: pts, end: pts + time.Duration(msg.GetDurationNs())}
}

// topicFamily is a topic without its last name part, with its major
// version: "transcript.partial@1" and "transcript.final@1" are both
// "transcript@1" (as the segment assembler ties a partial to its final).
func topicFamily(name string) string {
	base, major, _ := strings.Cut(name, "@")
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		base = base[:i]
	} else {
		base = ""
	}
	return base + "@" + major
}

// onPublish runs on the producer's reader goroutine when it publishes on
// this stream: the message is checked, recorded and routed to consumers.
func (c *consumer) onPublish(m *pluginv1.Message) {
	err := c.checks.Message(m)
	t, _ := topic.Parse(m.GetTopic()) // it parses when err is nil
	if err != nil {
		c.mu.Lock()
		c.msg.rejected++
		c.mu.Unlock()
		c.s.log.Warn("plugin published a message the host refuses", "plugin", c.name, "topic", m.GetTopic(), "error", err)
		return
	}
	m.Producer = c.name
	c.mu.Lock()
	if c.s.lossless && c.republishedLocked(m, !t.Coalesces()) {
		c.msg.republished++
		c.mu.Unlock()
		return
	}
	c.msg.published++
	c.mu.Unlock()
	c.s.published(c.name, m)
	for _, sub := range c.s.routes[c.name][m.GetTopic()] {
		sub.deliver(m, !t.Coalesces())
	}
}

// republishedLocked reports whether a lossless producer's message repeats
// what a dead process of it published already, and marks the finals it
// publishes (a successor could publish them again). A restarted process is
// handed again the input its predecessor had not answered, and publishes
// again what that input made: a final it published before dying, or a
// partial of it, must not be stored and delivered twice.
func (c *consumer) republishedLocked(m *pluginv1.Message, event bool) bool {
	mk := markOf(m)
	if !event {
		for _, d := range c.msg.dedup {
			if d.family == mk.family && d.covers(mk.pts, mk.end) {
				return true // its final is there already
			}
		}
		return false
	}
	if len(c.msg.marks) >= maxPubMarks {
		c.msg.marks = c.msg.marks[1:]
	}
	c.msg.marks = append(c.msg.marks, mk)
	for i, d := range c.msg.dedup {
		if d.topic == mk.topic && d.covers(mk.pts, mk.end) {
			c.msg.dedup = slices.Delete(c.msg.dedup, i, i+1)
			return true
		}
	}
	return false
}

// answeredLocked notes that the current process answered input of kind at
// media time t (a frame's or message's PTS, audio progress): marks before
// the horizon of every kind it consumes came from answered input, and no
// successor publishes them again.
func (c *consumer) answeredLocked(kind int, t time.Duration) {
	if !c.s.lossless {
		return
	}
	c.msg.horizon[kind] = max(c.msg.horizon[kind], t)
	h := time.Duration(math.MaxInt64)
	for k, wants := range [inputKinds]bool{c.wantsVideo, c.wantsAudio, c.subscribes} {
		if wants {
			h = min(h, c.msg.horizon[k])
		}
	}
	before := func(m pubMark) bool { return m.pts < h }
	c.msg.marks = slices.DeleteFunc(c.msg.marks, before)
	c.msg.dedup = slices.DeleteFunc(c.msg.dedup, before)
}

// restartPublishesLocked starts a restarted process: the marks of the dead
// one are what it must not publish again.
func (c *consumer) restartPublishesLocked() {
	c.msg.dedup = append(c.msg.dedup, c.msg.marks...)
	if n := len(c.msg.dedup); n > maxPubMarks {
		c.msg.dedup = c.msg.dedup[n-maxPubMarks:]
	}
	c.msg.marks = nil
	for k := range c.msg.horizon {
		c.msg.horizon[k] = math.MinInt64
	}
}

// published records an accepted message of producer: the segment keeps it
// (a partial only until its final arrives), and live clients get the very
// item the segment keeps, fields and payload included, partials too (the
// live transcript shows them as they come).
func (s *streamRunner) published(producer string, m *pluginv1.Message) {
	it := publishedItem(m)
	s.asm.Published(producer, it)
	s.observe(producer, it)
}

// publishedItem is the item a published message is stored as. Its fields
// and payload are shared with the message, which nobody modifies after
// publishing.
func publishedItem(m *pluginv1.Message) model.Item {
	return model.Item{PTS: time.Duration(m.GetPtsNs()), Duration: time.Duration(m.GetDurationNs()),
		Fields: m.GetFields(), Topic: m.GetTopic(), Text: m.GetText(), Payload: m.GetPayload()}
}

// deliver queues m for this consumer without ever waiting: events up to
// eventBound (then text_dropped), partials coalesced per producer and topic.
func (c *consumer) deliver(m *pluginv1.Message, event bool) {
	pts := time.Duration(m.GetPtsNs())
	if event {
		// Assigned first: the result may settle it as soon as it is queued.
		c.s.asm.Assigned(c.name, pts)
	}
	e := &envelope{m: m, event: event, key: m.GetProducer() + "\x00" + m.GetTopic()}
	c.mu.Lock()
	switch {
	case event && (c.gaveUp || c.msg.stopped || len(c.msg.queue)+len(c.msg.inFlight) >= c.msg.bound):
		c.msg.textDropped++
		c.mu.Unlock()
		c.s.asm.TextDropped(c.name, pts)
		return
	case !event && (c.gaveUp || c.msg.stopped):
		c.mu.Unlock()
		return
	case !event && c.msg.partial[e.key] != nil:
		c.msg.partial[e.key].m = m // latest wins, in the superseded one's place
		c.msg.coalesced++
	default:
		if !event {
			c.msg.partial[e.key] = e
		}
		c.msg.queue = append(c.msg.queue, e)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// deliverLoop sends queued messages while the plugin is up and its window
// has room; it ends when the stream stops delivering.
func (c *consumer) deliverLoop() {
	for {
		c.mu.Lock()
		for !c.msg.stopped && (c.down || c.dead || len(c.msg.queue) == 0 || len(c.msg.inFlight) >= messageWindow) {
			c.cond.Wait()
		}
		if c.msg.stopped {
			c.mu.Unlock()
			return
		}
		e := c.msg.queue[0]
		c.msg.queue = c.msg.queue[1:]
		if !e.event && c.msg.partial[e.key] == e {
			delete(c.msg.partial, e.key)
		}
		c.msg.seq++
		e.seq = c.msg.seq
		c.msg.inFlight[e.seq] = e
		proc := c.proc
		c.mu.Unlock()
		if err := proc.SendMessage(c.s.handle, e.seq, e.m); err != nil {
			// It stays in flight and goes again after the restart.
			c.markDownIf(proc)
		}
	}
}

// onMessageResult settles one delivered message.
func (c *consumer) onMessageResult(res *pluginv1.Result) {
	c.mu.Lock()
	e, ok := c.msg.inFlight[res.GetSeq()]
	delete(c.msg.inFlight, res.GetSeq())
	if ok && res.GetError() == nil {
		c.msg.delivered++
	} else if ok {
		c.errors++
	}
	if ok {
		c.answeredLocked(inputMessage, time.Duration(e.m.GetPtsNs()))
		c.settling++
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if !ok {
		c.s.log.Warn("result for a message not in flight", "plugin", c.name, "seq", res.GetSeq())
		return
	}
	defer c.settled()
	item := model.Item{PTS: time.Duration(e.m.GetPtsNs()), Duration: time.Duration(e.m.GetDurationNs()), Fields: res.GetFields(),
		Text: res.GetText(), Payload: res.GetPayload()}
	if err := res.GetError(); err != nil {
		item.Error, item.Fields, item.Text, item.Payload = err.GetCode()+": "+err.GetMessage(), nil, "", nil
	} else if msg := answerError(c.checks, res); msg != "" {
		item.Error, item.Fields, item.Text, item.Payload = msg, nil, "", nil
	}
	c.s.asm.MessageResult(c.name, item, e.event)
	c.s.observe(c.name, item)
}

// requeueInFlight puts the messages a dead process never answered back at
// the head of the queue, in delivery order, for the restarted one. Partials
// go only if nothing newer for their key is queued. Called with mu held; it
// returns the media times of the events sent again.
func (c *consumer) requeueInFlight() []time.Duration {
	if len(c.msg.inFlight) == 0 {
		return nil
	}
	again := make([]*envelope, 0, len(c.msg.inFlight))
	for _, e := range c.msg.inFlight {
		if !e.event {
			if c.msg.partial[e.key] != nil {
				continue
			}
			c.msg.partial[e.key] = e
		}
		again = append(again, e)
	}
	slices.SortFunc(again, func(a, b *envelope) int { return cmp.Compare(a.seq, b.seq) })
	c.msg.redelivered += int64(len(again))
	c.msg.queue = append(again, c.msg.queue...)
	clear(c.msg.inFlight)
	var pts []time.Duration
	for _, e := range again {
		if e.event {
			pts = append(pts, time.Duration(e.m.GetPtsNs()))
		}
	}
	return pts
}

// dropMessages settles every held event as text_dropped (the consumer gave
// up, or the stream stopped with events still undelivered).
func (c *consumer) dropMessages() {
	c.mu.Lock()
	var lost []time.Duration
	for _, e := range append(c.msg.queue, slices.Collect(maps.Values(c.msg.inFlight))...) {
		if e.event {
			lost = append(lost, time.Duration(e.m.GetPtsNs()))
		}
	}
	c.msg.queue, c.msg.partial = nil, map[string]*envelope{}
	clear(c.msg.inFlight)
	c.msg.textDropped += int64(len(lost))
	c.settling++
	c.cond.Broadcast()
	c.mu.Unlock()
	defer c.settled()
	for _, pts := range lost {
		c.s.asm.TextDropped(c.name, pts)
	}
}

// stopMessages ends the deliver loop.
func (c *consumer) stopMessages() {
	c.mu.Lock()
	c.msg.stopped = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// messageCounters adds the graph's counters (under mu) to out.
func (c *consumer) messageCounters(out map[string]int64) {
	if c.subscribes {
		out["messages"], out["text_dropped"], out["partials_coalesced"], out["redelivered"], out["messages_queued"] =
			c.msg.delivered, c.msg.textDropped, c.msg.coalesced, c.msg.redelivered, int64(len(c.msg.queue)+len(c.msg.inFlight))
	}
	if c.msg.published > 0 || c.msg.rejected > 0 {
		out["published"], out["publish_rejected"] = c.msg.published, c.msg.rejected
	}
	if c.msg.republished > 0 {
		out["republished_dropped"] = c.msg.republished
	}
}
