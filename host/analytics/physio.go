package analytics

import (
	"math"
	"sort"
	"time"

	"github.com/lsie-mlf/lsie/host/model"
)

// Artefact thresholds for RR intervals.
const (
	// MinRRms and MaxRRms bound a plausible RR interval (200..30 bpm).
	MinRRms = 300.0
	MaxRRms = 2000.0
	// MaxRRChange is the largest relative change from the previous interval
	// a successive difference may have and still count (ectopic beats and
	// missed detections make larger jumps).
	MaxRRChange = 0.20
)

// PhysioConfig sets the window and freshness thresholds of Physiology.
// Zero fields take the defaults.
type PhysioConfig struct {
	// Window is how far back RR intervals and heart rates count (60 s).
	Window time.Duration
	// StaleAfter: the newest event older than this makes the state stale (10 s).
	StaleAfter time.Duration
	// AbsentAfter: the newest event older than this makes the state absent (60 s).
	AbsentAfter time.Duration
	// MinIntervals is the fewest usable RR intervals for an RMSSD (10).
	MinIntervals int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c PhysioConfig) WithDefaults() PhysioConfig {
	if c.Window <= 0 {
		c.Window = 60 * time.Second
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 10 * time.Second
	}
	if c.AbsentAfter <= 0 {
		c.AbsentAfter = 60 * time.Second
	}
	if c.MinIntervals <= 0 {
		c.MinIntervals = 10
	}
	return c
}

// rrInterval is one RR interval and the time its beat ended.
type rrInterval struct {
	end time.Time
	ms  float64
}

// Physiology summarises subject's heart data at time at from the subject's
// physiology events with Time <= at (events of other subjects or kinds are
// ignored, so evs may be a stream's whole telemetry).
func Physiology(subject string, evs []model.TelemetryEvent, at time.Time, cfg PhysioConfig) model.Physiology {
	cfg = cfg.WithDefaults()
	out := model.Physiology{Subject: subject, State: model.PhysioAbsent}
	mine := subjectEvents(subject, evs, at)
	if len(mine) == 0 {
		return out
	}
	last := mine[len(mine)-1].Time
	age := at.Sub(last)
	out.LastAt, out.AgeSeconds = &last, ptr(age.Seconds())

	from := at.Add(-cfg.Window)
	var hrSum float64
	var hrN int
	var rr []rrInterval
	for _, ev := range mine {
		if ev.Time.After(from) && ev.HeartRate != nil && validHR(*ev.HeartRate) {
			hrSum += *ev.HeartRate
			hrN++
		}
		for _, iv := range intervals(ev) {
			if iv.end.After(from) && !iv.end.After(at) {
				rr = append(rr, iv)
			}
		}
	}
	// Events are time ordered but a late event's intervals may end before
	// an earlier event's; order the series by beat time.
	sort.SliceStable(rr, func(i, j int) bool { return rr[i].end.Before(rr[j].end) })
	out.Intervals = len(rr)
	usable, rmssd := rmssd(rr)
	switch {
	case hrN > 0:
		out.HeartRate = ptr(hrSum / float64(hrN))
	case usable > 0:
		var s float64
		for _, iv := range rr {
			if validRR(iv.ms) {
				s += iv.ms
			}
		}
		out.HeartRate = ptr(60000 / (s / float64(usable)))
	}

	switch {
	case age > cfg.AbsentAfter:
		out.State = model.PhysioAbsent
	case age > cfg.StaleAfter:
		out.State = model.PhysioStale
	case usable < cfg.MinIntervals || rmssd == nil:
		out.State = model.PhysioNoRMSSD
	default:
		out.State = model.PhysioFresh
		out.RMSSD = rmssd
	}
	return out
}

// subjectEvents returns subject's physiology events with Time <= at, oldest
// first.
func subjectEvents(subject string, evs []model.TelemetryEvent, at time.Time) []model.TelemetryEvent {
	var mine []model.TelemetryEvent
	for _, ev := range evs {
		if ev.Kind == model.TelemetryPhysiology && ev.Subject == subject && !ev.Time.After(at) {
			mine = append(mine, ev)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].Time.Before(mine[j].Time) })
	return mine
}

// intervals reconstructs the end time of each of ev's RR intervals: the last
// ends at ev.Time and each earlier one where its successor began.
func intervals(ev model.TelemetryEvent) []rrInterval {
	out := make([]rrInterval, len(ev.RR))
	end := ev.Time
	for i := len(ev.RR) - 1; i >= 0; i-- {
		ms := ev.RR[i]
		out[i] = rrInterval{end: end, ms: ms}
		if finite(ms) && ms > 0 {
			end = end.Add(-time.Duration(ms * float64(time.Millisecond)))
		}
	}
	return out
}

// rmssd returns the number of usable (in-range) intervals and the root mean
// square of the accepted successive differences; nil when there is none. A
// difference is accepted when both intervals are in range and it is at most
// MaxRRChange of the earlier one; a rejected interval breaks the chain (no
// difference is formed across it).
func rmssd(rr []rrInterval) (usable int, value *float64) {
	var sum float64
	var n int
	for i, iv := range rr {
		if !validRR(iv.ms) {
			continue
		}
		usable++
		if i == 0 || !validRR(rr[i-1].ms) {
			continue
		}
		d := iv.ms - rr[i-1].ms
		if math.Abs(d) > MaxRRChange*rr[i-1].ms {
			continue
		}
		sum += d * d
		n++
	}
	if n == 0 {
		return usable, nil
	}
	return usable, ptr(math.Sqrt(sum / float64(n)))
}

func validRR(ms float64) bool { return finite(ms) && ms >= MinRRms && ms <= MaxRRms }

// validHR bounds a reported heart rate to a physically plausible range.
func validHR(bpm float64) bool { return finite(bpm) && bpm > 0 && bpm <= 300 }
