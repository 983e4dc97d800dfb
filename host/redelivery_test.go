package host

// Redelivery bookkeeping of lossless consumers (issue #15 item 4): what a
// dead plugin process held or had not acknowledged is handed to its
// successor, and every result counts exactly once. The plugin processes here
// are goroutines; the consumer's methods are the host's own.

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/config"
	"github.com/lsie-mlf/lsie/host/events"
	"github.com/lsie-mlf/lsie/host/insight"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/segment"
	"github.com/lsie-mlf/lsie/sdk"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/validate"
	"github.com/lsie-mlf/lsie/shm"
)

// redeliveryRig is a stream runner whose assembler collects closed
// segments, and one consumer of it.
type redeliveryRig struct {
	s    *streamRunner
	c    *consumer
	mu   sync.Mutex
	segs []model.Segment
}

func newRedeliveryRig(t *testing.T, lossless bool, info segment.PluginInfo) *redeliveryRig {
	t.Helper()
	r := &redeliveryRig{}
	h := &Host{obs: observers{bus: events.New(), live: insight.NewLive()}, opts: Options{LeaseTimeout: time.Minute}}
	t.Cleanup(h.obs.bus.Close)
	r.s = &streamRunner{h: h, cfg: config.Stream{ID: "s"}, log: hclog.NewNullLogger(), lossless: lossless, handle: 1}
	r.s.asm = segment.New(segment.Config{StreamID: "s", Duration: time.Second, MaxCloseDelay: time.Hour, AudioRate: capture.AudioRate,
		Plugins: []segment.PluginInfo{info}}, func(seg model.Segment) {
		r.mu.Lock()
		r.segs = append(r.segs, seg)
		r.mu.Unlock()
	})
	r.s.asm.Start(time.Now())
	r.c = &consumer{id: 1, name: info.Name, s: r.s, window: 4, inFlight: map[uint64]frameRef{},
		audioInFlight: map[uint64]*sentAudio{}, audioQ: make(chan audioJob, audioBound), audioDone: make(chan struct{}),
		audioAck: math.MinInt64, audioFloor: math.MinInt64, wantsAudio: info.Audio,
		msg:    messageState{partial: map[string]*envelope{}, inFlight: map[uint64]*envelope{}, bound: defaultEventBound},
		checks: validate.NewResults(&pluginv1.Manifest{})} // a manifest declaring no fields: any goes
	r.c.cond = sync.NewCond(&r.c.mu)
	r.s.consumers = []*consumer{r.c}
	return r
}

func (r *redeliveryRig) closed() []model.Segment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Segment(nil), r.segs...)
}

// die is the supervisor's part when a process is gone: down, then dead.
func (c *consumer) testDie() {
	c.markDown()
	c.died(nil)
}

// hopPlugin is a stand-in for an acoustic plugin process: a Hopper over the
// sample line it is handed (fresh per process), one item per 10 ms hop,
// progress at the next hop. It answers records from inbox until it has
// answered dieAfter of them (0: never dies); then it dies holding the next.
type hopPlugin struct {
	c        *consumer
	inbox    chan []byte
	dieAfter int
	done     chan struct{}
}

func startHopPlugin(c *consumer, dieAfter int, handed [][]byte) *hopPlugin {
	p := &hopPlugin{c: c, inbox: make(chan []byte, 4096), dieAfter: dieAfter, done: make(chan struct{})}
	for _, pkt := range handed {
		p.inbox <- pkt
	}
	go p.run()
	return p
}

func (p *hopPlugin) run() {
	defer close(p.done)
	hopper := sdk.NewHopper(160, 480)
	answered := 0
	for pkt := range p.inbox {
		if p.dieAfter > 0 && answered == p.dieAfter {
			return // SIGKILL: this record and the rest in flight are never answered
		}
		hdr, pcm, err := dataplane.ParseAudio(pkt)
		if err != nil {
			panic(err)
		}
		a := &sdk.Audio{FirstSample: hdr.FirstSample, SampleRate: int(hdr.Rate), End: hdr.Flags&dataplane.AudioEnd != 0}
		if hdr.Flags&dataplane.AudioGap != 0 {
			a.GapSamples = int64(hdr.Samples)
		}
		for i := 0; i+1 < len(pcm); i += 2 {
			a.Samples = append(a.Samples, int16(binary.LittleEndian.Uint16(pcm[i:])))
		}
		res := &pluginv1.Result{Handle: hdr.Handle, Seq: hdr.Seq, Input: pluginv1.Input_INPUT_AUDIO}
		emit := func(_ int64, pts time.Duration, _ []float32) {
			res.Items = append(res.Items, &pluginv1.Item{PtsNs: int64(pts), DurationNs: int64(10 * time.Millisecond),
				Fields: map[string]float64{"hop": pts.Seconds()}})
		}
		if a.End {
			hopper.Flush(emit)
			res.ProgressNs = math.MaxInt64
		} else {
			hopper.Push(a, emit)
			res.ProgressNs = int64(hopper.Next())
		}
		p.c.onAudioResult(res) // the host's reader goroutine
		answered++
	}
}

// sendAudioTo is the lossless sender's part for one record: wait for the
// plugin and for room, record it in flight, write it to the current
// process (which may die before reading it).
func (c *consumer) testSendAudio(j audioJob, cur func() *hopPlugin) {
	c.mu.Lock()
	for c.down || c.dead || c.audioUnsettled >= audioBound {
		c.cond.Wait()
	}
	c.trackAudioLocked(j)
	p := cur()
	c.mu.Unlock()
	p.inbox <- j.pkt
}

// TestLosslessAudioAcrossKills: an audio plugin killed three times, each
// time holding records in flight, with a result settled but its hops not all
// produced (progress mid-record): its successors are handed the sample line
// from the acknowledged progress on, and every 10 ms hop of the 5 s is
// stored exactly once, every chunk settled once, every segment complete.
func TestLosslessAudioAcrossKills(t *testing.T) {
	r := newRedeliveryRig(t, true, segment.PluginInfo{Name: "acoustic", Audio: true})
	c := r.c
	const chunks = 50 // 5 s
	var mu sync.Mutex // guards plugin (the current process)
	plugin := startHopPlugin(c, 7, nil)
	cur := func() *hopPlugin { mu.Lock(); defer mu.Unlock(); return plugin }

	// The supervisor: when a process dies, the consumer goes down, the
	// process is found dead, and a new one is handed what the dead one
	// held. The last one lives.
	lives := []int{13, 9, 0}
	supervised := make(chan struct{})
	go func() {
		defer close(supervised)
		for _, next := range lives {
			p := cur()
			<-p.done
			c.testDie()
			_, audio := c.handOver()
			np := startHopPlugin(c, next, audio)
			mu.Lock()
			plugin = np
			mu.Unlock()
			c.mu.Lock()
			c.down, c.dead = false, false
			c.restarts++
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}()

	pcm := make([]byte, 2*1600)
	for i := range 1600 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(8000*math.Sin(float64(i)/8))))
	}
	for k := range chunks {
		first := int64(k) * 1600
		r.s.asm.AudioCaptured(first, 1600, capture.AudioRate)
		j := newAudioJob(dataplane.Audio{Handle: 1, FirstSample: first, PTS: int64(sampleDuration(first, capture.AudioRate)),
			Seq: uint64(k + 1), Samples: 1600, Rate: capture.AudioRate}, pcm)
		r.s.asm.Assigned(c.name, time.Duration(j.hdr.PTS))
		c.testSendAudio(j, cur)
		r.s.asm.Progress(sampleDuration(first+1600, capture.AudioRate))
	}
	c.testSendAudio(newAudioJob(dataplane.Audio{Flags: dataplane.AudioEnd, Handle: 1, Seq: chunks + 1,
		FirstSample: chunks * 1600, Rate: capture.AudioRate}, nil), cur)
	<-supervised
	c.mu.Lock()
	for c.audioUnsettled > 0 || len(c.audioInFlight) > 0 {
		c.cond.Wait()
	}
	resent, dups, restarts := c.audioResent, c.audioDuplicates, c.restarts
	c.mu.Unlock()
	close(cur().inbox)
	<-cur().done
	r.s.asm.Finish(5*time.Second, model.ReasonEndOfStream)

	segs := r.closed()
	if len(segs) != 5 {
		t.Fatalf("%d segments closed, want 5", len(segs))
	}
	seen := map[time.Duration]int{}
	for _, seg := range segs {
		p := seg.Plugins["acoustic"]
		if seg.Status != model.SegmentComplete || p.Errors != 0 || p.AudioSeconds != 1 || len(p.Items) != 100 {
			t.Errorf("segment %d: %s %v, errors %d, audio %v s, %d hops", seg.Index, seg.Status, seg.Reasons, p.Errors, p.AudioSeconds, len(p.Items))
		}
		for _, it := range p.Items {
			seen[it.PTS]++
		}
	}
	for k := range chunks * 10 {
		if n := seen[time.Duration(k)*10*time.Millisecond]; n != 1 {
			t.Errorf("hop at %v stored %d times", time.Duration(k)*10*time.Millisecond, n)
		}
	}
	if restarts != 3 || resent == 0 {
		t.Errorf("restarts %d, records handed again %d", restarts, resent)
	}
	t.Logf("3 kills: %d records handed again, %d duplicate hops dropped", resent, dups)
}

// TestAudioRecordFrom: a record cut at a sample keeps its seq and carries
// the samples (or gap) from there, at the right media time.
func TestAudioRecordFrom(t *testing.T) {
	pcm := make([]byte, 2*1600)
	for i := range 1600 {
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(i))
	}
	j := newAudioJob(dataplane.Audio{Handle: 1, FirstSample: 16000, PTS: int64(time.Second), Seq: 11, Samples: 1600, Rate: 16000}, pcm)
	hdr, got, err := dataplane.ParseAudio(j.from(16480).pkt)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Seq != 11 || hdr.FirstSample != 16480 || hdr.Samples != 1120 || hdr.PTS != int64(time.Second+30*time.Millisecond) ||
		len(got) != 2*1120 || binary.LittleEndian.Uint16(got) != 480 {
		t.Errorf("cut record %+v with %d bytes starting at sample value %d", hdr, len(got), binary.LittleEndian.Uint16(got))
	}
	gap := newAudioJob(dataplane.Audio{Flags: dataplane.AudioGap, Handle: 1, FirstSample: 0, Seq: 3, Samples: 800, Rate: 16000}, nil)
	if hdr, _, err := dataplane.ParseAudio(gap.from(160).pkt); err != nil || hdr.FirstSample != 160 || hdr.Samples != 640 || hdr.Flags != dataplane.AudioGap {
		t.Errorf("cut gap %+v %v", hdr, err)
	}
	for _, at := range []int64{15000, 16000, 17600, 20000} {
		if got := j.from(at); got.hdr != j.hdr {
			t.Errorf("cut at %d outside the record changed it: %+v", at, got.hdr)
		}
	}
}

// TestLosslessFramesKeptAcrossKill: frames a dead process held keep their
// leases (slots are not reclaimed) and go to its successor in seq order with
// a fresh lease; their results count once. A plugin given up settles them as
// lost and frees the slots.
func TestLosslessFramesKeptAcrossKill(t *testing.T) {
	for _, giveUp := range []bool{false, true} {
		t.Run(fmt.Sprintf("given_up=%v", giveUp), func(t *testing.T) {
			r := newRedeliveryRig(t, true, segment.PluginInfo{Name: "visual"})
			c := r.c
			c.wantsVideo = true
			reg, err := shm.CreateRegion(1, "redelivery", shm.RegionSpec{Slots: 4, FrameBytes: 64})
			if err != nil {
				t.Fatal(err)
			}
			pool := shm.NewPool(reg)
			t.Cleanup(func() { pool.Close(); reg.Close() })
			past := time.Now().Add(-time.Second)
			for seq := uint64(3); seq >= 1; seq-- {
				slot, _ := pool.TryAcquire()
				pts := time.Duration(seq) * 100 * time.Millisecond
				reg.BeginWrite(slot)
				gen := reg.EndWrite(slot, 1, seq, int64(pts), 1)
				pool.Publish(slot, gen, []shm.ConsumerID{c.id}, past)
				r.s.asm.Frame(pts)
				r.s.asm.Assigned(c.name, pts)
				c.inFlight[seq] = frameRef{pool: pool, desc: shm.Descriptor{Stream: 1, Region: 1, Slot: uint32(slot), Generation: gen, Seq: seq, PTS: int64(pts)}}
			}
			c.testDie()
			if st := pool.Stats(); st.Leased != 3 || len(c.inFlight) != 3 || c.lost != 0 {
				t.Fatalf("after the death: pool %+v, %d in flight, %d lost", st, len(c.inFlight), c.lost)
			}
			if giveUp {
				c.giveUp()
				if st := pool.Stats(); st.Free != 4 || c.lost != 3 {
					t.Errorf("given up: pool %+v, lost %d", st, c.lost)
				}
				r.s.asm.Finish(time.Second, model.ReasonEndOfStream)
				if p := r.closed()[0].Plugins["visual"]; p.Errors != 3 {
					t.Errorf("given up: segment %+v", p)
				}
				return
			}
			frames, _ := c.handOver()
			for i, f := range frames {
				if f.desc.Seq != uint64(i+1) {
					t.Errorf("handed frame %d has seq %d", i, f.desc.Seq)
				}
				if err := f.pool.Renew(int(f.desc.Slot), f.desc.Generation, c.id, time.Now().Add(time.Minute)); err != nil {
					t.Errorf("renewing a kept lease: %v", err)
				}
			}
			if len(pool.Expired(time.Now())) != 0 {
				t.Error("kept frames' leases not renewed")
			}
			c.down, c.dead = false, false
			for _, f := range frames {
				res := &pluginv1.Result{Handle: 1, Seq: f.desc.Seq, PtsNs: f.desc.PTS, Fields: map[string]float64{"v": 1}}
				ack := dataplane.Ack{Region: 1, Slot: f.desc.Slot, Generation: f.desc.Generation, Handle: 1}
				c.onResult(ack, res)
				c.onResult(ack, res) // a stray second answer counts nothing
			}
			r.s.asm.Finish(time.Second, model.ReasonEndOfStream)
			p := r.closed()[0].Plugins["visual"]
			if st := pool.Stats(); st.Free != 4 || p.FramesAnalysed != 3 || p.Errors != 0 || c.analysed != 3 || c.framesResent != 3 {
				t.Errorf("pool %+v, segment %+v, analysed %d, resent %d", st, p, c.analysed, c.framesResent)
			}
		})
	}
}

// TestLosslessMessagesAcrossKills: a consumer killed three times with events
// in flight answers every one exactly once (an answer that arrived is never
// sent again), in publish order.
func TestLosslessMessagesAcrossKills(t *testing.T) {
	r := newRedeliveryRig(t, true, segment.PluginInfo{Name: "listener"})
	c := r.c
	c.subscribes = true
	const n = 40
	for i := range n {
		c.deliver(&pluginv1.Message{Topic: "transcript.final@1", Producer: "talker", PtsNs: int64(i) * int64(100*time.Millisecond),
			Text: fmt.Sprint(i)}, true)
	}
	var answered []string
	// take is deliverLoop's part: up to the window in flight.
	take := func() []uint64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		var seqs []uint64
		for len(c.msg.queue) > 0 && len(c.msg.inFlight) < messageWindow {
			e := c.msg.queue[0]
			c.msg.queue = c.msg.queue[1:]
			c.msg.seq++
			e.seq = c.msg.seq
			c.msg.inFlight[e.seq] = e
			seqs = append(seqs, e.seq)
		}
		return seqs
	}
	answer := func(seq uint64) {
		c.mu.Lock()
		e := c.msg.inFlight[seq]
		c.mu.Unlock()
		answered = append(answered, e.m.GetText())
		c.onMessageResult(&pluginv1.Result{Handle: 1, Seq: seq, Input: pluginv1.Input_INPUT_MESSAGE, Text: "heard " + e.m.GetText()})
	}
	for _, lifeAnswers := range []int{5, 0, 11, -1} {
		done := 0
		for lifeAnswers < 0 || done < lifeAnswers {
			seqs := take()
			if len(seqs) == 0 {
				break
			}
			for _, seq := range seqs {
				if lifeAnswers >= 0 && done == lifeAnswers {
					break // killed: the rest of the window is never answered
				}
				answer(seq)
				done++
			}
		}
		if lifeAnswers < 0 {
			break
		}
		c.testDie()
		c.handOver()
		c.mu.Lock()
		c.down, c.dead = false, false
		c.requeueInFlight()
		c.mu.Unlock()
	}
	r.s.asm.Finish(4*time.Second, model.ReasonEndOfStream)
	if len(answered) != n {
		t.Errorf("%d answers, want %d", len(answered), n)
	}
	stored := 0
	for _, seg := range r.closed() {
		p := seg.Plugins["listener"]
		stored += p.Messages
		if seg.Status != model.SegmentComplete || p.TextDropped != 0 || p.Errors != 0 {
			t.Errorf("segment %d: %s %v %+v", seg.Index, seg.Status, seg.Reasons, p)
		}
		for i, it := range p.Items {
			if want := fmt.Sprintf("heard %d", int(it.PTS/(100*time.Millisecond))); it.Text != want || (i > 0 && p.Items[i-1].PTS >= it.PTS) {
				t.Errorf("segment %d item %d: %q at %v", seg.Index, i, it.Text, it.PTS)
			}
		}
	}
	for i, a := range answered {
		if a != fmt.Sprint(i) {
			t.Fatalf("answers out of order or twice: %v", answered)
		}
	}
	if stored != n || c.msg.redelivered == 0 {
		t.Errorf("%d answers stored, %d redelivered", stored, c.msg.redelivered)
	}
}

// TestLosslessProducerRepublishes: a producer that died after publishing a
// final whose input it never answered publishes it again from the same input
// once restarted; the repeat (and partials of it) are dropped, once per
// predecessor, and new finals pass.
func TestLosslessProducerRepublishes(t *testing.T) {
	r := newRedeliveryRig(t, true, segment.PluginInfo{Name: "talker", Audio: true})
	c := r.c
	final := func(n int64, start time.Duration) *pluginv1.Message {
		return &pluginv1.Message{Topic: "transcript.final@1", PtsNs: int64(start), DurationNs: int64(500 * time.Millisecond), Text: fmt.Sprint(n)}
	}
	partial := &pluginv1.Message{Topic: "transcript.partial@1", PtsNs: int64(time.Second), DurationNs: int64(200 * time.Millisecond)}
	repeat := func(m *pluginv1.Message, event bool) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.republishedLocked(m, event)
	}
	answered := func(t time.Duration) {
		c.mu.Lock()
		c.answeredLocked(inputAudio, t)
		c.mu.Unlock()
	}
	// Process 1: utterance 0 ends and is acknowledged; utterance 1's final
	// goes out, then the process dies before its record's result.
	if repeat(final(0, 0), true) {
		t.Fatal("a first final dropped")
	}
	answered(500 * time.Millisecond)
	if repeat(final(1, 500*time.Millisecond), true) {
		t.Fatal("a first final dropped")
	}
	c.handOver()
	// Process 2 resumes at 0.5 s: utterance 1 again (a partial, then its
	// final from a slightly later onset), then utterance 2 is new; it dies
	// before acknowledging either.
	if !repeat(&pluginv1.Message{Topic: "transcript.partial@1", PtsNs: int64(500 * time.Millisecond), DurationNs: int64(100 * time.Millisecond)}, false) {
		t.Error("a partial of a final already published passed")
	}
	if !repeat(final(1, 520*time.Millisecond), true) {
		t.Error("a republished final passed")
	}
	if repeat(final(2, time.Second), true) || repeat(partial, false) {
		t.Error("a new final (or a partial of a new utterance) dropped")
	}
	c.handOver()
	// Process 3 resumes at 0.5 s again: both finals are repeats, once each.
	if !repeat(final(1, 500*time.Millisecond), true) || !repeat(final(2, time.Second), true) {
		t.Error("finals republished by a third process passed")
	}
	if repeat(final(2, time.Second), true) {
		t.Error("a final dropped twice for one predecessor")
	}
	answered(1500 * time.Millisecond)
	if repeat(final(3, 1500*time.Millisecond), true) {
		t.Error("a new final after the restarts dropped")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msg.dedup) != 0 {
		t.Errorf("marks left after the horizon passed them: %+v", c.msg.dedup)
	}
}

// TestLiveDeathSettlesAsLost: a live consumer keeps nothing for a restart:
// what the dead process held is lost and recorded, its audio progress no
// longer holds segments.
func TestLiveDeathSettlesAsLost(t *testing.T) {
	r := newRedeliveryRig(t, false, segment.PluginInfo{Name: "acoustic", Audio: true})
	c := r.c
	for k := range 3 {
		j := newAudioJob(dataplane.Audio{Handle: 1, FirstSample: int64(k) * 1600, PTS: int64(k) * int64(100*time.Millisecond),
			Seq: uint64(k + 1), Samples: 1600, Rate: 16000}, make([]byte, 3200))
		r.s.asm.AudioCaptured(j.hdr.FirstSample, 1600, 16000)
		r.s.asm.Assigned(c.name, time.Duration(j.hdr.PTS))
		c.mu.Lock()
		c.trackAudioLocked(j)
		c.mu.Unlock()
	}
	c.onAudioResult(&pluginv1.Result{Seq: 1, Input: pluginv1.Input_INPUT_AUDIO, ProgressNs: int64(90 * time.Millisecond)})
	c.testDie()
	c.mu.Lock()
	left := len(c.audioInFlight)
	c.mu.Unlock()
	if left != 0 {
		t.Errorf("%d records kept by a live consumer", left)
	}
	if _, audio := c.handOver(); len(audio) != 0 {
		t.Errorf("a live consumer hands %d records again", len(audio))
	}
	r.s.asm.Progress(time.Second)
	segs := r.closed()
	if len(segs) != 1 || segs[0].Plugins["acoustic"].Errors != 2 || segs[0].Reasons[0] != segment.ReasonPluginLost {
		t.Errorf("segments %+v", segs)
	}
}

// TestDrainWaitsForResultBeingSettled: the end of a stream drains each
// consumer, then closes its last segments. A result taken off the consumer's
// books and not yet handed to the assembler is still owed: drain waits for
// it, so the last frame counts as analysed in its segment instead of
// arriving late (a flake seen as "2 face.frame records for 1 frames").
func TestDrainWaitsForResultBeingSettled(t *testing.T) {
	r := newRedeliveryRig(t, false, segment.PluginInfo{Name: "visual"})
	c := r.c
	c.wantsVideo = true
	reg, err := shm.CreateRegion(1, "drain", shm.RegionSpec{Slots: 2, FrameBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	pool := shm.NewPool(reg)
	t.Cleanup(func() { pool.Close(); reg.Close() })
	slot, _ := pool.TryAcquire()
	pts := 500 * time.Millisecond
	reg.BeginWrite(slot)
	gen := reg.EndWrite(slot, 1, 1, int64(pts), 1)
	pool.Publish(slot, gen, []shm.ConsumerID{c.id}, time.Now().Add(time.Minute))
	r.s.asm.Frame(pts)
	r.s.asm.Assigned(c.name, pts)
	c.inFlight[1] = frameRef{pool: pool, desc: shm.Descriptor{Stream: 1, Region: 1, Slot: uint32(slot), Generation: gen, Seq: 1, PTS: int64(pts)}}
	r.s.asm.Progress(time.Second)

	taken, release := make(chan struct{}), make(chan struct{})
	c.testTaken = func() { close(taken); <-release }
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		c.onResult(dataplane.Ack{Region: 1, Slot: uint32(slot), Generation: gen, Handle: 1},
			&pluginv1.Result{Handle: 1, Seq: 1, PtsNs: int64(pts), Fields: map[string]float64{"v": 1}})
	}()
	<-taken
	finished := make(chan bool)
	go func() {
		drained := c.drain(time.Now().Add(time.Minute))
		r.s.asm.Finish(time.Second, model.ReasonEndOfStream)
		finished <- drained
	}()
	// The result stays held until the stream end has had every chance to
	// run ahead of it (a drain that does not wait returns at once).
	select {
	case <-finished:
		t.Fatal("drain returned while a result was being settled")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-answered
	if !<-finished {
		t.Error("drain timed out")
	}
	segs := r.closed()
	if len(segs) != 1 {
		t.Fatalf("%d segments", len(segs))
	}
	if p := segs[0].Plugins["visual"]; p.FramesAnalysed != 1 || len(p.Items) != 1 || segs[0].Status != model.SegmentComplete {
		t.Errorf("segment %s %v: %+v", segs[0].Status, segs[0].Reasons, p)
	}
}
