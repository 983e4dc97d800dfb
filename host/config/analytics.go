package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Telemetry configures the signed webhook external systems post events to
// (block `telemetry`, with one `source "NAME"` block per sender).
type Telemetry struct {
	// Tolerance is how far a request's X-LSIE-Timestamp may be from the
	// host's clock (`tolerance`): 1s..1h, default 5m. A signature is
	// accepted once within it (replays are refused).
	Tolerance time.Duration
	// MaxBody caps a request body in bytes (`max_body`): 1024..67108864,
	// default 1048576.
	MaxBody int
	// MaxEvents caps the events of one request (`max_events`): 1..100000,
	// default 1000.
	MaxEvents int
	// PayloadRetention is how long an event's free-form payload is kept
	// before the purge job removes it (`payload_retention`): 1m..87600h,
	// default 720h (30 days). The event itself stays.
	PayloadRetention time.Duration
	// PurgeInterval is how often the purge job runs (`purge_interval`):
	// 1s..24h, default 1h.
	PurgeInterval time.Duration
	// Sources are the senders allowed to post, in file order.
	Sources []TelemetrySource
}

// TelemetrySource is one sender of telemetry and its secret.
type TelemetrySource struct {
	// Name is the block label, sent as X-LSIE-Source: 1..64 of [A-Za-z0-9_-].
	Name string
	// Secret is the HMAC-SHA256 key the sender signs with (`secret`): at
	// least 16 characters. LSIE_TELEMETRY_SECRET_<NAME> (upper case, - as _)
	// overrides it, which keeps it out of the file. Required.
	Secret string
	// ClockOffset is added to the sender's event times to put them on the
	// host's clock (`clock_offset`, a duration, may be negative): -1h..1h,
	// default 0.
	ClockOffset time.Duration
	// Stream is the stream events without stream_id belong to (`stream`);
	// default "" (events must name their stream). Must be a configured
	// stream when set.
	Stream string
	// Pos is where the source block starts.
	Pos Pos
}

// Analytics configures what the host derives from closed segments and
// telemetry (block `analytics`); docs/ANALYTICS.md has the formulas.
type Analytics struct {
	// AU is the action unit whose intensity drives the reward (`au`):
	// au01..au45 as the au plugin names them, default "au12".
	AU string
	// AUPlugin and SemanticPlugin name the plugins whose fields the reward
	// reads (`au_plugin`, `semantic_plugin`), default "au" and "semantic".
	AUPlugin       string
	SemanticPlugin string
	// MinFrames is the fewest frames a face needs in a segment for a reward
	// (`min_frames`): 1..10000, default 3.
	MinFrames int
	// Physiology sets the RMSSD window and freshness thresholds (block
	// `physiology`).
	Physiology Physiology
	// CoModulation, when set (block `comodulation`), correlates two series
	// per segment.
	CoModulation *CoModulation
}

// Physiology configures heart-data summaries.
type Physiology struct {
	// Window is the RMSSD window (`window`): 10s..10m, default 60s.
	Window time.Duration
	// StaleAfter: a subject whose newest event is older is stale
	// (`stale_after`): 1s..10m, default 10s.
	StaleAfter time.Duration
	// AbsentAfter: older than this (or never) is absent (`absent_after`):
	// 1s..1h and more than stale_after, default 60s.
	AbsentAfter time.Duration
	// MinIntervals is the fewest usable RR intervals for an RMSSD
	// (`min_intervals`): 3..1000, default 10.
	MinIntervals int
	// Subjects are the subjects the physiology page and segment analytics
	// summarise (`subjects`); default: every subject seen.
	Subjects []string
}

// CoModulation correlates two series over a trailing window.
type CoModulation struct {
	// A and B are the series (`a`, `b`): "physio:SUBJECT" (heart rate) or
	// "au:faceN.auXX" (an au plugin field). Required.
	A, B string
	// Window is the trailing window (`window`): 10s..1h, default 120s.
	Window time.Duration
	// MinSamples is the fewest paired 1 s bins for a value (`min_samples`):
	// 3..100000, default 10.
	MinSamples int
}

// Experiment is one experiment with arms (block `experiment "NAME"`).
type Experiment struct {
	// Name is the block label, as stimulus markers name it: 1..64 of
	// [A-Za-z0-9_-].
	Name string
	// Arms are the arms' names (`arms`): 2..64 distinct names of
	// [A-Za-z0-9_-]. Required.
	Arms []string
	// Assignment is how the next arm is chosen (`assignment`): "thompson"
	// (Thompson sampling over gated_reward, the default) or "schedule".
	Assignment string
	// Schedule is the arm order a "schedule" experiment cycles through
	// (`schedule`), default Arms in order; every entry must be an arm.
	Schedule []string
	// PriorAlpha and PriorBeta are the Beta prior of every arm
	// (`prior_alpha`, `prior_beta`), default 1 and 1: integers 1..1000.
	PriorAlpha, PriorBeta int
	// Pos is where the block starts.
	Pos Pos
}

// Enrichment configures the asynchronous jobs run on closed segments (block
// `enrichment`).
type Enrichment struct {
	// Attempts is how often a failing job is tried (`attempts`): 1..20,
	// default 4.
	Attempts int
	// Backoff is the wait before the first retry, doubling after each
	// (`backoff`): 10ms..1m, default 500ms; capped at 30s.
	Backoff time.Duration
	// Workers is how many jobs run at once (`workers`): 1..16, default 1.
	Workers int
}

// Defaults of the blocks above; configs/example.hcl documents the same.
const (
	defaultTelemetryTolerance = 5 * time.Minute
	defaultTelemetryMaxBody   = 1 << 20
	defaultTelemetryMaxEvents = 1000
	defaultPayloadRetention   = 720 * time.Hour
	defaultPurgeInterval      = time.Hour
	defaultAU                 = "au12"
	defaultAUPlugin           = "au"
	defaultSemanticPlugin     = "semantic"
	defaultMinFrames          = 3
	defaultPhysioWindow       = 60 * time.Second
	defaultStaleAfter         = 10 * time.Second
	defaultAbsentAfter        = 60 * time.Second
	defaultMinIntervals       = 10
	defaultCoModWindow        = 120 * time.Second
	defaultCoModMinSamples    = 10
	defaultAssignment         = "thompson"
	defaultEnrichAttempts     = 4
	defaultEnrichBackoff      = 500 * time.Millisecond
	defaultEnrichWorkers      = 1
)

func defaultTelemetry() Telemetry {
	return Telemetry{Tolerance: defaultTelemetryTolerance, MaxBody: defaultTelemetryMaxBody,
		MaxEvents: defaultTelemetryMaxEvents, PayloadRetention: defaultPayloadRetention, PurgeInterval: defaultPurgeInterval}
}

func defaultAnalytics() Analytics {
	return Analytics{AU: defaultAU, AUPlugin: defaultAUPlugin, SemanticPlugin: defaultSemanticPlugin,
		MinFrames: defaultMinFrames, Physiology: Physiology{Window: defaultPhysioWindow, StaleAfter: defaultStaleAfter,
			AbsentAfter: defaultAbsentAfter, MinIntervals: defaultMinIntervals}}
}

func defaultEnrichment() Enrichment {
	return Enrichment{Attempts: defaultEnrichAttempts, Backoff: defaultEnrichBackoff, Workers: defaultEnrichWorkers}
}

// ExperimentByName returns the named experiment, or nil.
func (c *Config) ExperimentByName(name string) *Experiment {
	for i := range c.Experiments {
		if c.Experiments[i].Name == name {
			return &c.Experiments[i]
		}
	}
	return nil
}

func (d *decoder) telemetry(b *hclsyntax.Block, p path, c *Config) {
	t := &c.Telemetry
	d.attributes(b.Body, p, []field{
		{"tolerance", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &t.Tolerance) }},
		{"max_body", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &t.MaxBody) }},
		{"max_events", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &t.MaxEvents) }},
		{"payload_retention", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &t.PayloadRetention) }},
		{"purge_interval", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &t.PurgeInterval) }},
	}, nil)
	for _, blk := range b.Body.Blocks {
		if blk.Type != "source" {
			d.unknownBlock(blk, p, "source")
			continue
		}
		if len(blk.Labels) != 1 {
			d.add(d.pos(blk.DefRange().Start), p.attr("source").show, `needs one label, the source name: source "polar" { ... }`)
			continue
		}
		src := TelemetrySource{Name: blk.Labels[0], Pos: d.pos(blk.DefRange().Start)}
		sp := p.block("source", src.Name, len(t.Sources))
		d.at[sp.key+".name"] = d.pos(blk.LabelRanges[0].Start)
		d.attributes(blk.Body, sp, []field{
			{"secret", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &src.Secret) }},
			{"clock_offset", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &src.ClockOffset) }},
			{"stream", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &src.Stream) }},
		}, nil)
		d.blocks(blk.Body, sp)
		t.Sources = append(t.Sources, src)
	}
}

func (d *decoder) analytics(b *hclsyntax.Block, p path, c *Config) {
	an := &c.Analytics
	d.attributes(b.Body, p, []field{
		{"au", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &an.AU) }},
		{"au_plugin", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &an.AUPlugin) }},
		{"semantic_plugin", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &an.SemanticPlugin) }},
		{"min_frames", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &an.MinFrames) }},
	}, nil)
	seen := map[string]*hclsyntax.Block{}
	for _, blk := range b.Body.Blocks {
		switch blk.Type {
		case "physiology":
			if !d.once(blk, p, seen) || !d.noLabels(blk, p) {
				continue
			}
			pp, ph := p.attr("physiology"), &an.Physiology
			d.attributes(blk.Body, pp, []field{
				{"window", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &ph.Window) }},
				{"stale_after", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &ph.StaleAfter) }},
				{"absent_after", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &ph.AbsentAfter) }},
				{"min_intervals", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &ph.MinIntervals) }},
				{"subjects", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &ph.Subjects) }},
			}, nil)
			d.blocks(blk.Body, pp)
		case "comodulation":
			if !d.once(blk, p, seen) || !d.noLabels(blk, p) {
				continue
			}
			cp := p.attr("comodulation")
			cm := &CoModulation{Window: defaultCoModWindow, MinSamples: defaultCoModMinSamples}
			d.attributes(blk.Body, cp, []field{
				{"a", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &cm.A) }},
				{"b", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &cm.B) }},
				{"window", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &cm.Window) }},
				{"min_samples", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &cm.MinSamples) }},
			}, nil)
			d.blocks(blk.Body, cp)
			an.CoModulation = cm
		default:
			d.unknownBlock(blk, p, "physiology", "comodulation")
		}
	}
}

func (d *decoder) experiment(b *hclsyntax.Block, parent path, c *Config) {
	if len(b.Labels) != 1 {
		d.add(d.pos(b.DefRange().Start), "experiment", `needs one label, the experiment name: experiment "greeting" { ... }`)
		return
	}
	e := Experiment{Name: b.Labels[0], Assignment: defaultAssignment, PriorAlpha: 1, PriorBeta: 1,
		Pos: d.pos(b.DefRange().Start)}
	p := parent.block("experiment", e.Name, len(c.Experiments))
	d.at[p.key+".name"] = d.pos(b.LabelRanges[0].Start)
	d.attributes(b.Body, p, []field{
		{"arms", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &e.Arms) }},
		{"assignment", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &e.Assignment) }},
		{"schedule", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &e.Schedule) }},
		{"prior_alpha", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &e.PriorAlpha) }},
		{"prior_beta", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &e.PriorBeta) }},
	}, nil)
	if _, ok := b.Body.Attributes["arms"]; !ok {
		d.add(e.Pos, p.show, `missing required attribute "arms"`)
	}
	d.blocks(b.Body, p)
	c.Experiments = append(c.Experiments, e)
}

func (d *decoder) enrichment(b *hclsyntax.Block, p path, c *Config) {
	en := &c.Enrichment
	d.attributes(b.Body, p, []field{
		{"attempts", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &en.Attempts) }},
		{"backoff", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &en.Backoff) }},
		{"workers", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &en.Workers) }},
	}, nil)
	d.blocks(b.Body, p)
}

// auName is an au plugin field stem: au01 .. au45.
var auName = regexp.MustCompile(`^au[0-9]{2}$`)

// seriesName is a co-modulation series.
var seriesName = regexp.MustCompile(`^(physio:[A-Za-z0-9_.-]{1,64}|au:face[0-9]{1,4}\.au[0-9]{2}(_c)?)$`)

// validateAnalytics checks the telemetry, analytics, experiment and
// enrichment blocks; streams are known by then.
func (d *decoder) validateAnalytics(c *Config) {
	top := path{}
	tp := top.attr("telemetry")
	t := &c.Telemetry
	d.durationIn(tp.attr("tolerance"), t.Tolerance, time.Second, time.Hour, "1s..1h")
	d.intIn(tp.attr("max_body"), d.fileStart(), t.MaxBody, 1024, 64<<20)
	d.intIn(tp.attr("max_events"), d.fileStart(), t.MaxEvents, 1, 100000)
	d.durationIn(tp.attr("payload_retention"), t.PayloadRetention, time.Minute, 87600*time.Hour, "1m..87600h")
	d.durationIn(tp.attr("purge_interval"), t.PurgeInterval, time.Second, 24*time.Hour, "1s..24h")
	streams := map[string]bool{}
	for _, s := range c.Streams {
		streams[s.ID] = true
	}
	firstSource := map[string]Pos{}
	for i := range t.Sources {
		s := &t.Sources[i]
		sp := tp.block("source", s.Name, i)
		if !validName(s.Name) {
			d.add(d.where(path{key: sp.key + ".name"}, s.Pos), sp.show, "name must be 1..64 characters of [A-Za-z0-9_-]")
		}
		if first, dup := firstSource[s.Name]; dup {
			d.add(s.Pos, sp.show, fmt.Sprintf("duplicate source name (first defined at %s)", first))
		} else {
			firstSource[s.Name] = s.Pos
		}
		secret := sp.attr("secret")
		switch {
		case s.Secret == "":
			d.add(d.where(secret, s.Pos), secret.show, fmt.Sprintf(
				"is required: the HMAC key the source signs with (or set %s)", SecretEnv(s.Name)))
		case len(s.Secret) < 16:
			// Never quote the secret.
			d.add(d.where(secret, s.Pos), secret.show, "must be at least 16 characters")
		}
		d.durationIn(sp.attr("clock_offset"), s.ClockOffset, -time.Hour, time.Hour, "-1h..1h")
		if s.Stream != "" && !streams[s.Stream] {
			st := sp.attr("stream")
			d.add(d.where(st, s.Pos), st.show, fmt.Sprintf("%s is not a configured stream", quoteShort(s.Stream)))
		}
	}

	ap := top.attr("analytics")
	an := &c.Analytics
	if !auName.MatchString(an.AU) {
		d.add(d.where(ap.attr("au"), d.fileStart()), ap.attr("au").show,
			fmt.Sprintf(`%s is not an action unit field of the au plugin (au01..au45, e.g. "au12")`, quoteShort(an.AU)))
	}
	for _, f := range []struct {
		name string
		v    string
	}{{"au_plugin", an.AUPlugin}, {"semantic_plugin", an.SemanticPlugin}} {
		if !validName(f.v) {
			d.add(d.where(ap.attr(f.name), d.fileStart()), ap.attr(f.name).show, "must be a plugin name: 1..64 characters of [A-Za-z0-9_-]")
		}
	}
	d.intIn(ap.attr("min_frames"), d.fileStart(), an.MinFrames, 1, 10000)
	pp, ph := ap.attr("physiology"), &an.Physiology
	d.durationIn(pp.attr("window"), ph.Window, 10*time.Second, 10*time.Minute, "10s..10m")
	d.durationIn(pp.attr("stale_after"), ph.StaleAfter, time.Second, 10*time.Minute, "1s..10m")
	d.durationIn(pp.attr("absent_after"), ph.AbsentAfter, time.Second, time.Hour, "1s..1h")
	if ph.AbsentAfter <= ph.StaleAfter {
		d.add(d.where(pp.attr("absent_after"), d.fileStart()), pp.attr("absent_after").show,
			fmt.Sprintf("must be more than stale_after (%s), got %s", ph.StaleAfter, ph.AbsentAfter))
	}
	d.intIn(pp.attr("min_intervals"), d.fileStart(), ph.MinIntervals, 3, 1000)
	if cm := an.CoModulation; cm != nil {
		cp := ap.attr("comodulation")
		for _, f := range []struct {
			name string
			v    string
		}{{"a", cm.A}, {"b", cm.B}} {
			if !seriesName.MatchString(f.v) {
				d.add(d.where(cp.attr(f.name), d.fileStart()), cp.attr(f.name).show, fmt.Sprintf(
					`%s is not a series: use "physio:SUBJECT" or "au:faceN.auXX"`, quoteShort(f.v)))
			}
		}
		if cm.A != "" && cm.A == cm.B {
			d.add(d.where(cp.attr("b"), d.fileStart()), cp.attr("b").show, "must differ from a")
		}
		d.durationIn(cp.attr("window"), cm.Window, 10*time.Second, time.Hour, "10s..1h")
		d.intIn(cp.attr("min_samples"), d.fileStart(), cm.MinSamples, 3, 100000)
	}

	firstExp := map[string]Pos{}
	for i := range c.Experiments {
		d.validateExperiment(&c.Experiments[i], top.block("experiment", c.Experiments[i].Name, i), firstExp)
	}

	ep := top.attr("enrichment")
	d.intIn(ep.attr("attempts"), d.fileStart(), c.Enrichment.Attempts, 1, 20)
	d.durationIn(ep.attr("backoff"), c.Enrichment.Backoff, 10*time.Millisecond, time.Minute, "10ms..1m")
	d.intIn(ep.attr("workers"), d.fileStart(), c.Enrichment.Workers, 1, 16)
}

func (d *decoder) validateExperiment(e *Experiment, p path, first map[string]Pos) {
	if !validName(e.Name) {
		d.add(d.where(path{key: p.key + ".name"}, e.Pos), p.show, "name must be 1..64 characters of [A-Za-z0-9_-]")
	}
	if f, dup := first[e.Name]; dup {
		d.add(e.Pos, p.show, fmt.Sprintf("duplicate experiment name (first defined at %s)", f))
	} else {
		first[e.Name] = e.Pos
	}
	arms := p.attr("arms")
	if _, set := d.at[arms.key]; set && (len(e.Arms) < 2 || len(e.Arms) > 64) {
		d.add(d.where(arms, e.Pos), arms.show, fmt.Sprintf("must list 2..64 arms, got %d", len(e.Arms)))
	}
	seen := map[string]bool{}
	for i, a := range e.Arms {
		ap := arms.index(i)
		switch {
		case !validName(a):
			d.add(d.where(ap, d.where(arms, e.Pos)), ap.show, fmt.Sprintf("%s is not an arm name: 1..64 characters of [A-Za-z0-9_-]", quoteShort(a)))
		case seen[a]:
			d.add(d.where(ap, d.where(arms, e.Pos)), ap.show, fmt.Sprintf("duplicate arm %s", quoteShort(a)))
		}
		seen[a] = true
	}
	asg := p.attr("assignment")
	if e.Assignment != "thompson" && e.Assignment != "schedule" {
		d.add(d.where(asg, e.Pos), asg.show, fmt.Sprintf(`must be "thompson" or "schedule", got %s`, quoteShort(e.Assignment)))
	}
	sp := p.attr("schedule")
	if _, set := d.at[sp.key]; set {
		if e.Assignment != "schedule" {
			d.add(d.where(sp, e.Pos), sp.show, `is only used with assignment = "schedule"`)
		}
		if len(e.Schedule) == 0 {
			d.add(d.where(sp, e.Pos), sp.show, "must not be empty")
		}
		for i, a := range e.Schedule {
			if !slices.Contains(e.Arms, a) {
				ip := sp.index(i)
				d.add(d.where(ip, d.where(sp, e.Pos)), ip.show, fmt.Sprintf("%s is not one of the arms %s", quoteShort(a), strings.Join(e.Arms, ", ")))
			}
		}
	} else {
		e.Schedule = slices.Clone(e.Arms)
	}
	d.intIn(p.attr("prior_alpha"), e.Pos, e.PriorAlpha, 1, 1000)
	d.intIn(p.attr("prior_beta"), e.Pos, e.PriorBeta, 1, 1000)
}

// SecretEnv is the environment variable that overrides a telemetry source's
// secret: LSIE_TELEMETRY_SECRET_ and the name upper-cased, - as _.
func SecretEnv(source string) string {
	return "LSIE_TELEMETRY_SECRET_" + strings.ToUpper(strings.ReplaceAll(source, "-", "_"))
}
