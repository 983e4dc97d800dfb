// Command graphplugin is a test plugin for the plugin graph. Its role is the
// name it is installed under:
//
//   - talker consumes audio and publishes "utterances" of utter_ms (default
//     500) of samples: transcript.partial@1 on every chunk, and
//     transcript.final@1 at each utterance end (fields utt, words; payload
//     {"words": [...]}), with progress held at the open utterance's start.
//     no_final="3,6" never publishes those utterances' finals (their last
//     partial is what the host must store); slow_ms=M sleeps per audio
//     record (a lossless stream's audio then waits for it). A restarted
//     process starts at the first sample it is handed.
//   - listener consumes transcript.final@1 and transcript.partial@1 and
//     answers each final with its utt and word count. slow_ms=M sleeps per
//     final; crash_at=N exits on the Nth final of a process's life when the
//     file crash_marker does not exist yet (it creates it: one crash).
//   - loopa and loopb consume each other's output (a cycle the host refuses).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lsie-mlf/lsie/sdk"
)

func main() { sdk.Serve(plugin{role: filepath.Base(os.Args[0])}) }

type plugin struct{ role string }

const (
	partialTopic = "transcript.partial@1"
	finalTopic   = "transcript.final@1"
)

func (p plugin) Manifest() sdk.Manifest {
	m := sdk.Manifest{Name: p.role, Version: "0.0.1", Attributes: []sdk.Attribute{}}
	slow := sdk.Attribute{Name: "slow_ms", Type: sdk.AttrInteger, Default: "0", Min: "0"}
	switch p.role {
	case "talker":
		m.Inputs, m.Outputs = []string{sdk.TopicAudioPCM16k}, []string{partialTopic, finalTopic}
		slow.Description = "sleep per audio record, in ms"
		m.Attributes = []sdk.Attribute{
			{Name: "utter_ms", Type: sdk.AttrInteger, Default: "500", Min: "1", Description: "length of each utterance, in ms of samples"},
			{Name: "no_final", Type: sdk.AttrString, Description: `utterance numbers, comma-separated ("3,6"), whose finals are never published`},
			slow,
		}
	case "listener":
		m.Inputs, m.Outputs = []string{finalTopic, partialTopic}, []string{"listener.utterance@1"}
		slow.Description = "sleep per final, in ms"
		m.Attributes = []sdk.Attribute{
			{Name: "crash_at", Type: sdk.AttrInteger, Default: "0", Min: "0", Description: "exit on the process's Nth final while crash_marker does not exist; 0: never"},
			{Name: "crash_marker", Type: sdk.AttrString, Description: "file created by the one crash crash_at causes"},
			slow,
		}
	case "loopa":
		m.Inputs, m.Outputs = []string{"loop.b@1"}, []string{"loop.a@1"}
	case "loopb":
		m.Inputs, m.Outputs = []string{"loop.a@1"}, []string{"loop.b@1"}
	}
	return m
}

func (p plugin) OpenStream(info sdk.StreamInfo) (sdk.Stream, error) {
	a := info.Attrs
	slow := time.Duration(a.Int("slow_ms")) * time.Millisecond
	switch p.role {
	case "talker":
		skip := map[int64]bool{}
		if list := a.String("no_final"); list != "" {
			for _, f := range strings.Split(list, ",") {
				n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
				if err != nil {
					return nil, sdk.Errorf("bad_input", "no_final: %v", err)
				}
				skip[n] = true
			}
		}
		return &talker{pub: info.Publisher, utter: int64(a.Int("utter_ms")) * 16, noFinal: skip, slow: slow}, nil
	case "listener":
		return &listener{slow: slow, crashAt: int64(a.Int("crash_at")), marker: a.String("crash_marker")}, nil
	default:
		return loop{}, nil
	}
}

// talker cuts the sample line into utterances of utter samples at 16 kHz.
type talker struct {
	pub   sdk.Publisher
	utter int64 // samples per utterance
	pos   int64 // next sample on the line
	parts int
	// started: pos was set from the first record. A restarted process is
	// handed the sample line from where its predecessor's progress was
	// (an utterance start), not from sample 0.
	started bool
	// noFinal are utterances whose final is never published.
	noFinal map[int64]bool
	slow    time.Duration
}

func (t *talker) at(sample int64) time.Duration { return time.Duration(sample) * time.Second / 16000 }

func (t *talker) ProcessAudio(a *sdk.Audio) ([]sdk.Item, error) {
	if !t.started {
		t.started, t.pos = true, a.FirstSample
	}
	time.Sleep(t.slow)
	end := a.FirstSample + int64(len(a.Samples)) + a.GapSamples
	if a.End {
		end = a.FirstSample
	}
	for (t.pos/t.utter+1)*t.utter <= end {
		if err := t.final(t.pos / t.utter); err != nil {
			return nil, err
		}
		t.pos = (t.pos/t.utter + 1) * t.utter
	}
	t.pos = max(t.pos, end)
	if a.End && t.pos%t.utter != 0 {
		return nil, t.final(t.pos / t.utter) // the open utterance ends with the stream
	}
	if !a.End && t.pos%t.utter != 0 {
		t.parts++
		n := t.pos / t.utter
		return nil, t.pub.Publish(sdk.Message{Topic: partialTopic, PTS: t.at(n * t.utter), Duration: t.at(t.pos - n*t.utter),
			Text: fmt.Sprintf("utt %d part %d", n, t.parts)})
	}
	return nil, nil
}

func (t *talker) final(n int64) error {
	if t.noFinal[n] {
		return nil
	}
	start := t.at(n * t.utter)
	words := []map[string]any{{"w": "utt", "start": start.Seconds(), "conf": 0.9}, {"w": strconv.FormatInt(n, 10), "start": start.Seconds() + 0.1, "conf": 0.8}}
	payload, _ := json.Marshal(map[string]any{"words": words})
	return t.pub.Publish(sdk.Message{Topic: finalTopic, PTS: start, Duration: t.at(t.utter),
		Text: fmt.Sprintf("utt %d", n), Fields: sdk.Fields{"utt": float64(n), "words": 2}, Payload: payload})
}

// AudioProgress holds segments until the open utterance is published.
func (t *talker) AudioProgress() time.Duration { return t.at(t.pos / t.utter * t.utter) }

func (t *talker) Close() error { return nil }

var finals atomic.Int64

type listener struct {
	slow    time.Duration
	crashAt int64
	marker  string
}

func (l *listener) ProcessMessage(m *sdk.Message) (sdk.Answer, error) {
	if m.Topic == partialTopic {
		return sdk.Answer{Fields: sdk.Fields{"partial": 1}}, nil
	}
	n := finals.Add(1)
	if l.crashAt > 0 && n == l.crashAt && l.marker != "" {
		if _, err := os.Stat(l.marker); os.IsNotExist(err) {
			_ = os.WriteFile(l.marker, []byte("crashed\n"), 0o644)
			sdk.Logger().Error("listener: crashing on purpose", "final", n, "text", m.Text)
			os.Exit(3)
		}
	}
	time.Sleep(l.slow)
	var p struct {
		Words []map[string]any `json:"words"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return sdk.Answer{}, sdk.Errorf("bad_input", "payload: %v", err)
	}
	if m.Producer == "" || m.Text != fmt.Sprintf("utt %d", int64(m.Fields["utt"])) {
		return sdk.Answer{}, sdk.Errorf("bad_input", "message from %q reads %q for utt %v", m.Producer, m.Text, m.Fields["utt"])
	}
	// The answer's text and payload are stored with its fields.
	return sdk.Answer{Fields: sdk.Fields{"utt": m.Fields["utt"], "words": float64(len(p.Words))},
		Text: "heard " + m.Text, Payload: []byte(fmt.Sprintf(`{"words":%d}`, len(p.Words)))}, nil
}

func (l *listener) Close() error { return nil }

type loop struct{}

func (loop) ProcessMessage(*sdk.Message) (sdk.Answer, error) { return sdk.Answer{}, nil }
func (loop) Close() error                                    { return nil }
