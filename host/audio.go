package host

import (
	"context"
	"time"

	"github.com/lsie-mlf/lsie/host/capture"
	"github.com/lsie-mlf/lsie/host/model"
	"github.com/lsie-mlf/lsie/sdk/proto/dataplane"
	"github.com/lsie-mlf/lsie/sdk/proto/pluginv1"
	"github.com/lsie-mlf/lsie/shm"
)

// audioBound is how many chunks (100 ms each) may wait for one plugin. In
// live mode a plugin further behind loses the newest chunks as a recorded
// gap; in lossless mode capture waits instead.
const audioBound = 50

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
		select {
		case c.audioQ <- j:
			return
		case <-ctx.Done():
		case <-c.process().Exited():
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
func (c *consumer) sendAudio() {
	defer close(c.audioDone)
	for j := range c.audioQ {
		c.mu.Lock()
		dead, proc := c.dead || c.down, c.proc
		if !dead {
			c.audioInFlight[j.hdr.Seq] = j.hdr
		}
		c.mu.Unlock()
		if dead {
			if j.counted() { // queued before the plugin died: it never saw it
				c.s.asm.AudioDropped(c.name, j.hdr.FirstSample, int64(j.hdr.Samples), int(j.hdr.Rate))
			}
			continue
		}
		if err := proc.SendAudio(j.pkt); err != nil {
			c.mu.Lock()
			delete(c.audioInFlight, j.hdr.Seq)
			c.cond.Broadcast()
			c.mu.Unlock()
			if j.counted() {
				c.s.asm.Lost(c.name, time.Duration(j.hdr.PTS))
			}
		}
	}
}

// onAudioResult settles one audio record.
func (c *consumer) onAudioResult(res *pluginv1.Result) {
	c.mu.Lock()
	hdr, ok := c.audioInFlight[res.GetSeq()]
	delete(c.audioInFlight, res.GetSeq())
	c.cond.Broadcast()
	c.mu.Unlock()
	if !ok {
		c.s.log.Warn("audio result for a chunk not in flight", "plugin", c.name, "seq", res.GetSeq())
		return
	}
	if e := res.GetError(); e != nil && e.GetCode() == "no_audio" {
		c.s.asm.NoAudio(c.name)
		return
	}
	if !(audioJob{hdr: hdr}).counted() {
		// Gap and end records hold no segment; an end record's flush may
		// still carry the last hops.
		var items []model.Item
		for _, it := range res.GetItems() {
			items = append(items, model.Item{PTS: time.Duration(it.GetPtsNs()), Duration: time.Duration(it.GetDurationNs()), Fields: it.GetFields()})
		}
		c.s.asm.AudioResult(c.name, hdr.FirstSample, 0, capture.AudioRate, items, "", time.Duration(res.GetProgressNs()))
		return
	}
	var items []model.Item
	for _, it := range res.GetItems() {
		item := model.Item{PTS: time.Duration(it.GetPtsNs()), Duration: time.Duration(it.GetDurationNs()), Fields: it.GetFields()}
		if msg := checkFields(item.Fields); msg != "" {
			item.Error, item.Fields = msg, nil
		}
		items = append(items, item)
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
