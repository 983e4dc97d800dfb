package config

import (
	"fmt"
	"io"
	"os"

	"github.com/lsie-mlf/lsie/host/source"
)

// validateImage checks a stream's image block against its source and hands
// the rate to capture through the parsed source: an image block belongs to
// a file source, and a file that is a still image needs one. Capture finds
// a still image itself too (a file replaced after the check); this catches
// it where `config check` can say so.
func (d *decoder) validateImage(s *Stream, p path) {
	srcPos, parsed := d.at[p.attr("source").key]
	parsed = parsed && s.Source.Kind != "" // a source that failed to parse is reported already
	ip := p.attr("image")
	if at, set := d.at[ip.key]; set {
		d.intIn(ip.attr("fps"), at, s.Image.FPS, minFPS, maxFPS)
		if parsed && s.Source.Kind != source.KindFile {
			d.add(at, ip.show, fmt.Sprintf("applies to a file source only, not to a %s source", s.Source.Kind))
		}
	}
	if !parsed || s.Source.Kind != source.KindFile {
		return
	}
	s.Source.ImageFPS = s.Image.FPS
	if format := stillImageFormat(s.Source.Path); format != "" && s.Image.FPS == 0 {
		d.add(srcPos, p.attr("source").show, fmt.Sprintf(
			"%q is a still image (%s), not a video: add image { fps = N } to the stream to analyse it as a video of that rate",
			s.Source.Redacted(), format))
	}
}

// imageSignatures are the first bytes of the still-image formats GStreamer
// decodes; "?" matches any byte.
var imageSignatures = []struct {
	format string
	magic  []byte
}{
	{"PNG", []byte("\x89PNG\r\n\x1a\n")},
	{"JPEG", []byte("\xff\xd8\xff")},
	{"GIF", []byte("GIF87a")},
	{"GIF", []byte("GIF89a")},
	{"WebP", []byte("RIFF????WEBP")},
}

// stillImageFormat names the still-image format the file at path starts
// with, or "" (a video, or unreadable: source.ParseIn reports that).
func stillImageFormat(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 12)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	for _, sig := range imageSignatures {
		if matchMagic(head, sig.magic) {
			return sig.format
		}
	}
	return ""
}

// matchMagic reports whether head starts with magic, where '?' in magic
// matches any byte.
func matchMagic(head, magic []byte) bool {
	if len(head) < len(magic) {
		return false
	}
	for i, b := range magic {
		if b != '?' && head[i] != b {
			return false
		}
	}
	return true
}
