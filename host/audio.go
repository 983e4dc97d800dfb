package host

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
)

// audioBound is how many chunks (100 ms each) may wait for one plugin. In
// live mode a plugin further behind loses the newest chunks as a recorded
// gap; in lossless mode capture waits instead, and at most as many chunks
// are in flight to the plugin (sent, no result yet), so what a restarted
// process is handed again stays bounded too.
const audioBound = 50

// audioKeep bounds the audio records a lossless consumer keeps after their
// results, until the plugin's progress covers them (60 s of audio): a
// plugin whose progress stops moving costs at most that much memory, and a
// restart then resumes at the oldest record kept.
const audioKeep = 600

// audioJob is one audio record queued for a plugin: its header, and the
// whole packet built once when queued (the chunk's one copy per plugin).
type audioJob struct {
	hdr dataplane.Audio
	pkt []byte
}

func newAudioJob(hdr dataplane.Audio, pcm []byte) audioJob {
	pkt := make([]byte, dataplane.AudioHeaderSize+len(pcm))
	dataplane.PutAudio(pkt, hdr)
	copy(pkt[dataplane.AudioHeaderSize:], pcm)
	return audioJob{hdr: hdr, pkt: pkt}
}

func (j audioJob) counted() bool { return j.hdr.Flags == 0 }

// end is the sample index after the record's samples (or gap).
func (j audioJob) end() int64 { return j.hdr.FirstSample + int64(j.hdr.Samples) }

// from returns the record cut to start at sample first (inside it): the
// same seq, the samples from there on.
func (j audioJob) from(first int64) audioJob {
	skip := first - j.hdr.FirstSample
	if skip <= 0 || first >= j.end() {
		return j
	}
	hdr := j.hdr
	hdr.FirstSample, hdr.Samples = first, hdr.Samples-uint32(skip)
	hdr.PTS += int64(sampleDuration(skip, int(hdr.Rate)))
	var pcm []byte
	if hdr.Flags&dataplane.AudioGap == 0 {
		pcm = j.pkt[dataplane.AudioHeaderSize+2*skip:]
	}
	return newAudioJob(hdr, pcm)
}

// sampleDuration is the media time of n samples at rate.
func sampleDuration(n int64, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(n * int64(time.Second) / int64(rate))
}

// sampleAt is the first sample index at or after media time t.
func sampleAt(t time.Duration, rate int) int64 {
	switch {
	case t == math.MinInt64:
		return math.MinInt64
	case t == math.MaxInt64:
		return math.MaxInt64
	}
	num := int64(t) * int64(rate)
	q := num / int64(time.Second)
	if num > 0 && num%int64(time.Second) != 0 {
		q++
	}
	return q
}

// sentAudio is one audio record sent to the plugin and not yet done with.
type sentAudio struct {
	job audioJob
	// settled: its result arrived, so its segment lease ended and its
	// samples were counted. Lossless keeps it until the plugin's progress
	// covers it; a copy sent again then brings only items.
	settled bool
}

// Audio is capture's callback for a chunk: audio travels as bytes, copied
// once per plugin (3.2 KB per 100 ms; Contract 2).
func (s *streamRunner) Audio(c *capture.AudioChunk) {
	s.markStarted()
	s.asm.AudioCaptured(c.FirstSample, int64(c.Samples), capture.AudioRate)
	s.audioSamples.Add(int64(c.Samples))
	captured := shm.MonotonicNanos()
	for _, cn := range s.consumers {
		if !cn.wantsAudio {
			continue
		}
		cn.audioSeq++
		job := newAudioJob(dataplane.Audio{Handle: s.handle, FirstSample: c.FirstSample, PTS: int64(c.PTS),
			Seq: cn.audioSeq, Samples: uint32(c.Samples), Rate: capture.AudioRate, CapturedNanos: captured}, c.Data[:2*c.Samples])
		cn.queueAudio(s.ctx, job, s.lossless)
	}
}

// AudioGap is capture's callback for samples that will never come.
func (s *streamRunner) AudioGap(g capture.AudioGap) {
	s.markStarted()
	s.asm.AudioGap(g.FirstSample, g.Samples, capture.AudioRate)
	s.audioGaps.Add(1)
	for _, cn := range s.consumers {
		if cn.wantsAudio {
			cn.audioSeq++
			cn.queueAudio(s.ctx, newAudioJob(dataplane.Audio{Flags: dataplane.AudioGap, Handle: s.handle,
				FirstSample: g.FirstSample, PTS: int64(g.PTS), Seq: cn.audioSeq, Samples: uint32(g.Samples), Rate: capture.AudioRate}, nil), s.lossless)
		}
	}
}

// NoAudio is capture's callback for a source without an audio track: each
// audio plugin is told, and reports no_audio for the stream.
func (s *streamRunner) NoAudio() {
	s.hasAudio.Store(false)
	for _, cn := range s.consumers {
		if cn.wantsAudio {
			cn.audioSeq++
			cn.queueAudio(s.ctx, newAudioJob(dataplane.Audio{Flags: dataplane.AudioNoAudio, Handle: s.handle, Seq: cn.audioSeq}, nil), s.lossless)
		}
	}
}

// queueAudio hands a job to the consumer's sender. Counted chunks hold their
// segment open until the plugin's result (or a recorded drop) settles them.
func (c *consumer) queueAudio(ctx context.Context, j audioJob, lossless bool) {
	if lossless {
		c.waitAlive(ctx)
	}
	if c.isDead() {
		if j.counted() {
			c.s.asm.AudioMissed(c.name, j.hdr.FirstSample, int64(j.hdr.Samples), int(j.hdr.Rate))
		}
		return
	}
	if j.counted() {
		c.s.asm.Assigned(c.name, time.Duration(j.hdr.PTS))
	}
	if lossless {
		// The sender waits through a restart with the queue's head, so a
		// full queue means: wait too (a given-up plugin's sender drains it).
		select {
		case c.audioQ <- j:
			return
		case <-ctx.Done():
		}
	} else {
		select {
		case c.audioQ <- j:
			return
		default:
		}
	}
	if j.counted() {
		c.mu.Lock()
		c.audioDropped++
		c.mu.Unlock()
		c.s.asm.AudioDropped(c.name, j.hdr.FirstSample, int64(j.hdr.Samples), int(j.hdr.Rate))
	}
}

// sendAudio writes queued jobs to the plugin until the queue closes.
// Lossless: it waits while the plugin restarts and while audioBound chunks
// are in flight, and a record whose write fails stays in flight for the
// restarted process.
func (c *consumer) sendAudio() {
	defer close(c.audioDone)
	lossless := c.s.lossless
	for j := range c.audioQ {
		c.mu.Lock()
		// At most audioBound records are unanswered per (stream, plugin),
		// live too: the plugin's per-stream queue never fills, so a plugin
		// slow on this stream's audio never holds up its other streams; a
		// live stream's records wait here, and past the queue's bound
		// capture records the newest as dropped (queueAudio).
		for c.audioBlockedLocked(lossless) {
			c.cond.Wait()
		}
		dead, proc := c.dead || c.down || c.gaveUp || c.msg.stopped, c.proc
		if !dead {
			c.trackAudioLocked(j)
		}
		c.mu.Unlock()
		if dead {
			if j.counted() { // queued before the plugin died: it never saw it
				c.s.asm.AudioDropped(c.name, j.hdr.FirstSample, int64(j.hdr.Samples), int(j.hdr.Rate))
			}
			continue
		}
		if err := proc.SendAudio(j.pkt); err != nil {
			if lossless {
				c.markDownIf(proc) // still in flight: the restarted process gets it
				continue
			}
			c.mu.Lock()
			_, held := c.audioInFlight[j.hdr.Seq]
			if held {
				delete(c.audioInFlight, j.hdr.Seq)
				c.audioUnsettled--
				c.settling++
			}
			c.cond.Broadcast()
			c.mu.Unlock()
			if held && j.counted() { // not settled already by died
				c.s.asm.Lost(c.name, time.Duration(j.hdr.PTS))
			}
			if held {
				c.settled()
			}
		}
	}
}

// audioBlockedLocked says whether the sender must wait before the next
// record: for room in the window, or (lossless) for a restarted process.
func (c *consumer) audioBlockedLocked(lossless bool) bool {
	switch {
	case c.gaveUp || c.msg.stopped:
		return false
	case c.down || c.dead:
		return lossless // live: the record is dropped and recorded
	}
	return c.audioUnsettled >= audioBound
}

// trackAudioLocked records j as sent: in flight until its result.
func (c *consumer) trackAudioLocked(j audioJob) {
	c.audioInFlight[j.hdr.Seq] = &sentAudio{job: j}
	c.audioUnsettled++
}

// onAudioResult settles one audio record. The first result for a record
// settles its segment lease; a second one (a lossless restart handed the
// record again from the plugin's progress) only brings items, and items
// before the progress the dead process had acknowledged are dropped as
// duplicates.
func (c *consumer) onAudioResult(res *pluginv1.Result) {
	c.mu.Lock()
	rec, ok := c.audioInFlight[res.GetSeq()]
	first := ok && !rec.settled
	if first {
		rec.settled = true
		c.audioUnsettled--
	}
	if ok {
		c.audioAck = max(c.audioAck, time.Duration(res.GetProgressNs()))
		c.answeredLocked(inputAudio, c.audioAck)
		c.pruneAudioLocked()
		c.settling++
	}
	floor := c.audioFloor
	c.cond.Broadcast()
	c.mu.Unlock()
	if !ok {
		c.s.log.Warn("audio result for a chunk not in flight", "plugin", c.name, "seq", res.GetSeq())
		return
	}
	defer c.settled()
	hdr := rec.job.hdr
	if e := res.GetError(); e != nil && e.GetCode() == "no_audio" {
		c.s.asm.NoAudio(c.name)
		return
	}
	var items []model.Item
	dups := 0
	for _, it := range res.GetItems() {
		item := model.Item{PTS: time.Duration(it.GetPtsNs()), Duration: time.Duration(it.GetDurationNs())}
		if item.PTS < floor {
			dups++ // produced before the restart already
			continue
		}
		item.Fields, item.Objects, item.Error = itemOutcome(c.checks, it)
		items = append(items, item)
	}
	if dups > 0 {
		c.mu.Lock()
		c.audioDuplicates += int64(dups)
		c.mu.Unlock()
	}
	if !first || !rec.job.counted() {
		// Gap and end records hold no segment, nor does a record sent
		// again after its result; an end record's flush may still carry
		// the last hops.
		if e := res.GetError(); e != nil && rec.job.counted() {
			c.mu.Lock()
			c.errors++
			c.mu.Unlock()
			c.s.log.Error("audio handed again after a restart failed", "plugin", c.name, "seq", hdr.Seq, "error", e.GetCode()+": "+e.GetMessage())
		}
		c.s.asm.AudioResult(c.name, hdr.FirstSample, 0, capture.AudioRate, items, "", time.Duration(res.GetProgressNs()))
		for _, it := range items {
			c.s.observe(c.name, it)
		}
		return
	}
	errMsg := ""
	if e := res.GetError(); e != nil {
		errMsg = e.GetCode() + ": " + e.GetMessage()
		c.mu.Lock()
		c.errors++
		c.mu.Unlock()
	} else {
		c.mu.Lock()
		c.audioAnalysed++
		c.mu.Unlock()
		c.audioLatency.add(res.GetReceivedNanos() - hdr.CapturedNanos)
	}
	c.s.asm.AudioResult(c.name, hdr.FirstSample, int64(hdr.Samples), int(hdr.Rate), items, errMsg, time.Duration(res.GetProgressNs()))
	for _, it := range items {
		c.s.observe(c.name, it)
	}
}

// pruneAudioLocked forgets the records done with: live, every settled one;
// lossless, settled ones the plugin's progress covers (a restarted process
// will not need them), and past audioKeep the oldest settled ones.
func (c *consumer) pruneAudioLocked() {
	kept := 0
	for seq, r := range c.audioInFlight {
		if !r.settled {
			continue
		}
		if !c.s.lossless || r.job.hdr.Flags&dataplane.AudioNoAudio != 0 ||
			sampleAt(c.audioAck, int(r.job.hdr.Rate)) >= r.job.end() {
			delete(c.audioInFlight, seq)
			continue
		}
		kept++
	}
	if kept <= audioKeep {
		return
	}
	seqs := make([]uint64, 0, kept)
	for seq, r := range c.audioInFlight {
		if r.settled {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs[:kept-audioKeep] {
		delete(c.audioInFlight, seq)
	}
}

// resendAudioLocked plans what a restarted process is handed (lossless):
// the stream's sample line from the dead process's last acknowledged
// progress on (or from the first record it never answered, if earlier), in
// seq order. A record that straddles that point goes from there, so the new
// process's per-stream state (hop grid, windows, utterances) starts fresh
// at the point where everything before has been produced; items before it
// are duplicates from then on (audioFloor). Called with mu held while the
// consumer is down.
func (c *consumer) resendAudioLocked() [][]byte {
	recs := make([]*sentAudio, 0, len(c.audioInFlight))
	for _, r := range c.audioInFlight {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *sentAudio) int { return cmp.Compare(a.job.hdr.Seq, b.job.hdr.Seq) })
	c.audioFloor = c.audioAck
	from := int64(math.MaxInt64)
	for _, r := range recs {
		if r.job.hdr.Flags&dataplane.AudioNoAudio != 0 {
			continue
		}
		from = min(from, sampleAt(c.audioAck, int(max(r.job.hdr.Rate, 1))))
		if !r.settled {
			from = min(from, r.job.hdr.FirstSample)
		}
	}
	var out [][]byte
	for _, r := range recs {
		if r.settled && (r.job.hdr.Flags&dataplane.AudioNoAudio != 0 || r.job.end() <= from) {
			delete(c.audioInFlight, r.job.hdr.Seq) // covered: nothing to hand again
			continue
		}
		j := r.job
		if r.settled {
			j = j.from(from)
		}
		out = append(out, j.pkt)
	}
	c.audioResent += int64(len(out))
	return out
}

// endAudio tells each audio plugin the stream's audio is over, so it emits
// what it still holds (windows waiting for samples that will not come).
func (s *streamRunner) endAudio(deadline time.Time) {
	for _, c := range s.consumers {
		if !c.wantsAudio {
			continue
		}
		c.audioSeq++
		j := newAudioJob(dataplane.Audio{Flags: dataplane.AudioEnd, Handle: s.handle, Seq: c.audioSeq,
			FirstSample: s.audioSamples.Load(), Rate: capture.AudioRate}, nil)
		select {
		case c.audioQ <- j:
		case <-time.After(time.Until(deadline)):
		}
	}
}
