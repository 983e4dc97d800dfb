package config

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/lsie-mlf/lsie/host/source"
	"github.com/lsie-mlf/lsie/sdk/validate"
)

// decoder walks the HCL body by hand, so that every unknown name can be
// reported with its path, and collects diagnostics instead of stopping.
type decoder struct {
	file string
	// baseDir anchors relative file sources: the config file's directory.
	baseDir string
	diags   Diagnostics
	// at records where each value set by the file came from, keyed by
	// path.key, for validation to point at.
	at map[string]Pos
	// json is set when decoding a stream from JSON (ParseStream): paths
	// then read as JSON paths (plugins[0].window).
	json bool
	// policy is the sources policy every stream's source must pass; nil
	// allows every source.
	policy *source.Policy
	// allow holds the entries of sources.allow until validate parses them;
	// allowSet tells an absent attribute from an empty list.
	allow    []string
	allowSet bool
	// notifyAllow holds notifications.allow until validate parses it.
	notifyAllow []string
}

// path names a place in the configuration twice: as the user reads it
// (`stream "cam1": video`, or `plugins[0].window` in JSON) and as a unique
// key (stream.0.video), which is the same for both syntaxes.
type path struct {
	show     string
	key      string
	labelled bool // the last element is a labelled block
	json     bool // show as a JSON path
}

// attr returns the path of the attribute name inside p.
func (p path) attr(name string) path {
	show := name
	if p.json && !validName(name) {
		show = "[" + strconv.Quote(name) + "]"
	}
	switch {
	case p.show == "":
	case p.json && show[0] == '[':
		show = p.show + show
	case p.labelled && !p.json:
		show = p.show + ": " + name
	default:
		show = p.show + "." + name
	}
	key := name
	if p.key != "" {
		key = p.key + "." + name
	}
	return path{show: show, key: key, json: p.json}
}

// block returns the path of a labelled block inside p; index tells apart
// blocks of one type, whose labels may repeat. In JSON a block is an element
// of the list named by its type in the plural: plugins[0].
func (p path) block(typ, label string, index int) path {
	q := p.attr(typ)
	if p.json {
		q = p.attr(typ + "s").index(index)
	} else {
		q.show = fmt.Sprintf("%s %q", q.show, label)
	}
	q.key = fmt.Sprintf("%s.%d", p.attr(typ).key, index)
	q.labelled = true
	return q
}

// index returns the path of element i of the list at p.
func (p path) index(i int) path {
	return path{show: fmt.Sprintf("%s[%d]", p.show, i), key: fmt.Sprintf("%s[%d]", p.key, i), json: p.json}
}

// field is one attribute a block accepts and how to decode it.
type field struct {
	name   string
	decode func(a *hclsyntax.Attribute, p path)
}

func (d *decoder) root(body *hclsyntax.Body, c *Config) {
	top := path{}
	d.attributes(body, top, nil, nil)
	seen := map[string]*hclsyntax.Block{}
	for _, b := range body.Blocks {
		switch b.Type {
		case "segment", "store", "api", "sources":
			if !d.once(b, top, seen) || !d.noLabels(b, top) {
				continue
			}
			p := top.attr(b.Type)
			switch b.Type {
			case "segment":
				d.attributes(b.Body, p, []field{
					{"duration", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &c.Segment.Duration) }},
					{"max_close_delay", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &c.Segment.MaxCloseDelay) }},
				}, nil)
			case "store":
				d.attributes(b.Body, p, []field{
					{"sqlite", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &c.Store.SQLite) }},
					{"postgres", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &c.Store.Postgres) }},
					{"spool", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &c.Store.Spool) }},
					{"spool_max_mb", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &c.Store.SpoolMaxMB) }},
				}, nil)
			case "api":
				d.attributes(b.Body, p, []field{
					{"listen", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &c.API.Listen) }},
					{"token", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &c.API.Token) }},
					{"allowed_hosts", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &c.API.AllowedHosts) }},
				}, nil)
			case "sources":
				d.attributes(b.Body, p, []field{
					{"allow", func(a *hclsyntax.Attribute, p path) {
						d.strList(a, p, &d.allow)
						_, d.allowSet = d.at[p.key]
					}},
				}, nil)
			}
			d.blocks(b.Body, p)
		case "telemetry", "analytics", "enrichment":
			if !d.once(b, top, seen) || !d.noLabels(b, top) {
				continue
			}
			p := top.attr(b.Type)
			switch b.Type {
			case "telemetry":
				d.telemetry(b, p, c)
			case "analytics":
				d.analytics(b, p, c)
			case "enrichment":
				d.enrichment(b, p, c)
			}
		case "stream":
			d.stream(b, top, c)
		case "experiment":
			d.experiment(b, top, c)
		case "rule":
			d.rule(b, top, c)
		case "notify":
			d.notify(b, top, c)
		case "notifications":
			if !d.once(b, top, seen) || !d.noLabels(b, top) {
				continue
			}
			np := top.attr("notifications")
			d.attributes(b.Body, np, []field{
				{"allow", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &d.notifyAllow) }},
			}, nil)
			d.blocks(b.Body, np)
		default:
			d.unknownBlock(b, top, "segment", "store", "api", "sources", "stream",
				"telemetry", "analytics", "experiment", "enrichment", "rule", "notify", "notifications")
		}
	}
}

func (d *decoder) stream(b *hclsyntax.Block, parent path, c *Config) {
	if len(b.Labels) != 1 {
		d.add(d.pos(b.DefRange().Start), "stream", `needs one label, the stream id: stream "cam1" { ... }`)
		return
	}
	s := defaultStream(b.Labels[0], d.pos(b.DefRange().Start))
	p := parent.block("stream", s.ID, len(c.Streams))
	d.at[p.key+".id"] = d.pos(b.LabelRanges[0].Start)
	d.attributes(b.Body, p, []field{
		{"source", func(a *hclsyntax.Attribute, p path) {
			var uri string
			if d.str(a, p, &uri) {
				s.Source = source.Spec{URI: uri} // validate parses it
			}
		}},
		{"realtime", func(a *hclsyntax.Attribute, p path) { d.boolean(a, p, &s.Realtime) }},
		{"loop", func(a *hclsyntax.Attribute, p path) { d.boolean(a, p, &s.Loop) }},
	}, nil)
	if _, ok := b.Body.Attributes["source"]; !ok {
		d.add(s.Pos, p.show, `missing required attribute "source"`)
	}
	seen := map[string]*hclsyntax.Block{}
	for _, blk := range b.Body.Blocks {
		switch blk.Type {
		case "video":
			if !d.once(blk, p, seen) || !d.noLabels(blk, p) {
				continue
			}
			vp := p.attr("video")
			d.attributes(blk.Body, vp, []field{
				{"fps", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &s.Video.FPS) }},
				{"max_width", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &s.Video.MaxWidth) }},
				{"memory", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &s.Video.Memory) }},
				{"gpu", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &s.Video.GPU) }},
			}, nil)
			d.blocks(blk.Body, vp)
		case "image":
			if !d.once(blk, p, seen) || !d.noLabels(blk, p) {
				continue
			}
			ip := p.attr("image")
			d.at[ip.key] = d.pos(blk.TypeRange.Start)
			s.Image.FPS = defaultImageFPS
			d.attributes(blk.Body, ip, []field{
				{"fps", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &s.Image.FPS) }},
			}, nil)
			d.blocks(blk.Body, ip)
		case "plugin":
			d.plugin(blk, p, &s)
		case "zone":
			d.zone(blk, p, &s)
		default:
			d.unknownBlock(blk, p, "video", "image", "plugin", "zone")
		}
	}
	c.Streams = append(c.Streams, s)
}

func (d *decoder) plugin(b *hclsyntax.Block, parent path, s *Stream) {
	if len(b.Labels) != 1 {
		d.add(d.pos(b.DefRange().Start), parent.attr("plugin").show, `needs one label, the plugin name: plugin "visual" { ... }`)
		return
	}
	pr := defaultPlugin(b.Labels[0], d.pos(b.DefRange().Start))
	p := parent.block("plugin", pr.Name, len(s.Plugins))
	d.at[p.key+".name"] = d.pos(b.LabelRanges[0].Start)
	d.attributes(b.Body, p, []field{
		{"window", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &pr.Window) }},
		{"event_bound", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &pr.EventBound) }},
		{"version", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &pr.Version) }},
	}, func(a *hclsyntax.Attribute, p path) {
		if v, ok := d.scalar(a, p); ok {
			pr.Attributes[a.Name] = v
			if pr.AttrPos == nil {
				pr.AttrPos = map[string]Pos{}
			}
			pr.AttrPos[a.Name] = d.pos(a.NameRange.Start)
		}
	})
	seen := map[string]*hclsyntax.Block{}
	for _, blk := range b.Body.Blocks {
		if blk.Type != "gate" {
			d.unknownBlock(blk, p, "gate")
			continue
		}
		if !d.once(blk, p, seen) || !d.noLabels(blk, p) {
			continue
		}
		gp := p.attr("gate")
		g := &Gate{Pos: d.pos(blk.TypeRange.Start)}
		d.at[gp.key] = g.Pos
		d.attributes(blk.Body, gp, []field{
			{"motion", func(a *hclsyntax.Attribute, p path) { d.number(a, p, &g.Motion) }},
			{"every", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &g.Every) }},
			{"zones", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &g.Zones) }},
		}, nil)
		d.blocks(blk.Body, gp)
		pr.Gate = g
	}
	s.Plugins = append(s.Plugins, pr)
}

// rule decodes a `rule "NAME" { ... }` block.
func (d *decoder) rule(b *hclsyntax.Block, parent path, c *Config) {
	if len(b.Labels) != 1 {
		d.add(d.pos(b.DefRange().Start), "rule", `needs one label, the rule's name: rule "crowd_at_door" { ... }`)
		return
	}
	r := Rule{Name: b.Labels[0], Severity: "warning", Pos: d.pos(b.DefRange().Start)}
	p := parent.block("rule", r.Name, len(c.Rules))
	d.at[p.key+".name"] = d.pos(b.LabelRanges[0].Start)
	d.attributes(b.Body, p, []field{
		{"streams", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &r.Streams) }},
		{"when", func(a *hclsyntax.Attribute, p path) {
			if d.str(a, p, &r.When) {
				r.WhenPos = d.textStart(a.Expr)
			}
		}},
		{"for", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &r.For) }},
		{"cooldown", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &r.Cooldown) }},
		{"severity", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &r.Severity) }},
		{"message", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &r.Message) }},
	}, nil)
	d.blocks(b.Body, p)
	if _, ok := b.Body.Attributes["when"]; !ok {
		d.add(r.Pos, p.show, `missing required attribute "when" (the condition, a CEL expression)`)
	}
	c.Rules = append(c.Rules, r)
}

// notify decodes a `notify "NAME" { ... }` block.
func (d *decoder) notify(b *hclsyntax.Block, parent path, c *Config) {
	if len(b.Labels) != 1 {
		d.add(d.pos(b.DefRange().Start), "notify", `needs one label, the receiver's name: notify "ops" { ... }`)
		return
	}
	n := Notify{Name: b.Labels[0], RetryMin: defaultRetryMin, RetryMax: defaultRetryMax, MaxAttempts: defaultMaxAttempts,
		Pos: d.pos(b.DefRange().Start)}
	p := parent.block("notify", n.Name, len(c.Notify))
	d.at[p.key+".name"] = d.pos(b.LabelRanges[0].Start)
	d.attributes(b.Body, p, []field{
		{"url", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &n.URL) }},
		{"secret", func(a *hclsyntax.Attribute, p path) { d.str(a, p, &n.Secret) }},
		{"rules", func(a *hclsyntax.Attribute, p path) { d.strList(a, p, &n.Rules) }},
		{"retry_min", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &n.RetryMin) }},
		{"retry_max", func(a *hclsyntax.Attribute, p path) { d.duration(a, p, &n.RetryMax) }},
		{"max_attempts", func(a *hclsyntax.Attribute, p path) { d.integer(a, p, &n.MaxAttempts) }},
	}, nil)
	d.blocks(b.Body, p)
	c.Notify = append(c.Notify, n)
}

// textStart is where a string expression's text begins: after the opening
// quote, or on a heredoc's first line.
func (d *decoder) textStart(e hclsyntax.Expression) Pos {
	if t, ok := e.(*hclsyntax.TemplateExpr); ok && len(t.Parts) > 0 {
		return d.pos(t.Parts[0].Range().Start)
	}
	p := d.pos(e.Range().Start)
	p.Column++
	return p
}

// zone decodes a stream's `zone "NAME" { polygon = [[x, y], ...] }`.
func (d *decoder) zone(b *hclsyntax.Block, parent path, s *Stream) {
	if len(b.Labels) != 1 {
		d.add(d.pos(b.DefRange().Start), parent.attr("zone").show, `needs one label, the zone name: zone "door" { polygon = [[0.1, 0.2], ...] }`)
		return
	}
	z := Zone{Name: b.Labels[0], Pos: d.pos(b.DefRange().Start)}
	p := parent.block("zone", z.Name, len(s.Zones))
	d.at[p.key+".name"] = d.pos(b.LabelRanges[0].Start)
	d.attributes(b.Body, p, []field{
		{"polygon", func(a *hclsyntax.Attribute, p path) {
			if v, ok := d.value(a, p); ok {
				d.polygonVal(v, d.pos(a.NameRange.Start), p, &z.Polygon)
			}
		}},
	}, nil)
	d.blocks(b.Body, p)
	if _, ok := b.Body.Attributes["polygon"]; !ok {
		d.add(z.Pos, p.show, `missing required attribute "polygon"`)
	}
	s.Zones = append(s.Zones, z)
}

// attributes decodes the attributes of body in file order with fields; an
// attribute not among them goes to other, or is an error when other is nil.
func (d *decoder) attributes(body *hclsyntax.Body, p path, fields []field, other func(*hclsyntax.Attribute, path)) {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].NameRange.Start.Byte < attrs[j].NameRange.Start.Byte })
next:
	for _, a := range attrs {
		for _, f := range fields {
			if f.name == a.Name {
				f.decode(a, p.attr(a.Name))
				continue next
			}
		}
		if other != nil {
			other(a, p.attr(a.Name))
			continue
		}
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.name
		}
		hint := suggest(a.Name, names)
		if home, ok := homeBlock[a.Name]; ok && hint == "" {
			hint = fmt.Sprintf(" (it belongs in a %s block)", home)
		}
		d.add(d.pos(a.NameRange.Start), p.show, fmt.Sprintf("unknown attribute %q%s", a.Name, hint))
	}
}

// homeBlock names the block each known attribute belongs in, to point a
// user who put one at the wrong level to the right place.
var homeBlock = map[string]string{
	"duration": "segment", "max_close_delay": "segment",
	"sqlite": "store", "postgres": "store", "spool": "store", "spool_max_mb": "store", "listen": "api", "token": "api", "allowed_hosts": "api",
	"allow":  "sources",
	"source": "stream", "realtime": "stream", "loop": "stream",
	"fps": "video", "max_width": "video", "memory": "video",
	"window": "plugin", "version": "plugin", "event_bound": "plugin",
	"motion": "gate", "every": "gate", "zones": "gate", "polygon": "zone",
	"when": "rule", "for": "rule", "cooldown": "rule", "severity": "rule", "message": "rule",
	"tolerance": "telemetry", "max_body": "telemetry", "max_events": "telemetry",
	"payload_retention": "telemetry", "purge_interval": "telemetry",
	"secret": "source", "clock_offset": "source",
	"au": "analytics", "au_plugin": "analytics", "semantic_plugin": "analytics", "min_frames": "analytics",
	"stale_after": "physiology", "absent_after": "physiology", "min_intervals": "physiology", "subjects": "physiology",
	"min_samples": "comodulation",
	"arms":        "experiment", "assignment": "experiment", "schedule": "experiment",
	"prior_alpha": "experiment", "prior_beta": "experiment",
	"attempts": "enrichment", "backoff": "enrichment", "workers": "enrichment",
}

// blocks reports every block in body as unknown: for blocks that hold only
// attributes.
func (d *decoder) blocks(body *hclsyntax.Body, p path) {
	for _, b := range body.Blocks {
		d.unknownBlock(b, p)
	}
}

func (d *decoder) unknownBlock(b *hclsyntax.Block, p path, known ...string) {
	d.add(d.pos(b.TypeRange.Start), p.show, fmt.Sprintf("unknown block %q%s", b.Type, suggest(b.Type, known)))
}

// once reports a second block of a type that may appear once in p.
func (d *decoder) once(b *hclsyntax.Block, p path, seen map[string]*hclsyntax.Block) bool {
	if first, dup := seen[b.Type]; dup {
		d.add(d.pos(b.TypeRange.Start), p.attr(b.Type).show,
			fmt.Sprintf("duplicate block (first defined at %s)", d.pos(first.TypeRange.Start)))
		return false
	}
	seen[b.Type] = b
	return true
}

// noLabels reports labels on a block that takes none.
func (d *decoder) noLabels(b *hclsyntax.Block, p path) bool {
	if len(b.Labels) == 0 {
		return true
	}
	d.add(d.pos(b.LabelRanges[0].Start), p.attr(b.Type).show, fmt.Sprintf("block takes no labels, got %q", b.Labels[0]))
	return false
}

func (d *decoder) add(pos Pos, field, msg string) {
	d.diags = append(d.diags, Diagnostic{Pos: pos, Field: field, Message: msg})
}

// addErr adds a diagnostic that keeps err, the error it came from.
func (d *decoder) addErr(pos Pos, field, msg string, err error) {
	d.diags = append(d.diags, Diagnostic{Pos: pos, Field: field, Message: msg, err: err})
}

// addHCL adds HCL's own error diagnostics, at fallback when one has no subject.
func (d *decoder) addHCL(hds hcl.Diagnostics, field string, fallback Pos) {
	for _, hd := range hds {
		if hd.Severity != hcl.DiagError {
			continue
		}
		pos := fallback
		if hd.Subject != nil {
			pos = d.pos(hd.Subject.Start)
		}
		msg := hd.Summary
		if hd.Detail != "" {
			msg += ": " + hd.Detail
		}
		d.add(pos, field, msg)
	}
}

func (d *decoder) pos(p hcl.Pos) Pos {
	return Pos{File: d.file, Line: p.Line, Column: p.Column}
}

func (d *decoder) fileStart() Pos {
	return Pos{File: d.file, Line: 1, Column: 1}
}

// suggest returns ` (did you mean "x"?)` for the known name closest to name,
// or "" when none is close.
func suggest(name string, known []string) string {
	if best := validate.Nearest(name, known); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}
