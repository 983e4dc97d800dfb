package config

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/lsie-mlf/lsie/host/source"
)

// Limits on configured values; the field comments in config.go and
// configs/example.hcl state the same ranges.
const (
	minSegmentDuration = time.Second
	maxSegmentDuration = 300 * time.Second
	minMaxCloseDelay   = 100 * time.Millisecond
	maxMaxCloseDelay   = 10 * time.Minute
	minFPS, maxFPS     = 1, 60
	minWidth, maxWidth = 16, 7680
	minWindow          = 1
	maxWindow          = 64
	maxNameLen         = 64
)

// validate checks the decoded configuration, defaults included, and parses
// every stream's source. It runs after decoding, so it sees the final values.
func (d *decoder) validate(c *Config) {
	top := path{}
	d.durationIn(top.attr("segment").attr("duration"), c.Segment.Duration,
		minSegmentDuration, maxSegmentDuration, "1s..300s")
	d.durationIn(top.attr("segment").attr("max_close_delay"), c.Segment.MaxCloseDelay,
		minMaxCloseDelay, maxMaxCloseDelay, "100ms..10m")
	if c.Store.SQLite == "" {
		d.add(d.where(top.attr("store").attr("sqlite"), d.fileStart()), "store.sqlite", "must not be empty")
	}
	if c.API.Listen != "" {
		if msg := checkListen(c.API.Listen); msg != "" {
			d.add(d.where(top.attr("api").attr("listen"), d.fileStart()), "api.listen", msg)
		}
	}
	firstStream := map[string]Pos{}
	for i := range c.Streams {
		s := &c.Streams[i]
		p := top.block("stream", s.ID, i)
		if !validName(s.ID) {
			d.add(d.where(p.attr("id"), s.Pos), p.show,
				fmt.Sprintf("id must be 1..%d characters of A-Z a-z 0-9 _ -", maxNameLen))
		}
		if first, dup := firstStream[s.ID]; dup {
			d.add(s.Pos, p.show, fmt.Sprintf("duplicate stream id (first defined at %s)", first))
		} else {
			firstStream[s.ID] = s.Pos
		}
		d.validateStream(s, p)
	}
}

func (d *decoder) validateStream(s *Stream, p path) {
	if pos, ok := d.at[p.attr("source").key]; ok {
		spec, err := source.ParseIn(s.Source.URI, d.baseDir)
		if err != nil {
			d.add(pos, p.attr("source").show, err.Error())
		} else {
			s.Source = spec
		}
	}
	vp := p.attr("video")
	d.intIn(vp.attr("fps"), s.Pos, s.Video.FPS, minFPS, maxFPS)
	d.intIn(vp.attr("max_width"), s.Pos, s.Video.MaxWidth, minWidth, maxWidth)
	firstPlugin := map[string]Pos{}
	for j := range s.Plugins {
		pr := &s.Plugins[j]
		pp := p.block("plugin", pr.Name, j)
		if !validName(pr.Name) {
			d.add(d.where(pp.attr("name"), pr.Pos), pp.show,
				fmt.Sprintf("name must be 1..%d characters of A-Z a-z 0-9 _ -", maxNameLen))
		}
		if first, dup := firstPlugin[pr.Name]; dup {
			d.add(pr.Pos, pp.show, fmt.Sprintf("duplicate plugin in this stream (first defined at %s)", first))
		} else {
			firstPlugin[pr.Name] = pr.Pos
		}
		d.intIn(pp.attr("window"), pr.Pos, pr.Window, minWindow, maxWindow)
	}
}

// where is the position the file gave the value at p, or fallback when the
// value is a default.
func (d *decoder) where(p path, fallback Pos) Pos {
	if pos, ok := d.at[p.key]; ok {
		return pos
	}
	return fallback
}

func (d *decoder) intIn(p path, fallback Pos, v, lo, hi int) {
	if v < lo || v > hi {
		d.add(d.where(p, fallback), p.show, fmt.Sprintf("must be %d..%d, got %d", lo, hi, v))
	}
}

func (d *decoder) durationIn(p path, v, lo, hi time.Duration, bounds string) {
	if v < lo || v > hi {
		d.add(d.where(p, d.fileStart()), p.show, fmt.Sprintf("must be %s, got %s", bounds, v))
	}
}

// checkListen returns what is wrong with a host:port listen address, or "".
func checkListen(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf(`%s is not host:port (e.g. "127.0.0.1:8080"; "" disables the API)`, quoteShort(addr))
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("port %s must be a number 0..65535", quoteShort(port))
	}
	return ""
}

// validName reports whether s is a valid stream id or plugin name:
// 1..64 characters of [A-Za-z0-9_-].
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}
