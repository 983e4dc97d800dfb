package events

import (
	"fmt"
	"testing"
)

// BenchmarkPublish measures one publish fanned out to n subscribers; the
// subscribers' buffers are emptied outside the timer every 1024 events, so
// none is dropped and only the publisher's cost is counted.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{0, 1, 8, 64} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			bus := New()
			defer bus.Close()
			subs := make([]*Subscription, n)
			for i := range subs {
				subs[i] = bus.Subscribe(1024)
			}
			e := Event{Type: Result, Stream: "cam1", Plugin: "au", Data: map[string]float64{"face1.au12": 1}}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if i%1024 == 1023 {
					b.StopTimer()
					for _, s := range subs {
						for len(s.C()) > 0 {
							<-s.C()
						}
					}
					b.StartTimer()
				}
				bus.Publish(e)
			}
			if st := bus.Stats(); st.Dropped != 0 {
				b.Fatalf("%d subscribers dropped", st.Dropped)
			}
		})
	}
}
