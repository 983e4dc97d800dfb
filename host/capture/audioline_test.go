package capture

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// lineEvent is one chunk or gap an audioLine produced.
type lineEvent struct {
	gap    bool
	first  int64
	n      int64
	reason string
	// v is the value of the chunk's first sample.
	v int16
}

type fakeOut struct {
	events    []lineEvent
	discarded int
}

func (o *fakeOut) audioChunk(first int64, pcm []byte, n int) {
	if len(pcm) != 2*n {
		panic(fmt.Sprintf("chunk of %d samples with %d bytes", n, len(pcm)))
	}
	o.events = append(o.events, lineEvent{first: first, n: int64(n), v: int16(uint16(pcm[0]) | uint16(pcm[1])<<8)})
}

func (o *fakeOut) audioGap(first, n int64, reason string) {
	o.events = append(o.events, lineEvent{gap: true, first: first, n: n, reason: reason})
}

func (o *fakeOut) audioDiscard(n int) { o.discarded += n }

// ramp is n samples whose values count up from v (mod 2^16).
func ramp(v, n int) []byte {
	b := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		x := uint16(v + i)
		b[2*i], b[2*i+1] = byte(x), byte(x>>8)
	}
	return b
}

// at is the running time of sample i.
func at(i int64) time.Duration { return sampleTime(i) }

func TestAudioLineRechunks(t *testing.T) {
	o := &fakeOut{}
	l := newAudioLine(o)
	// Odd buffer sizes, each timestamped where the count says.
	var next int64
	for _, n := range []int{441, 1, 3000, 7, 1551, 2} {
		l.push(at(next), ramp(int(next), n), next == 0)
		next += int64(n)
	}
	l.flush()
	want := []lineEvent{
		{first: 0, n: 1600, v: 0},
		{first: 1600, n: 1600, v: 1600},
		{first: 3200, n: 1600, v: 3200},
		{first: 4800, n: 202, v: 4800},
	}
	if !reflect.DeepEqual(o.events, want) {
		t.Fatalf("events %+v\nwant %+v", o.events, want)
	}
	if next != 5002 || l.end() != 5002 {
		t.Fatalf("next %d end %d", next, l.end())
	}
}

func TestAudioLineGapsAndOverlaps(t *testing.T) {
	tests := []struct {
		name    string
		push    func(l *audioLine)
		want    []lineEvent
		discard int
	}{
		{
			name: "late start is a gap from 0",
			push: func(l *audioLine) { l.push(at(8000), ramp(0, 1600), true) },
			want: []lineEvent{{gap: true, first: 0, n: 8000, reason: GapStart}, {first: 8000, n: 1600, v: 0}},
		},
		{
			name: "start within tolerance is sample 0",
			push: func(l *audioLine) { l.push(at(audioTolerance), ramp(0, 1600), true) },
			want: []lineEvent{{first: 0, n: 1600}},
		},
		{
			name: "jitter within tolerance keeps counting",
			push: func(l *audioLine) {
				l.push(0, ramp(0, 1000), true)
				l.push(at(1000+audioTolerance), ramp(1000, 1000), false)
				l.push(at(2000-audioTolerance), ramp(2000, 1200), false)
			},
			want: []lineEvent{{first: 0, n: 1600}, {first: 1600, n: 1600, v: 1600}},
		},
		{
			name: "discont ahead: short chunk, gap, continue there",
			push: func(l *audioLine) {
				l.push(0, ramp(0, 1000), true)
				l.push(at(1800), ramp(1000, 1600), true)
			},
			want: []lineEvent{
				{first: 0, n: 1000},
				{gap: true, first: 1000, n: 800, reason: GapDiscont},
				{first: 1800, n: 1600, v: 1000},
			},
		},
		{
			name: "unflagged jump is dropped",
			push: func(l *audioLine) {
				l.push(0, ramp(0, 1600), true)
				l.push(at(1600+audioTolerance+1), ramp(1600, 1600), false)
			},
			want: []lineEvent{
				{first: 0, n: 1600},
				{gap: true, first: 1600, n: audioTolerance + 1, reason: GapDropped},
				{first: 1600 + audioTolerance + 1, n: 1600, v: 1600},
			},
		},
		{
			name: "overlap is trimmed, never goes back",
			push: func(l *audioLine) {
				l.push(0, ramp(0, 1000), true)
				// Starts 320 samples (20 ms) before the count: those are dropped.
				l.push(at(680), ramp(5000, 920+1600), true)
			},
			want:    []lineEvent{{first: 0, n: 1600}, {first: 1600, n: 1600, v: 5000 + 320 + 600}},
			discard: 320,
		},
		{
			name: "buffer wholly behind is dropped",
			push: func(l *audioLine) {
				l.push(0, ramp(0, 1600), true)
				l.push(at(100), ramp(0, 800), true)
				l.push(at(1600), ramp(1600, 1600), false)
			},
			want:    []lineEvent{{first: 0, n: 1600}, {first: 1600, n: 1600, v: 1600}},
			discard: 800,
		},
		{
			name:    "negative running time is trimmed",
			push:    func(l *audioLine) { l.push(-at(100), ramp(0, 1700), true) },
			want:    []lineEvent{{first: 0, n: 1600, v: 100}},
			discard: 100,
		},
		{
			name: "loop seam: short track leaves a loop_seam gap, next pass on the seam",
			push: func(l *audioLine) {
				l.push(0, ramp(0, 1000), true)
				l.flush()
				l.rebase(1600)
				l.push(0, ramp(7, 1600), true)
				// A pass whose audio starts late: the gap is the seam's too.
				l.rebase(3200)
				l.push(at(160), ramp(9, 1600), true)
			},
			want: []lineEvent{
				{first: 0, n: 1000},
				{gap: true, first: 1000, n: 600, reason: GapLoopSeam},
				{first: 1600, n: 1600, v: 7},
				{gap: true, first: 3200, n: 160, reason: GapLoopSeam},
				{first: 3360, n: 1600, v: 9},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &fakeOut{}
			l := newAudioLine(o)
			tc.push(&l)
			// v is only checked where the test sets it on a chunk.
			for i := range o.events {
				if i < len(tc.want) && tc.want[i].v == 0 && !tc.want[i].gap {
					o.events[i].v = 0
				}
			}
			if !reflect.DeepEqual(o.events, tc.want) {
				t.Fatalf("events %+v\nwant   %+v", o.events, tc.want)
			}
			if o.discarded != tc.discard {
				t.Errorf("discarded %d, want %d", o.discarded, tc.discard)
			}
			// Chunks and gaps tile the line.
			var end int64
			for i, e := range o.events {
				if e.first != end {
					t.Errorf("event %d starts at %d, want %d", i, e.first, end)
				}
				end = e.first + e.n
			}
		})
	}
}

func TestSampleIndex(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 0}, {62500, 1}, {31249, 0}, {31250, 1}, {time.Second, 16000},
		{-31250, 0}, {-31251, -1}, {-62500, -1}, {-100000, -2},
	}
	for _, tc := range tests {
		if got := sampleIndex(tc.d); got != tc.want {
			t.Errorf("sampleIndex(%d) = %d, want %d", tc.d, got, tc.want)
		}
	}
	if got := sampleCeil(62501); got != 2 {
		t.Errorf("sampleCeil(62501) = %d", got)
	}
	for _, tc := range []struct {
		total   int64
		spb, nb int
	}{{32000, 1600, 20}, {16016, 1456, 11}, {7, 7, 1}, {0, 1, 1}, {1601, 1, 1601}} {
		if spb, nb := testAudioBuffers(tc.total); spb != tc.spb || nb != tc.nb || tc.total > 0 && int64(spb*nb) != tc.total {
			t.Errorf("testAudioBuffers(%d) = %d x %d, want %d x %d", tc.total, spb, nb, tc.spb, tc.nb)
		}
	}
}

func TestTimelineProgressWithAudio(t *testing.T) {
	const p = 200 * time.Millisecond
	tl := timeline{period: p}
	step := func() (time.Duration, bool) {
		q, ok := tl.next()
		if ok {
			tl.advance(q)
		}
		return q, ok
	}
	tl.setAudio(audioWait)
	if _, _, ok := tl.frame(0, 2, 2); !ok {
		t.Fatal("frame rejected")
	}
	if got, ok := step(); ok {
		t.Fatalf("progress %v while audio may still come", got)
	}
	tl.setAudio(audioOn)
	if got, ok := step(); ok {
		t.Fatalf("progress %v before any audio", got)
	}
	tl.audioChunk(0, 1600)
	if got, ok := step(); !ok || got != 100*time.Millisecond {
		t.Fatalf("step = %v %v, want 100ms (audio behind)", got, ok)
	}
	tl.audioChunk(1600, 1600)
	tl.audioGap(3200, 1600)
	if got, ok := step(); !ok || got != p {
		t.Fatalf("step = %v %v, want 200ms (video behind)", got, ok)
	}
	tl.branchEOS(false)
	if got, ok := step(); !ok || got != 300*time.Millisecond {
		t.Fatalf("step = %v %v, want 300ms (video ended)", got, ok)
	}
	if tl.audioBehind(300 * time.Millisecond) {
		t.Fatal("audio behind while it has not ended")
	}
	tl.branchEOS(true)
	if !tl.audioBehind(301*time.Millisecond) || tl.audioBehind(300*time.Millisecond) {
		t.Fatal("ended audio at 300ms: behind progress past it only")
	}
	if got, ok := step(); ok {
		t.Fatalf("step = %v after both ended; EOS reports", got)
	}
	// The pass reached 300 ms of audio; 250 ms would be its reported length.
	if got := tl.end(250 * time.Millisecond); got != 300*time.Millisecond {
		t.Fatalf("end = %v, want 300ms", got)
	}
	// Seams fall on whole samples.
	tl.audioChunk(4800, 1)
	if got := tl.end(0); got != sampleTime(4801) {
		t.Fatalf("end = %v, want %v", got, sampleTime(4801))
	}
	st := tl.stats()
	if st.AudioSamples != 3201 || st.AudioChunks != 3 || st.AudioGaps != 1 || st.AudioGapSamples != 1600 {
		t.Errorf("stats %+v", st)
	}
}
