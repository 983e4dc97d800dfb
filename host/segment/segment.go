// Package segment cuts a stream's time line into fixed windows and closes
// each one when capture and every plugin have passed its end (Contract 4).
// A live stream also closes a window when max_close_delay runs out, then as
// partial with the reason; a result that arrives for a closed window is
// late and handed on (Config.OnLate), never dropped. A lossless stream
// waits for every plugin's progress instead: the close delay is a live
// policy.
package segment

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// Reasons specific to assembly, beside those in model.
const (
	ReasonStartOfStream   = "start_of_stream"
	ReasonPluginLost      = "plugin_lost"
	ReasonPluginDown      = "plugin_down"
	ReasonPluginRestarted = "plugin_restarted"
)

// PluginInfo names a plugin that contributes to the stream's segments.
type PluginInfo struct {
	Name    string
	Version string
	// Audio plugins report progress on the stream's time line; a segment
	// waits until each one's progress has passed its end.
	Audio bool
}

// Config sets up an Assembler.
type Config struct {
	StreamID      string
	Duration      time.Duration
	MaxCloseDelay time.Duration
	Plugins       []PluginInfo
	// UTCGrid puts segment k on wall-clock window [k·D, (k+1)·D) since the
	// Unix epoch, so live streams and telemetry share indexes. Without it the
	// grid starts at media time zero (lossless file replay).
	UTCGrid bool
	// Live enables max_close_delay: a window whose end capture passed
	// that long ago closes as plugin_lag, and one nothing arrived for as
	// source_stall (which only makes sense when media time advances with
	// the wall clock). A lossless stream (Live false) waits instead until
	// every plugin's progress passed the window's end, or the plugin is
	// settled as lost (it died, or gave up: Lost, TextDropped), or Finish.
	Live bool
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
	// AudioRate converts sample counts to seconds (16000 for Contract 2).
	AudioRate int
	// OnLate, if set, receives every item that arrives for a segment
	// already closed (a plugin lagging past max_close_delay, or answering
	// after Finish), with that segment's index, after the segment itself
	// was emitted: the host attaches it to the stored segment. It is
	// called without the assembler's lock held, in order with emit, and
	// must not call back into the Assembler.
	OnLate func(plugin string, index int64, item model.Item)
}

// Counters are an assembler's running totals, for health, tests and the
// loss summary at exit.
type Counters struct {
	Closed, Partial int64
	// LateResults counts items that arrived for a segment already closed:
	// handed to OnLate when it is set, else dropped.
	LateResults int64
	// What the stream lost, in open and closed segments alike: frames lost
	// before any plugin saw them (Dropped), frames or chunks a plugin died
	// holding (Lost, plugin_lost), topic events that never reached their
	// consumer (TextDropped), frames produced while a plugin was down
	// (Missed, plugin_down) and audio that never reached a plugin, past its
	// bound or while it was down (AudioDropped).
	Dropped, Lost, TextDropped, Missed int64
	AudioDropped                       time.Duration
}

// lateItem is an item for a closed segment, waiting to reach OnLate.
type lateItem struct {
	plugin string
	index  int64
	item   model.Item
}

type pluginState struct {
	info     PluginInfo
	inFlight int
	seg      model.PluginSegment
	// audioAnalysed and audioDropped are sample counts.
	audioAnalysed, audioDropped int64
}

type open struct {
	index   int64
	seen    int
	dropped int
	// audio and audioGap count samples at the stream's audio rate.
	audio, audioGap int64
	plugins         map[string]*pluginState
	// reachedAt is when capture progress first passed the window's end.
	reachedAt time.Time
	reasons   []string
}

// Assembler owns the open segments of one stream. Its methods are safe to
// call from the capture thread and the plugin result readers at once.
type Assembler struct {
	cfg  Config
	emit func(model.Segment)

	mu sync.Mutex
	// emitMu is taken while mu is held and kept while emitting, so segments
	// closed by different goroutines still reach emit in index order.
	emitMu   sync.Mutex
	started  bool
	anchor   time.Time
	base     time.Duration // media time → grid time offset
	next     int64         // lowest index not yet closed
	segs     map[int64]*open
	progress time.Duration
	finished bool
	counters Counters
	// missing is the status of plugins whose input track the source
	// lacks (no_audio, no_video), by plugin.
	missing map[string]string
	// audioProgress is each audio plugin's reported progress.
	audioProgress map[string]time.Duration
	// firstReasons mark the first segment closed (FirstReason).
	firstReasons []string
	// audioSeen: capture has delivered audio (stallGapLocked).
	audioSeen bool
	// ending: capture has stopped (Ending); Finish follows.
	ending bool
	// late holds items for closed segments until unlockAndEmit hands them
	// to OnLate.
	late []lateItem
}

// New returns an Assembler that passes each closed segment to emit, in index
// order. emit is called without the assembler's lock held.
func New(cfg Config, emit func(model.Segment)) *Assembler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Assembler{cfg: cfg, emit: emit, segs: map[int64]*open{}, audioProgress: map[string]time.Duration{}}
	for _, p := range cfg.Plugins {
		if p.Audio {
			a.audioProgress[p.Name] = math.MinInt64
		}
	}
	return a
}

// Start fixes the stream's wall anchor (wall time at media time zero).
// Calls after the first are ignored: the time line never moves.
func (a *Assembler) Start(anchor time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.startLocked(anchor)
}

func (a *Assembler) startLocked(anchor time.Time) {
	if a.started {
		return
	}
	a.started = true
	a.anchor = anchor
	if a.cfg.UTCGrid {
		a.base = time.Duration(anchor.UnixNano())
	}
	a.next = a.indexOf(0)
}

func (a *Assembler) indexOf(pts time.Duration) int64 {
	return int64(math.Floor(float64(pts+a.base) / float64(a.cfg.Duration)))
}

// FirstReason makes the first segment this assembler closes partial with
// reason, e.g. host_restarted when the stream's previous run was cut short.
func (a *Assembler) FirstReason(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.firstReasons = append(a.firstReasons, reason)
}

// Bounds returns segment k's window on the media time line.
func (a *Assembler) Bounds(k int64) (start, end time.Duration) {
	return time.Duration(k)*a.cfg.Duration - a.base, time.Duration(k+1)*a.cfg.Duration - a.base
}

func (a *Assembler) get(k int64) *open {
	s := a.segs[k]
	if s == nil {
		s = &open{index: k, plugins: map[string]*pluginState{}}
		for _, p := range a.cfg.Plugins {
			ps := &pluginState{info: p, seg: model.PluginSegment{Plugin: p.Name, Version: p.Version, Status: a.missing[p.Name]}}
			s.plugins[p.Name] = ps
		}
		a.segs[k] = s
	}
	return s
}

// segFor returns the open segment for pts, or nil if it already closed
// (every segment is closed once Finish has run).
func (a *Assembler) segFor(pts time.Duration) *open {
	if !a.started {
		a.startLocked(a.cfg.Now())
	}
	k := a.indexOf(pts)
	if k < a.next || a.finished {
		return nil
	}
	return a.get(k)
}

// lateLocked counts an item of plugin whose segment has closed and queues
// it for OnLate (mu held; unlockAndEmit delivers it).
func (a *Assembler) lateLocked(plugin string, item model.Item) {
	a.counters.LateResults++
	if a.cfg.OnLate != nil {
		a.late = append(a.late, lateItem{plugin: plugin, index: a.indexOf(item.PTS), item: item})
	}
}

// Frame counts an analysis frame capture produced at pts.
func (a *Assembler) Frame(pts time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.segFor(pts); s != nil {
		s.seen++
	}
}

// Dropped counts a frame lost before any plugin saw it (pool exhausted).
func (a *Assembler) Dropped(pts time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counters.Dropped++
	if s := a.segFor(pts); s != nil {
		s.seen++
		s.dropped++
	}
}

// Gated records that plugin's motion gate held back the frame at pts:
// nothing is owed, and the segment stays complete.
func (a *Assembler) Gated(plugin string, pts time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.segFor(pts); s != nil {
		if p := s.plugins[plugin]; p != nil {
			p.seg.FramesGated++
		}
	}
}

// Assigned records that plugin owes a result (or a skip) for the frame at pts.
func (a *Assembler) Assigned(plugin string, pts time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.segFor(pts); s != nil {
		if p := s.plugins[plugin]; p != nil {
			p.inFlight++
		}
	}
}

// Skipped records that a waiting frame was replaced by a newer one
// (latest-wins) and will never reach plugin.
func (a *Assembler) Skipped(plugin string, pts time.Duration) {
	a.settle(plugin, pts, nil, func(p *pluginState) { p.seg.FramesSkipped++ })
}

// Lost records that plugin died holding the frame or chunk at pts.
func (a *Assembler) Lost(plugin string, pts time.Duration) {
	a.mu.Lock()
	a.counters.Lost++
	if s := a.segFor(pts); s != nil {
		s.addReason(ReasonPluginLost)
	}
	a.mu.Unlock()
	a.settle(plugin, pts, nil, func(p *pluginState) { p.seg.Errors++ })
}

// AudioProgress records that plugin has produced every item before t.
// Progress never goes back.
func (a *Assembler) AudioProgress(plugin string, t time.Duration) {
	a.mu.Lock()
	if cur, ok := a.audioProgress[plugin]; ok && t > cur {
		a.audioProgress[plugin] = t
	}
	a.unlockAndEmit(a.closeReadyLocked())
}

// Result records plugin's result for the frame at item.PTS. A result for a
// segment that already closed (late) is counted and handed to OnLate.
func (a *Assembler) Result(plugin string, item model.Item) {
	a.settle(plugin, item.PTS, &item, func(p *pluginState) {
		if item.Error != "" {
			p.seg.Errors++
		} else {
			p.seg.FramesAnalysed++
		}
		p.seg.Items = append(p.seg.Items, item)
	})
}

// MessageResult records a consumer's result for a topic message at
// item.PTS. Events were Assigned and settle their lease; partials were not
// (they may be coalesced away) and only add the item.
func (a *Assembler) MessageResult(plugin string, item model.Item, event bool) {
	count := func(p *pluginState) {
		if item.Error != "" {
			p.seg.Errors++
		} else {
			p.seg.Messages++
		}
		p.seg.Items = append(p.seg.Items, item)
	}
	if event {
		a.settle(plugin, item.PTS, &item, count)
		return
	}
	a.mu.Lock()
	if s := a.segFor(item.PTS); s == nil {
		a.lateLocked(plugin, item)
	} else if p := s.plugins[plugin]; p != nil {
		count(p)
	}
	a.unlockAndEmit(nil)
}

// TextDropped settles an Assigned topic event that will never reach plugin
// (its bound overflowed, or it gave up): counted, and the segment says so.
func (a *Assembler) TextDropped(plugin string, pts time.Duration) {
	a.mu.Lock()
	a.counters.TextDropped++
	if s := a.segFor(pts); s != nil {
		s.addReason(model.ReasonTextDropped)
	}
	a.mu.Unlock()
	a.settle(plugin, pts, nil, func(p *pluginState) { p.seg.TextDropped++ })
}

// Published records a message plugin published, as an item of its own at
// the message's media time. It holds nothing open: the producer's progress
// (or its frame's result) already covers it.
//
// A partial (a topic ending in .partial) stands in for its utterance until
// the utterance's final: it replaces the plugin's previous partial on the
// same topic at the same media time, and a final of the same topic family
// at that time removes it (see partial.go). So a segment keeps, unmarked
// except by its topic, only the latest partial of an utterance that had no
// final by the time it closed (the stream ended, the plugin died, or it
// lagged past max_close_delay).
func (a *Assembler) Published(plugin string, item model.Item) {
	a.mu.Lock()
	s := a.segFor(item.PTS)
	if s == nil {
		a.lateLocked(plugin, item) // attached to its closed segment (OnLate)
		a.unlockAndEmit(nil)
		return
	}
	defer a.mu.Unlock()
	p := s.plugins[plugin]
	if p == nil {
		return
	}
	p.seg.Published++
	switch fam, partial := topicFamily(item.Topic); {
	case partial:
		if i := heldPartial(p.seg.Items, item); i >= 0 {
			p.seg.Items[i] = item
			return
		}
	case fam != "":
		p.seg.Items = dropPartials(p.seg.Items, item.PTS, fam)
	}
	p.seg.Items = append(p.seg.Items, item)
}

// settle ends a lease of plugin on the segment at pts and applies f. When
// that segment has closed, late (the result that settles it, if any) is
// handed on as a late item instead.
func (a *Assembler) settle(plugin string, pts time.Duration, late *model.Item, f func(*pluginState)) {
	a.mu.Lock()
	s := a.segFor(pts)
	if s == nil {
		if late != nil {
			a.lateLocked(plugin, *late)
		}
		a.unlockAndEmit(nil)
		return
	}
	p := s.plugins[plugin]
	if p == nil {
		a.mu.Unlock()
		return
	}
	if p.inFlight > 0 {
		p.inFlight--
	}
	f(p)
	closed := a.closeReadyLocked()
	a.unlockAndEmit(closed)
}

// Progress says capture has reached media time t: no frame before t follows.
func (a *Assembler) Progress(t time.Duration) {
	a.mu.Lock()
	if !a.started {
		a.startLocked(a.cfg.Now())
	}
	if t > a.progress {
		a.progress = t
	}
	now := a.cfg.Now()
	for k := a.next; ; k++ {
		if _, end := a.Bounds(k); end > a.progress {
			break
		}
		if s := a.get(k); s.reachedAt.IsZero() {
			s.reachedAt = now
		}
	}
	closed := a.closeReadyLocked()
	a.unlockAndEmit(closed)
}

// Tick applies max_close_delay to a live stream: segments that waited too
// long close as partial, with plugin_lag or source_stall. A lossless
// stream's segments wait for every plugin (Config.Live).
func (a *Assembler) Tick() {
	a.mu.Lock()
	if !a.started || a.finished {
		a.mu.Unlock()
		return
	}
	now := a.cfg.Now()
	var closed []model.Segment
	for {
		s := a.get(a.next)
		_, end := a.Bounds(a.next)
		switch {
		case a.cfg.Live && !s.reachedAt.IsZero() && now.Sub(s.reachedAt) >= a.cfg.MaxCloseDelay:
			closed = append(closed, a.closeLocked(s, model.ReasonPluginLag))
		case s.reachedAt.IsZero() && a.cfg.Live && !a.ending && now.Sub(a.anchor.Add(end)) >= a.cfg.MaxCloseDelay:
			a.stallGapLocked(s)
			closed = append(closed, a.closeLocked(s, model.ReasonSourceStall))
		default:
			closed = append(closed, a.closeReadyLocked()...)
			a.unlockAndEmit(closed)
			return
		}
	}
}

// Finish closes every open segment at the end of the stream (t is the final
// media time). The last window is partial when the stream ended inside it.
func (a *Assembler) Finish(t time.Duration, reason string) {
	a.mu.Lock()
	if !a.started || a.finished {
		a.finished = true
		a.mu.Unlock()
		return
	}
	if t > a.progress {
		a.progress = t
	}
	var closed []model.Segment
	closed = append(closed, a.closeReadyLocked()...)
	last := a.indexOf(a.progress)
	if _, end := a.Bounds(last - 1); end >= a.progress {
		last-- // the stream ended exactly on a boundary: no empty tail window
	}
	for a.next <= last {
		s := a.get(a.next)
		_, end := a.Bounds(a.next)
		var reasons []string
		if a.progress < end {
			reasons = append(reasons, reason)
		}
		if lag := a.lagging(s); lag {
			reasons = append(reasons, model.ReasonPluginLag)
		}
		closed = append(closed, a.closeLocked(s, reasons...))
	}
	a.finished = true
	a.unlockAndEmit(closed)
}

// Ending says capture has stopped for good: the windows it did not reach
// are not a stalled source but the end of the stream, closed by Finish
// with its reason (end_of_stream) once the plugins have drained.
func (a *Assembler) Ending() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ending = true
}

// Counters returns running totals.
func (a *Assembler) Counters() Counters {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counters
}

func (a *Assembler) lagging(s *open) bool {
	for _, p := range s.plugins {
		if p.inFlight > 0 {
			return true
		}
	}
	_, end := a.Bounds(s.index)
	for _, t := range a.audioProgress {
		if t < end {
			return true
		}
	}
	return false
}

// closeReadyLocked closes, in order, every segment whose end capture has
// passed and for which no plugin owes a result.
func (a *Assembler) closeReadyLocked() []model.Segment {
	var out []model.Segment
	for !a.finished {
		s := a.segs[a.next]
		_, end := a.Bounds(a.next)
		if a.progress < end {
			return out
		}
		if s == nil {
			s = a.get(a.next)
		}
		if a.lagging(s) {
			return out
		}
		out = append(out, a.closeLocked(s))
	}
	return out
}

func (a *Assembler) closeLocked(s *open, reasons ...string) model.Segment {
	start, end := a.Bounds(s.index)
	now := a.cfg.Now()
	reasons = append(s.reasons, reasons...)
	if a.counters.Closed == 0 {
		reasons = append(reasons, a.firstReasons...)
	}
	if start < 0 {
		reasons = append([]string{ReasonStartOfStream}, reasons...)
	}
	if s.dropped > 0 {
		reasons = append(reasons, model.ReasonDropped)
	}
	seg := model.Segment{
		StreamID:      a.cfg.StreamID,
		Index:         s.index,
		MediaStart:    start,
		MediaEnd:      end,
		WallStart:     a.anchor.Add(start),
		WallEnd:       a.anchor.Add(end),
		Status:        model.SegmentComplete,
		FramesSeen:    s.seen,
		FramesDropped: s.dropped,
		Plugins:       map[string]model.PluginSegment{},
		ClosedAt:      now,
	}
	if !s.reachedAt.IsZero() {
		seg.CloseLatency = now.Sub(s.reachedAt)
	}
	if len(reasons) > 0 {
		seg.Status = model.SegmentPartial
		seg.Reasons = slices.Compact(reasons)
		a.counters.Partial++
	}
	rate := float64(a.cfg.AudioRate)
	if rate > 0 {
		seg.AudioSeconds = float64(s.audio) / rate
		seg.AudioGapSeconds = float64(s.audioGap) / rate
	}
	for name, p := range s.plugins {
		ps := p.seg
		if rate > 0 {
			ps.AudioSeconds = float64(p.audioAnalysed) / rate
			ps.AudioDroppedSeconds = float64(p.audioDropped) / rate
		}
		sort.SliceStable(ps.Items, func(i, j int) bool { return ps.Items[i].PTS < ps.Items[j].PTS })
		ps.Aggregates = Aggregate(ps.Items)
		ps.Objects = ObjectStats(ps.Items)
		seg.Plugins[name] = ps
	}
	delete(a.segs, s.index)
	a.next = s.index + 1
	a.counters.Closed++
	return seg
}

// unlockAndEmit releases mu and emits segs in order, then hands the late
// items queued so far to OnLate. emitMu, taken before mu is released,
// keeps the order across goroutines: a late item reaches OnLate after the
// segment it belongs to reached emit. Neither callback may call back into
// the Assembler.
func (a *Assembler) unlockAndEmit(segs []model.Segment) {
	late := a.late
	a.late = nil
	if len(segs) == 0 && len(late) == 0 {
		a.mu.Unlock()
		return
	}
	a.emitMu.Lock()
	a.mu.Unlock()
	defer a.emitMu.Unlock()
	for _, s := range segs {
		a.emit(s)
	}
	for _, l := range late {
		a.cfg.OnLate(l.plugin, l.index, l.item)
	}
}
