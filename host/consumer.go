package host

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lsie-mlf/lsie/host/metrics"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/host/plugin"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/sdk/topic"
	"github.com/lsie-mlf/lsie/sdk/validate"
	"github.com/lsie-mlf/lsie/shm"
)

// frameRef is one published frame as a consumer holds it.
type frameRef struct {
	pool *shm.Pool
	desc shm.Descriptor
}

// consumer is one (stream, plugin) edge: a bounded in-flight window and,
// for live sources, one waiting "latest" frame (Contract 1).
type consumer struct {
	id     shm.ConsumerID
	name   string
	proc   *plugin.Process
	s      *streamRunner
	window int

	// checks are the plugin's manifest's result rules.
	checks *validate.Results
	// attrValues are the plugin block's attributes as OpenStream gets
	// them: checked against the plugin's schema, defaults filled in.
	attrValues map[string]string
	// wantsVideo and wantsAudio come from the plugin's manifest inputs:
	// video in the memory the stream's frames live in (assignVideo).
	wantsVideo, wantsAudio bool
	// view is which view of the stream's frame store it reads (frameStore):
	// 0 the frame as captured, 1.. a preprocessed model input.
	view int
	// subscribes: the plugin consumes other plugins' topics on this stream.
	subscribes bool
	audioQ     chan audioJob
	audioDone  chan struct{}
	audioSeq   uint64 // written by capture's thread only

	mu       sync.Mutex
	cond     *sync.Cond
	inFlight map[uint64]frameRef // by seq
	pending  *frameRef
	// audioInFlight is every audio record sent and not yet done with, by
	// audio seq: live, until its result; lossless, until the plugin's
	// progress covers it too, so a restarted process can be handed the
	// sample line again from there (audio.go).
	audioInFlight map[uint64]*sentAudio
	// audioUnsettled counts the records in audioInFlight without a result.
	audioUnsettled int
	// settling counts answers (results, losses, skips) taken off the
	// books above and not yet handed to the Assembler. drain waits for
	// them too: otherwise Finish could close a segment an instant before
	// its last result lands, and that result would arrive late.
	settling int
	// gate holds frames back while nothing moves (config.Gate); nil
	// sends every frame. gated counts the frames it held back.
	gate  *gate
	gated int64
	// testTaken, when set (tests only), runs on the result path between
	// taking a frame off the books and settling it.
	testTaken func()
	// audioAck is the plugin's audio progress (every item before it has
	// arrived); audioFloor is audioAck at the last restart: items before it
	// from the restarted process are duplicates.
	audioAck, audioFloor time.Duration
	// down: stop sending (data plane broken, process dying); dead: the
	// process is gone (live: and its slots were reclaimed). Down comes
	// first, at once; dead only once nothing can still read the slots. A
	// lossless consumer keeps what the dead process held for its successor.
	down, dead bool
	// gaveUp: the plugin is in error for good, or (failed) closed this
	// stream; nothing waits for it.
	gaveUp bool
	// outcomes judges the plugin's recent segments (pluginhealth.go).
	outcomes outcomes
	// answeredAt is when the plugin last answered anything on this stream
	// (unix ns): a lease past its deadline on a stream still answered is a
	// slow stream, not a hung plugin (Host.tick).
	answeredAt atomic.Int64
	// slowLease is set while that is so, for health.
	slowLease atomic.Bool
	// failed is why the plugin closed this stream alone (its SDK's
	// stream_failed after repeated panics); "" while it serves it.
	failed string
	msg    messageState

	analysed, skipped, errors, lost int64
	audioAnalysed, audioDropped     int64
	restarts                        int64
	// Lossless redelivery after restarts: frames and audio records handed
	// again, audio items a restarted process produced twice (dropped).
	framesResent, audioResent, audioDuplicates int64
	handoff, audioLatency                      latencyStats
	// slotToResult is this (stream, plugin)'s latency series in /metrics.
	slotToResult metrics.Latency
	// diedAt is when the plugin was found dead; the first result after it
	// revives measures recovery (crash → results flowing again).
	diedAt   time.Time
	recovery latencyStats
}

func newConsumer(id shm.ConsumerID, name string, proc *plugin.Process, s *streamRunner, window int) *consumer {
	c := &consumer{id: id, name: name, proc: proc, s: s, window: window, inFlight: map[uint64]frameRef{},
		audioInFlight: map[uint64]*sentAudio{}, audioQ: make(chan audioJob, audioBound), audioDone: make(chan struct{}),
		audioAck: math.MinInt64, audioFloor: math.MinInt64,
		msg: messageState{partial: map[string]*envelope{}, inFlight: map[uint64]*envelope{}, bound: defaultEventBound}}
	c.cond = sync.NewCond(&c.mu)
	c.slotToResult = s.h.obs.metrics.SlotToResult(s.cfg.ID, name)
	c.checks = proc.Results()
	for _, in := range proc.Manifest().GetInputs() {
		if in == topic.AudioPCM16k {
			c.wantsAudio = true
		}
	}
	return c
}

// offer hands a published frame to the plugin. Lossless: waits for room in
// the window, and through a restart of the plugin. Live: never waits; a
// newer frame replaces the waiting one.
func (c *consumer) offer(ctx context.Context, f frameRef, lossless bool) {
	c.s.asm.Assigned(c.name, time.Duration(f.desc.PTS))
	c.mu.Lock()
	if lossless {
		c.waitLocked(ctx, func() bool { return (len(c.inFlight) >= c.window || c.dead || c.down) && !c.gaveUp })
	}
	switch {
	case c.dead || c.down || c.gaveUp || ctx.Err() != nil:
		c.mu.Unlock()
		c.lose(f)
		return
	case len(c.inFlight) < c.window:
		c.inFlight[f.desc.Seq] = f
		p := c.proc
		c.mu.Unlock()
		c.send(p, f)
	default:
		old := c.pending
		c.pending = &f
		if old != nil {
			c.skipped++
			c.settling++
		}
		c.mu.Unlock()
		if old != nil {
			c.release(*old)
			c.s.asm.Skipped(c.name, time.Duration(old.desc.PTS))
			c.settled()
		}
	}
}

// process is the plugin process this consumer talks to now.
func (c *consumer) process() *plugin.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

func (c *consumer) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead || c.down
}

// markDown stops sending to the plugin at once; frames already in flight
// are settled (live) or kept (lossless) when the process is found dead.
func (c *consumer) markDown() {
	c.mu.Lock()
	c.markDownLocked()
	c.mu.Unlock()
}

func (c *consumer) markDownLocked() {
	if !c.down && !c.dead {
		c.down = true
		c.diedAt = time.Now()
	}
	c.cond.Broadcast()
}

// markDownIf is markDown after a write to p failed: only while p is still
// the consumer's process (a write to a dead predecessor that raced with a
// restart must not stop its successor).
func (c *consumer) markDownIf(p *plugin.Process) {
	c.mu.Lock()
	if c.proc == p {
		c.markDownLocked()
	}
	c.mu.Unlock()
}

// waitAlive blocks (lossless mode) while the plugin is restarting, so every
// frame still reaches it; it returns at once for a live or given-up plugin.
func (c *consumer) waitAlive(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitLocked(ctx, func() bool { return (c.dead || c.down) && !c.gaveUp })
}

// waitLocked waits on cond (mu held) while blocked holds and ctx lives.
// Both callers run per frame: the context's wake-up is registered only
// when there is something to wait for.
func (c *consumer) waitLocked(ctx context.Context, blocked func() bool) {
	if !blocked() || ctx.Err() != nil {
		return
	}
	stop := context.AfterFunc(ctx, c.wake)
	for blocked() && ctx.Err() == nil {
		c.cond.Wait()
	}
	stop()
}

// streamFailed stops this stream from waiting for a plugin that closed it
// alone: the plugin serves its other streams, this one reports it in health
// (failure) and its segments count what the plugin no longer analyses.
func (c *consumer) streamFailed(why string) {
	c.mu.Lock()
	first := c.failed == ""
	if first {
		c.failed = why
	}
	c.mu.Unlock()
	if first {
		c.s.log.Error("plugin closed this stream after repeated panics; it serves the stream's other inputs no more",
			"plugin", c.name, "reason", why)
		c.giveUp()
	}
}

// failure is why the plugin closed this stream, or "".
func (c *consumer) failure() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// giveUp releases everything waiting for this plugin: what a lossless
// consumer kept for a restart is settled as lost, and the events it will
// never answer are recorded as text_dropped.
func (c *consumer) giveUp() {
	c.mu.Lock()
	c.gaveUp = true
	frames, audio := c.takeKeptLocked()
	c.settling++
	c.cond.Broadcast()
	c.mu.Unlock()
	defer c.settled()
	c.settleLost(frames, audio, true)
	if c.wantsAudio {
		c.s.asm.AudioProgress(c.name, math.MaxInt64) // a given-up plugin holds no segment
	}
	c.dropMessages()
}

// takeKeptLocked empties the frames and audio records the consumer holds
// for its plugin (in flight, waiting, kept for a restart) and returns them.
func (c *consumer) takeKeptLocked() ([]frameRef, []dataplane.Audio) {
	frames := make([]frameRef, 0, len(c.inFlight)+1)
	for _, f := range c.inFlight {
		frames = append(frames, f)
	}
	if c.pending != nil {
		frames = append(frames, *c.pending)
	}
	var audio []dataplane.Audio
	for _, a := range c.audioInFlight {
		if !a.settled && a.job.counted() {
			audio = append(audio, a.job.hdr)
		}
	}
	clear(c.audioInFlight)
	clear(c.inFlight)
	c.audioUnsettled, c.pending = 0, nil
	return frames, audio
}

// settleLost records frames and audio chunks the plugin will never answer
// (plugin_lost), ending the frames' leases when release is set.
func (c *consumer) settleLost(frames []frameRef, audio []dataplane.Audio, release bool) {
	for _, f := range frames {
		c.mu.Lock()
		c.lost++
		c.mu.Unlock()
		if release {
			// The process is dead, so the lease may go; one already
			// reclaimed is no error.
			_ = f.pool.Release(int(f.desc.Slot), f.desc.Generation, c.id)
		}
		c.s.asm.Lost(c.name, time.Duration(f.desc.PTS))
	}
	for _, a := range audio {
		c.s.asm.Lost(c.name, time.Duration(a.PTS))
	}
}

// revive attaches the consumer to a restarted plugin process: the regions
// go over first, then the stream is opened again, and only then do frames
// flow.
//
// Live: the new process starts from what capture produces now; what its
// predecessor lost was recorded when it died, and the segment says
// plugin_restarted. Lossless: nothing was lost. The new process is handed,
// before anything new, every frame the dead one held (in seq order, with a
// fresh lease) and the audio from the dead one's last acknowledged progress
// on (resendAudioLocked); its topic messages never answered go again too
// (requeueInFlight). Since every result arrives exactly once, the segments
// stay complete.
func (c *consumer) revive(ctx context.Context, p *plugin.Process) error {
	lossless := c.s.lossless
	if c.wantsVideo {
		for _, st := range c.reviveStores(lossless) {
			if err := st.Announce(p, c.view); err != nil {
				return err
			}
		}
	}
	if err := p.OpenStream(ctx, c.s.handle, c.s.cfg.ID, c.attrs(), c.onResult, c.onPublish); err != nil {
		return err
	}
	if !lossless {
		if c.wantsAudio {
			c.s.asm.ResetAudioProgress(c.name, c.s.asm.Progressed())
		}
		c.s.asm.PluginRestarted(c.name)
	}
	var frames []frameRef
	var audio [][]byte
	if lossless {
		// Sent while the consumer is still down: nothing else writes to
		// the new process until every record kept for it is there.
		frames, audio = c.handOver()
	}
	var sendErr error
	deadline := time.Now().Add(c.s.h.opts.LeaseTimeout)
	for _, f := range frames {
		if err := f.pool.Renew(int(f.desc.Slot), f.desc.Generation, c.id, deadline); err != nil {
			c.s.log.Error("renewing a kept frame's lease", "plugin", c.name, "seq", f.desc.Seq, "error", err)
		}
		d := f.desc
		if sendErr == nil {
			sendErr = p.SendFrame(&d)
		}
	}
	for _, pkt := range audio {
		if sendErr == nil {
			sendErr = p.SendAudio(pkt)
		}
	}
	c.mu.Lock()
	c.proc, c.dead, c.down = p, false, false
	c.restarts++
	again := c.requeueInFlight() // what the dead process never answered goes again
	if sendErr != nil {
		// The new process died already: what it did not get is still
		// kept, and goes to the next one.
		c.markDownLocked()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if !lossless {
		for _, pts := range again {
			c.s.asm.PluginRestartedAt(c.name, pts)
		}
	}
	return nil
}

// handOver returns what a lossless consumer's restarted process is handed
// before anything new: the frames its predecessor held and the audio from
// its acknowledged progress on; the predecessor's published finals become
// what the new process must not publish twice.
func (c *consumer) handOver() (frames []frameRef, audio [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	frames = c.resendFramesLocked()
	audio = c.resendAudioLocked()
	c.restartPublishesLocked()
	return frames, audio
}

// reviveStores are the frame stores a restarted process must know: the
// current one, and (lossless) those of the frames kept for it.
func (c *consumer) reviveStores(lossless bool) []frameStore {
	s := c.s
	cur := s.currentStore()
	s.mu.Lock()
	all := slices.Clone(s.stores)
	s.mu.Unlock()
	var out []frameStore
	if cur != nil {
		out = append(out, cur)
	}
	if !lossless {
		return out
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range all {
		if st == cur {
			continue
		}
		for _, f := range c.inFlight {
			if f.pool == st.Leases() {
				out = append(out, st)
				break
			}
		}
	}
	return out
}

// resendFramesLocked returns the frames kept for a restarted process, in seq
// order, stamped as sent now.
func (c *consumer) resendFramesLocked() []frameRef {
	frames := make([]frameRef, 0, len(c.inFlight))
	now := shm.MonotonicNanos()
	for seq, f := range c.inFlight {
		f.desc.SentNanos = now
		c.inFlight[seq] = f
		frames = append(frames, f)
	}
	slices.SortFunc(frames, func(a, b frameRef) int { return cmp.Compare(a.desc.Seq, b.desc.Seq) })
	c.framesResent += int64(len(frames))
	return frames
}

// send writes f, which is in flight, to p: the process that was current
// when f went in flight (a restart in between hands f to the new process
// itself).
func (c *consumer) send(p *plugin.Process, f frameRef) {
	d := f.desc
	// Stamp before sending and record it, so the handoff latency the result
	// reports is measured from this send, whichever goroutine reads it.
	d.SentNanos = shm.MonotonicNanos()
	c.mu.Lock()
	if _, ok := c.inFlight[d.Seq]; ok {
		f.desc.SentNanos = d.SentNanos
		c.inFlight[d.Seq] = f
	}
	c.mu.Unlock()
	if err := p.SendFrame(&d); err != nil {
		// The socket is broken: the plugin never got this descriptor, and
		// later frames must wait for the restart, not hit the same wall.
		if c.s.lossless {
			c.markDownIf(p) // kept in flight: the restarted process gets it
			return
		}
		c.mu.Lock()
		_, held := c.inFlight[f.desc.Seq]
		delete(c.inFlight, f.desc.Seq)
		if held {
			c.settling++
		}
		c.mu.Unlock()
		c.markDownIf(p)
		if held { // not settled already by died
			c.lose(f)
			c.settled()
		}
	}
}

// codeStreamFailed is the SDK's answer for every input of a stream it
// closed after repeated panics in the plugin's code (docs/DATAPLANE.md).
const codeStreamFailed = "stream_failed"

// onResult runs on the plugin's reader goroutine.
func (c *consumer) onResult(ack dataplane.Ack, res *pluginv1.Result) {
	c.answeredAt.Store(time.Now().UnixNano())
	if e := res.GetError(); e != nil && e.GetCode() == codeStreamFailed {
		// Everything sent and not answered is settled as lost at once,
		// this input included; later answers find nothing in flight.
		c.streamFailed(e.GetMessage())
		return
	}
	switch res.GetInput() {
	case pluginv1.Input_INPUT_AUDIO:
		c.onAudioResult(res)
		return
	case pluginv1.Input_INPUT_MESSAGE:
		c.onMessageResult(res)
		return
	}
	c.mu.Lock()
	if res.GetSeq() == 0 && ack.Region != 0 && res.GetError().GetCode() == validate.CodeBadResult {
		// A body that did not decode (plugin.Process): its ack header
		// still names the frame's slot, so the frame is settled, as an
		// error, rather than holding its lease forever.
		for seq, f := range c.inFlight {
			if f.desc.Region == ack.Region && f.desc.Slot == ack.Slot && f.desc.Generation == ack.Generation {
				res.Seq = seq
				break
			}
		}
	}
	f, ok := c.inFlight[res.GetSeq()]
	if ok {
		delete(c.inFlight, res.GetSeq())
		c.settling++
	}
	if !c.diedAt.IsZero() && res.GetError() == nil {
		c.recovery.add(int64(time.Since(c.diedAt)))
		c.diedAt = time.Time{}
	}
	if ok {
		c.answeredLocked(inputVideo, time.Duration(f.desc.PTS))
	}
	var next *frameRef
	proc := c.proc
	if c.pending != nil && len(c.inFlight) < c.window && !c.down && !c.dead {
		next, c.pending = c.pending, nil
		c.inFlight[next.desc.Seq] = *next
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	if ok && c.testTaken != nil {
		c.testTaken()
	}
	if !ok {
		c.s.log.Warn("result for a frame not in flight", "plugin", c.name, "seq", res.GetSeq())
	} else {
		if f.desc.Slot != ack.Slot || f.desc.Generation != ack.Generation {
			c.s.log.Error("plugin acked a different slot than it was sent", "plugin", c.name, "seq", res.GetSeq())
		}
		c.handoff.add(res.GetReceivedNanos() - f.desc.SentNanos)
		c.release(f)
		item := model.Item{PTS: time.Duration(res.GetPtsNs()), Duration: time.Duration(res.GetDurationNs()), Fields: res.GetFields()}
		if item.PTS != time.Duration(f.desc.PTS) {
			// The result is placed by the frame it answers, not by what the plugin claims.
			item.PTS = time.Duration(f.desc.PTS)
		}
		if e := res.GetError(); e != nil {
			item.Error = e.GetCode() + ": " + e.GetMessage()
		} else {
			item.Fields, item.Objects, item.Error = frameOutcome(c.checks, res)
		}
		c.mu.Lock()
		if item.Error != "" {
			c.errors++
		} else {
			c.analysed++
		}
		c.mu.Unlock()
		c.s.asm.Result(c.name, item)
		c.settled()
		c.s.observe(c.name, item)
		c.slotToResult.Observe(time.Duration(shm.MonotonicNanos() - f.desc.SentNanos))
	}
	if next != nil {
		c.send(proc, *next)
	}
}

func (c *consumer) release(f frameRef) {
	if err := f.pool.Release(int(f.desc.Slot), f.desc.Generation, c.id); err != nil {
		c.s.log.Error("releasing slot lease", "plugin", c.name, "error", err)
	}
}

// lose accounts for a frame the plugin will never process.
func (c *consumer) lose(f frameRef) {
	c.mu.Lock()
	dead := c.dead
	c.lost++
	c.mu.Unlock()
	// A dead plugin's leases may already be reclaimed: then there is
	// nothing left to release and the error means nothing.
	if err := f.pool.Release(int(f.desc.Slot), f.desc.Generation, c.id); err != nil && !dead {
		c.s.log.Error("releasing slot lease", "plugin", c.name, "error", err)
	}
	c.s.asm.Lost(c.name, time.Duration(f.desc.PTS))
}

// died is called once the plugin process is gone: only now may its slots be
// reclaimed, since a live process could still be reading them. Live: what
// it held is lost and recorded. Lossless: everything it held or had not
// acknowledged is kept, leases included, for the restarted process
// (revive); a plugin given up settles it as lost (giveUp).
func (c *consumer) died(pools []*shm.Pool) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	if !c.down {
		c.diedAt = time.Now()
	}
	c.cond.Broadcast()
	if c.s.lossless {
		c.mu.Unlock()
		return
	}
	frames, audio := c.takeKeptLocked()
	c.settling++
	c.mu.Unlock()
	defer c.settled()
	for _, p := range pools {
		p.Reclaim(c.id)
	}
	c.settleLost(frames, audio, false)
	if c.wantsAudio {
		c.s.asm.AudioProgress(c.name, math.MaxInt64) // a dead plugin holds no segment
	}
}

// drain waits until nothing is in flight or the deadline passes.
func (c *consumer) drain(deadline time.Time) bool {
	stop := time.AfterFunc(time.Until(deadline), func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	busy := func() bool {
		return len(c.inFlight) > 0 || c.pending != nil || c.audioUnsettled > 0 || len(c.msg.queue) > 0 || len(c.msg.inFlight) > 0 ||
			c.settling > 0
	}
	// A restarting plugin is waited for: topic events stay queued for it
	// through a restart, and so do the frames and audio of a lossless
	// stream (a live stream's were settled as lost when it died).
	// A plugin given up owes nothing more, but what it held is still
	// being settled as lost.
	for (c.settling > 0 || busy() && !c.gaveUp) && time.Now().Before(deadline) {
		c.cond.Wait()
	}
	return !busy()
}

// countGated counts a frame the gate held back.
func (c *consumer) countGated() {
	c.mu.Lock()
	c.gated++
	c.mu.Unlock()
}

// settled ends one settling: its answer has reached the Assembler.
func (c *consumer) settled() {
	c.mu.Lock()
	c.settling--
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *consumer) wake() {
	c.mu.Lock()
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *consumer) counters() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{"errors": c.errors, "lost": c.lost, "restarts": c.restarts}
	if c.wantsVideo {
		out["analysed"], out["skipped"], out["in_flight"] = c.analysed, c.skipped, int64(len(c.inFlight))
		out["frames_resent"] = c.framesResent
		if c.gate != nil {
			out["gated"] = c.gated
		}
		if p50, p99, n := c.handoff.quantiles(); n > 0 {
			out["handoff_p50_ns"], out["handoff_p99_ns"] = p50, p99
		}
	}
	c.messageCounters(out)
	if p50, p99, n := c.recovery.quantiles(); n > 0 {
		out["recovery_p50_ns"], out["recovery_p99_ns"], out["recoveries"] = p50, p99, int64(n)
	}
	if c.wantsAudio {
		out["audio_chunks"], out["audio_dropped"] = c.audioAnalysed, c.audioDropped
		out["audio_resent"], out["audio_duplicates"] = c.audioResent, c.audioDuplicates
		if p50, p99, n := c.audioLatency.quantiles(); n > 0 {
			out["audio_latency_p50_ns"], out["audio_latency_p99_ns"] = p50, p99
		}
	}
	return out
}
